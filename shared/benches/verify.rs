//! What verification costs: each scheme, beside the floor (a bare HMAC-SHA256 of the same bytes) and
//! the Standard Webhooks and Svix crates verifying the same `v1` delivery.
//!
//! Run with `cargo bench -p shared`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gemini_webhooks_aws::clock::{Clock, ManualClock, SystemClock};
use gemini_webhooks_aws::keys::{JwksCache, KeySet, jwks_document};
use gemini_webhooks_aws::signature::sign::{Ed25519Signer, RsaJwtSigner, SignedHeaders};
use gemini_webhooks_aws::signature::{SigningSecret, UrlToken, Verifier};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::json;
use sha2::Sha256;

/// The endpoint's URL token, which dynamic deliveries carry.
const TOKEN: &str = "tok_0123456789abcdefghijklmn";

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_2f1c8a2e-5d1b-4a8e-9b3a-0c2d4e6f8a1b";

/// A Gemini-shaped body padded to `size` bytes.
fn body(size: usize) -> Vec<u8> {
    let head = r#"{"type":"batch.succeeded","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/123","output_file_uri":"gs://bucket/out.jsonl","pad":""#;
    let mut body = head.as_bytes().to_vec();
    body.resize(size - 3, b'x');
    body.extend_from_slice(br#""}}"#);
    body
}

fn v1(c: &mut Criterion) {
    // Peers check the timestamp against the system clock, so every delivery is signed "now".
    let now = SystemClock.unix_now();
    let secret = SigningSecret::parse(SECRET).unwrap();
    let key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(&SECRET["whsec_".len()..]).unwrap()
    };
    let verifier =
        Verifier::builder().secret(secret.clone()).clock(Arc::new(ManualClock::at(now))).build().unwrap();
    let standard = standardwebhooks::Webhook::new(SECRET).unwrap();
    let svix = svix::webhooks::Webhook::new(SECRET).unwrap();

    let mut group = c.benchmark_group("v1");
    for size in [1024, 64 * 1024] {
        let body = body(size);
        let headers = SignedHeaders::v1(&secret, ID, now, &body).to_header_map().unwrap();
        let label = format!("{}KiB", size / 1024);
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_function(BenchmarkId::new("hmac_sha256_floor", &label), |b| {
            let ts = now.to_string();
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(black_box(&key)).unwrap();
                mac.update(ID.as_bytes());
                mac.update(b".");
                mac.update(ts.as_bytes());
                mac.update(b".");
                mac.update(black_box(&body));
                mac.finalize().into_bytes()
            })
        });
        group.bench_function(BenchmarkId::new("this_crate", &label), |b| {
            b.iter(|| verifier.verify_with_keys(black_box(&headers), black_box(&body), None, None).unwrap())
        });
        group.bench_function(BenchmarkId::new("standardwebhooks", &label), |b| {
            b.iter(|| standard.verify(black_box(&body), black_box(&headers)).unwrap())
        });
        group.bench_function(BenchmarkId::new("svix", &label), |b| {
            b.iter(|| svix.verify(black_box(&body), black_box(&headers)).unwrap())
        });
    }
    group.finish();
}

fn asymmetric(c: &mut Criterion) {
    let now = 1_769_083_200;
    let clock = Arc::new(ManualClock::at(now));
    let body = body(1024);

    let ed_keys: Vec<Ed25519Signer> = (0..3).map(|_| Ed25519Signer::generate()).collect();
    let rsa = RsaJwtSigner::generate("rsa-1").unwrap();
    let mut jwks: Vec<_> = ed_keys.iter().map(|k| k.public_jwk(None)).collect();
    jwks.push(rsa.public_jwk());
    let document = jwks_document(jwks).to_string();
    let keys = KeySet::from_jwks(document.as_bytes()).unwrap();
    let verifier = Verifier::builder()
        .keys(Arc::new(JwksCache::inline(document.as_bytes(), clock.clone()).unwrap()))
        .url_token(UrlToken::parse(TOKEN).unwrap())
        .audience("https://hooks.example.com")
        .clock(clock)
        .build()
        .unwrap();

    let mut group = c.benchmark_group("asymmetric");
    group.throughput(Throughput::Bytes(body.len() as u64));
    // Signed by the last of three keys: the worst case, as `v1a` names no key.
    let v1a: HeaderMap = SignedHeaders::v1a(&ed_keys[2], ID, now, &body).to_header_map().unwrap();
    group.bench_function("v1a_ed25519_3_keys/1KiB", |b| {
        b.iter(|| {
            verifier.verify_with_keys(black_box(&v1a), black_box(&body), Some(TOKEN), Some(&keys)).unwrap()
        })
    });
    let token = rsa.token(&json!({"aud": "https://hooks.example.com", "iat": now, "exp": now + 300}));
    let jwt = SignedHeaders::new(ID, now, &[token]).to_header_map().unwrap();
    group.bench_function("jwt_rs256/1KiB", |b| {
        b.iter(|| {
            verifier.verify_with_keys(black_box(&jwt), black_box(&body), Some(TOKEN), Some(&keys)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, v1, asymmetric);
criterion_main!(benches);
