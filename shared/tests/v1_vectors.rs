//! `v1` (HMAC-SHA256) against the Standard Webhooks reference vectors, decoys, the replay window,
//! secret rotation and tampering.

mod support;

use std::sync::Arc;

use gemini_webhooks_aws::clock::ManualClock;
use gemini_webhooks_aws::signature::sign::{SignedHeaders, v1_entry};
use gemini_webhooks_aws::signature::{
    EndpointSecrets, Rejection, Scheme, SigningSecret, Verifier, VerifyError,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    valid: Vec<Vector>,
    decoys_that_never_match: Vec<String>,
}

#[derive(Deserialize)]
struct Vector {
    secret: String,
    id: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn vectors() -> Vectors {
    let text = include_str!("../testdata/standard-webhooks.json");
    serde_json::from_str(text).unwrap()
}

fn verifier_at(secrets: &[&SigningSecret], now: i64) -> Verifier {
    Verifier::builder()
        .secrets(secrets.iter().map(|s| (*s).clone()))
        .clock(Arc::new(ManualClock::at(now)))
        .build()
        .unwrap()
}

fn verify(
    verifier: &Verifier,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<Scheme, VerifyError> {
    let headers = SignedHeaders { id: id.into(), timestamp: timestamp.into(), signature: signature.into() };
    verifier.verify_with_keys(&headers.to_header_map().unwrap(), body, None, None).map(|v| v.scheme)
}

#[test]
fn reference_vectors_verify() {
    for v in vectors().valid {
        let secret = SigningSecret::parse(&v.secret).unwrap();
        let verifier = verifier_at(&[&secret], v.timestamp.parse().unwrap());
        assert_eq!(verify(&verifier, &v.id, &v.timestamp, &v.signature, v.body.as_bytes()), Ok(Scheme::V1));
        // The signer reproduces the reference signature byte for byte.
        assert_eq!(v1_entry(&secret, &v.id, &v.timestamp, v.body.as_bytes()), v.signature);
    }
}

#[test]
fn a_valid_entry_among_decoys_verifies() {
    let vectors = vectors();
    for v in vectors.valid {
        let secret = SigningSecret::parse(&v.secret).unwrap();
        let verifier = verifier_at(&[&secret], v.timestamp.parse().unwrap());
        let (before, after) = vectors.decoys_that_never_match.split_at(3);
        let header = [before.join(" "), v.signature.clone(), after.join(" ")].join(" ");
        assert_eq!(verify(&verifier, &v.id, &v.timestamp, &header, v.body.as_bytes()), Ok(Scheme::V1));
    }
}

#[test]
fn each_decoy_alone_fails() {
    let vectors = vectors();
    for v in &vectors.valid {
        let secret = SigningSecret::parse(&v.secret).unwrap();
        let verifier = verifier_at(&[&secret], v.timestamp.parse().unwrap());
        for decoy in &vectors.decoys_that_never_match {
            let outcome = verify(&verifier, &v.id, &v.timestamp, decoy, v.body.as_bytes());
            let expected = if decoy.starts_with("v1,") && decoy.len() > 3 {
                // A well-formed v1 entry that is simply wrong.
                VerifyError::NoMatch
            } else {
                // `v2,...` is ignored and a bare `v1,` is no signature at all.
                VerifyError::NoUsableSignature
            };
            assert_eq!(outcome, Err(expected), "decoy {decoy}");
        }
    }
}

#[test]
fn timestamps_within_299_seconds_pass_and_301_seconds_fail() {
    let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let sent = support::NOW;
    let body = br#"{"type":"batch.succeeded"}"#;
    let signed = SignedHeaders::v1(&secret, "msg_window", sent, body);
    let at = |offset: i64| {
        verify(
            &verifier_at(&[&secret], sent + offset),
            &signed.id,
            &signed.timestamp,
            &signed.signature,
            body,
        )
    };
    for offset in [-300, -299, 0, 299, 300] {
        assert_eq!(at(offset), Ok(Scheme::V1), "now = sent {offset:+}");
    }
    assert_eq!(at(301), Err(VerifyError::TimestampTooOld { age_secs: 301, tolerance_secs: 300 }));
    assert_eq!(at(-301), Err(VerifyError::TimestampInFuture { ahead_secs: 301, tolerance_secs: 300 }));
    assert_eq!(at(301).unwrap_err().rejection(), Rejection::Unauthenticated);
}

#[test]
fn the_tolerance_is_configurable() {
    let secret = SigningSecret::generate();
    let body = b"{}";
    let signed = SignedHeaders::v1(&secret, "msg_tolerance", support::NOW, body);
    let verifier = Verifier::builder()
        .secret(secret)
        .tolerance_secs(60)
        .clock(Arc::new(ManualClock::at(support::NOW + 61)))
        .build()
        .unwrap();
    let err = verify(&verifier, &signed.id, &signed.timestamp, &signed.signature, body).unwrap_err();
    assert_eq!(err, VerifyError::TimestampTooOld { age_secs: 61, tolerance_secs: 60 });
}

#[test]
fn a_signature_by_either_of_two_secrets_verifies() {
    let old = SigningSecret::generate();
    let new = SigningSecret::generate();
    let body = br#"{"type":"batch.expired"}"#;
    let both = verifier_at(&[&old, &new], support::NOW);
    for secret in [&old, &new] {
        let signed = SignedHeaders::v1(secret, "msg_rotation", support::NOW, body);
        assert_eq!(verify(&both, &signed.id, &signed.timestamp, &signed.signature, body), Ok(Scheme::V1));
    }
    let signed_by_new = SignedHeaders::v1(&new, "msg_rotation", support::NOW, body);
    let only_old = verifier_at(&[&old], support::NOW);
    let outcome =
        verify(&only_old, &signed_by_new.id, &signed_by_new.timestamp, &signed_by_new.signature, body);
    assert_eq!(outcome, Err(VerifyError::NoMatch));
}

#[test]
fn a_sender_signing_with_both_secrets_during_rotation_verifies_against_either() {
    let old = SigningSecret::generate();
    let new = SigningSecret::generate();
    let body = b"{}";
    let ts = support::NOW.to_string();
    let header =
        [v1_entry(&old, "msg_overlap", &ts, body), v1_entry(&new, "msg_overlap", &ts, body)].join(" ");
    for secret in [&old, &new] {
        let verifier = verifier_at(&[secret], support::NOW);
        assert_eq!(verify(&verifier, "msg_overlap", &ts, &header, body), Ok(Scheme::V1));
    }
}

#[test]
fn tampered_id_timestamp_or_body_fails() {
    let v = vectors().valid.remove(0);
    let secret = SigningSecret::parse(&v.secret).unwrap();
    let now: i64 = v.timestamp.parse().unwrap();
    let verifier = verifier_at(&[&secret], now);
    let body = v.body.as_bytes();
    let other_ts = (now + 1).to_string();
    let tampered_body = v.body.replace("test_user", "evil_user");
    let cases: [(&str, &str, &[u8]); 3] = [
        ("msg_27UH4WbU6Z5A5EzD8u03UvzRbpl", &v.timestamp, body),
        (&v.id, &other_ts, body),
        (&v.id, &v.timestamp, tampered_body.as_bytes()),
    ];
    for (id, ts, body) in cases {
        assert_eq!(verify(&verifier, id, ts, &v.signature, body), Err(VerifyError::NoMatch), "{id} {ts}");
    }
}

#[test]
fn an_empty_secret_is_refused() {
    let err = SigningSecret::parse_list("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD whsec_").unwrap_err();
    assert_eq!(err.position, 2);
}

#[test]
fn a_verifier_with_nothing_to_verify_with_is_refused() {
    let err = Verifier::builder().build().unwrap_err();
    assert_eq!(err, gemini_webhooks_aws::signature::BuildError::NothingToVerifyWith);
}

/// A secret source whose value the test replaces, as a rotation in Secrets Manager would.
struct Rotating(Arc<std::sync::Mutex<Vec<SigningSecret>>>);

impl gemini_webhooks_aws::refresh::Source<EndpointSecrets> for Rotating {
    fn fetch(&self) -> gemini_webhooks_aws::refresh::Fetching<'_, EndpointSecrets> {
        let signing = self.0.lock().unwrap().clone();
        Box::pin(async move {
            Ok(gemini_webhooks_aws::refresh::Fetched {
                value: EndpointSecrets { signing, ..EndpointSecrets::default() },
                max_age_secs: None,
            })
        })
    }
    fn describe(&self) -> String {
        "rotating".into()
    }
}

#[tokio::test]
async fn after_a_rotation_the_new_secret_verifies_and_the_old_is_refused() {
    let old = SigningSecret::generate();
    let new = SigningSecret::generate();
    let body = b"{}";
    let clock = support::clock();
    let current = Arc::new(std::sync::Mutex::new(vec![old.clone()]));
    let secrets = gemini_webhooks_aws::refresh::Refreshing::from_source(
        gemini_webhooks_aws::signature::SIGNING_SECRETS,
        Rotating(current.clone()),
        clock.clone(),
        gemini_webhooks_aws::refresh::RefreshPolicy::SECRETS,
    );
    let verifier = Verifier::builder().secrets_from(Arc::new(secrets)).clock(clock.clone()).build().unwrap();
    let by = |secret: &SigningSecret| {
        SignedHeaders::v1(secret, "msg_swap", support::NOW, body).to_header_map().unwrap()
    };
    assert_eq!(verifier.verify(&by(&old), body, None).await.map(|v| v.scheme), Ok(Scheme::V1));

    *current.lock().unwrap() = vec![new.clone()];
    clock.advance(61);
    assert_eq!(
        verifier.verify(&by(&new), body, None).await.map(|v| v.scheme),
        Ok(Scheme::V1),
        "a miss refetches the secret (at most once a minute) and verifies again"
    );
    assert_eq!(verifier.verify(&by(&old), body, None).await.map(|v| v.scheme), Err(VerifyError::NoMatch));
}
