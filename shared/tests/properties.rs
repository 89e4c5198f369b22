//! Property tests: what is signed verifies, and any single flipped bit in what was signed, or in the
//! signature, makes verification fail.

mod support;

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gemini_webhooks_aws::clock::ManualClock;
use gemini_webhooks_aws::keys::{JwksCache, KeySet, jwks_document};
use gemini_webhooks_aws::signature::sign::{Ed25519Signer, SignedHeaders};
use gemini_webhooks_aws::signature::{Scheme, SigningSecret, Verifier};
use http::HeaderMap;
use proptest::prelude::*;

static SECRET: LazyLock<SigningSecret> = LazyLock::new(SigningSecret::generate);
static ED25519: LazyLock<Ed25519Signer> = LazyLock::new(Ed25519Signer::generate);
static JWKS: LazyLock<String> = LazyLock::new(|| jwks_document([ED25519.public_jwk(None)]).to_string());
static KEYS: LazyLock<KeySet> = LazyLock::new(|| KeySet::from_jwks(JWKS.as_bytes()).unwrap());

fn verifier(now: i64) -> Verifier {
    let clock = Arc::new(ManualClock::at(now));
    Verifier::builder()
        .secret(SECRET.clone())
        .keys(Arc::new(JwksCache::inline(JWKS.as_bytes(), clock.clone()).unwrap()))
        .accept_dynamic_without_token()
        .clock(clock)
        .build()
        .unwrap()
}

fn sign(scheme: Scheme, id: &str, ts: i64, body: &[u8]) -> SignedHeaders {
    match scheme {
        Scheme::V1 => SignedHeaders::v1(&SECRET, id, ts, body),
        _ => SignedHeaders::v1a(&ED25519, id, ts, body),
    }
}

fn verifies(verifier: &Verifier, headers: &SignedHeaders, body: &[u8]) -> bool {
    // Some flips make a header value unrepresentable in HTTP at all: that too is a failure to verify.
    let Ok(map): Result<HeaderMap, _> = headers.to_header_map() else { return false };
    verifier.verify_with_keys(&map, body, None, Some(&KEYS)).is_ok()
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8 % bytes.len()] ^= 1 << (bit % 8);
    out
}

/// Flips one bit of the decoded signature and re-encodes it, so the entry stays well-formed.
fn flip_signature(signature: &str, bit: usize) -> String {
    let (version, value) = signature.split_once(',').unwrap();
    let decoded = STANDARD.decode(value).unwrap();
    format!("{version},{}", STANDARD.encode(flip(&decoded, bit)))
}

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![Just(Scheme::V1), Just(Scheme::V1a)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_is_signed_verifies(
        scheme in scheme(),
        id in "[!-+\\--~]{1,64}", // any printable ASCII but a comma, which no sender's id holds
        ts in 0i64..4_102_444_800,
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let headers = sign(scheme, &id, ts, &body);
        let map = headers.to_header_map().unwrap();
        let verified = verifier(ts).verify_with_keys(&map, &body, None, Some(&KEYS)).unwrap();
        prop_assert_eq!(verified.scheme, scheme);
        prop_assert_eq!(verified.webhook_id.as_str(), id.as_str());
        prop_assert_eq!(verified.timestamp.unix(), ts);
    }

    #[test]
    fn flipping_any_bit_of_id_timestamp_body_or_signature_fails(
        scheme in scheme(),
        id in "[!-+\\--~]{1,64}", // any printable ASCII but a comma, which no sender's id holds
        ts in 1_000_000_000i64..4_102_444_800,
        body in prop::collection::vec(any::<u8>(), 1..1024),
        bit in any::<usize>(),
        part in 0usize..4,
    ) {
        let headers = sign(scheme, &id, ts, &body);
        let verifier = verifier(ts);
        prop_assert!(verifies(&verifier, &headers, &body));
        let mut tampered = headers.clone();
        let mut tampered_body = body.clone();
        match part {
            0 => tampered.id = String::from_utf8_lossy(&flip(id.as_bytes(), bit)).into_owned(),
            1 => tampered.timestamp = String::from_utf8_lossy(&flip(headers.timestamp.as_bytes(), bit)).into_owned(),
            2 => tampered_body = flip(&body, bit),
            _ => tampered.signature = flip_signature(&headers.signature, bit),
        }
        prop_assert!(!verifies(&verifier, &tampered, &tampered_body), "part {part} bit {bit}");
    }
}
