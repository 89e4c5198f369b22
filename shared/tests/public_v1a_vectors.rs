//! `v1a` against implementations this project did not write: signet's and Cosium's verification
//! vectors (with their keys as published and as JWKS `x`, their clocks through the injectable one) and the signing
//! vectors of signet, Svix and two Standard Webhooks pull requests (`shared/tests/data/v1a/`, with
//! their sources and licences).

use std::sync::Arc;

use gemini_webhooks_aws::clock::ManualClock;
use gemini_webhooks_aws::keys::text::{parse_public_key, parse_secret_key};
use gemini_webhooks_aws::keys::{JwksCache, ed25519_jwk, jwks_document};
use gemini_webhooks_aws::signature::sign::Ed25519Signer;
use gemini_webhooks_aws::signature::{
    Scheme, UrlToken, Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

const TOKEN: &str = "tok_0123456789abcdefghijklmn";

fn vectors(kind: &str) -> Vec<Value> {
    let text = include_str!("data/v1a/standard-webhooks-v1a.json");
    let all: Vec<Value> = serde_json::from_str(text).unwrap();
    all.into_iter().filter(|v| v["kind"] == kind).collect()
}

fn text<'v>(vector: &'v Value, field: &str) -> Option<&'v str> {
    vector[field].as_str()
}

/// The headers a vector sends: an absent field is an absent header.
fn headers(vector: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, field) in
        [(WEBHOOK_ID, "msg_id"), (WEBHOOK_TIMESTAMP, "timestamp"), (WEBHOOK_SIGNATURE, "signature_header")]
    {
        if let Some(value) = text(vector, field) {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
    }
    headers
}

/// The two ways a user configures a `v1a` sender's key: its text as published (`whpk_`, raw or SPKI),
/// or a JWKS holding it as `x`.
const KEY_CONFIGURATIONS: [&str; 2] = ["key text", "JWKS"];

#[tokio::test]
async fn every_published_verification_vector_gets_the_verdict_its_source_expects() {
    let mut checked = 0;
    for vector in vectors("verify") {
        for configuration in KEY_CONFIGURATIONS {
            let name = format!("{} / {} ({configuration})", vector["source"], vector["test"]);
            let key_text = text(&vector, "public_key").unwrap();
            let inline = match configuration {
                "key text" => key_text.to_owned(),
                _ => {
                    let key = parse_public_key(key_text).unwrap_or_else(|e| panic!("{name}: {e}"));
                    jwks_document([ed25519_jwk(&key, None)]).to_string()
                }
            };
            // Their "now" (signet checks no time: its timestamp is the clock).
            let now = vector["now_unix"]
                .as_i64()
                .unwrap_or_else(|| text(&vector, "timestamp").unwrap().parse().unwrap());
            let clock = Arc::new(ManualClock::at(now));
            let keys = JwksCache::inline(inline.as_bytes(), clock.clone()).unwrap();
            let verifier = Verifier::builder()
                .keys(Arc::new(keys))
                .url_token(UrlToken::parse(TOKEN).unwrap())
                .clock(clock)
                .build()
                .unwrap();
            let body = text(&vector, "payload").unwrap().as_bytes();
            let verdict = verifier.verify(&headers(&vector), body, Some(TOKEN)).await;
            let expected = text(&vector, "expected").unwrap();
            if expected == "valid" {
                assert_eq!(verdict.map(|v| v.scheme).ok(), Some(Scheme::V1a), "{name}");
            } else {
                assert!(verdict.is_err(), "{name}: {expected}, but it verified");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 22, "signet's 4 and Cosium's 18, each configured both ways");
}

#[test]
fn every_published_signing_vector_is_signed_alike_from_its_secret_key() {
    let mut checked = 0;
    for vector in vectors("sign") {
        let name = format!("{} / {}", vector["source"], vector["test"]);
        // The key as the source gives it: `whsk_` of 32 or 64 bytes, or bare base64 (the Go pull request).
        let secret = text(&vector, "secret_key").unwrap().split_whitespace().next().unwrap();
        let seed = parse_secret_key(secret).unwrap_or_else(|e| panic!("{name}: {e}"));
        let signer = Ed25519Signer::from_seed(&seed);
        let (id, timestamp) = (text(&vector, "msg_id").unwrap(), text(&vector, "timestamp").unwrap());
        let entry = signer.entry(id, timestamp, text(&vector, "payload").unwrap().as_bytes());
        assert_eq!(entry, text(&vector, "signature_header").unwrap(), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 5, "signet's 2, Svix's and two pull requests'");
}
