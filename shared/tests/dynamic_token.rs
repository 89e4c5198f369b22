//! Only your own dynamic deliveries get in: `v1a` and JWT signatures are Google's global keys, so a
//! dynamic delivery is accepted only at a URL carrying the endpoint's token, checked before any
//! asymmetric crypto. `v1` deliveries (your own secret) need none. And the header forms a proxy makes.

mod support;

use std::sync::Arc;

use gemini_webhooks_aws::keys::{JwksCache, jwks_document};
use gemini_webhooks_aws::signature::sign::{Ed25519Signer, SignedHeaders, v1_entry};
use gemini_webhooks_aws::signature::{Rejection, Scheme, SigningSecret, UrlToken, Verifier, VerifyError};
use serde_json::json;
use support::{NOW, RSA_KEY};

const BODY: &[u8] = br#"{"type":"batch.succeeded","data":{"id":"batches/mine"}}"#;
const AUD: &str = "https://hooks.example.com/gemini";
const TOKEN: &str = "tok_0123456789abcdefghijklmn";

fn secret() -> SigningSecret {
    SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

fn verifier(ed25519: &Ed25519Signer, token: Option<&str>) -> Verifier {
    let clock = support::clock();
    let document = jwks_document([ed25519.public_jwk(None), RSA_KEY.public_jwk()]).to_string();
    let mut builder = Verifier::builder()
        .secret(secret())
        .keys(Arc::new(JwksCache::inline(document.as_bytes(), clock.clone()).unwrap()))
        .audience(AUD)
        .clock(clock);
    if let Some(token) = token {
        builder = builder.url_token(UrlToken::parse(token).unwrap());
    }
    builder.build().unwrap()
}

async fn verify(
    verifier: &Verifier,
    signed: &SignedHeaders,
    url_token: Option<&str>,
) -> Result<Scheme, VerifyError> {
    verifier.verify(&signed.to_header_map().unwrap(), BODY, url_token).await.map(|v| v.scheme)
}

#[tokio::test]
async fn a_genuine_dynamic_delivery_needs_the_endpoints_token_in_the_url() {
    let key = Ed25519Signer::generate();
    let verifier = verifier(&key, Some(TOKEN));
    let jwt = RSA_KEY.token(&json!({"aud": AUD, "iat": NOW, "exp": NOW + 300}));
    for signed in [SignedHeaders::v1a(&key, "msg_dyn", NOW, BODY), SignedHeaders::new("msg_dyn", NOW, &[jwt])]
    {
        assert_eq!(verify(&verifier, &signed, None).await, Err(VerifyError::DynamicTokenMismatch));
        let wrong = "tok_0123456789abcdefghijklmX";
        assert_eq!(verify(&verifier, &signed, Some(wrong)).await, Err(VerifyError::DynamicTokenMismatch));
        assert!(verify(&verifier, &signed, Some(TOKEN)).await.is_ok(), "{signed:?}");
    }
    assert_eq!(VerifyError::DynamicTokenMismatch.rejection(), Rejection::Unauthenticated);
    assert_eq!(VerifyError::DynamicTokenMismatch.code(), "dynamic_token_mismatch");
}

#[tokio::test]
async fn v1_deliveries_need_no_token() {
    let verifier = verifier(&Ed25519Signer::generate(), Some(TOKEN));
    let signed = SignedHeaders::v1(&secret(), "msg_static", NOW, BODY);
    assert_eq!(verify(&verifier, &signed, None).await, Ok(Scheme::V1));
    assert_eq!(verify(&verifier, &signed, Some("anything_at_all_really_x")).await, Ok(Scheme::V1));
}

#[tokio::test]
async fn with_no_token_configured_dynamic_deliveries_are_not_accepted_at_all() {
    let key = Ed25519Signer::generate();
    let verifier = verifier(&key, None);
    assert!(!verifier.schemes().contains(Scheme::V1a) && !verifier.schemes().contains(Scheme::Jwt));
    let signed = SignedHeaders::v1a(&key, "msg_dyn", NOW, BODY);
    assert_eq!(verify(&verifier, &signed, Some(TOKEN)).await, Err(VerifyError::NoUsableSignature));
}

#[tokio::test]
async fn signature_headers_a_proxy_joined_or_padded_still_verify() {
    let verifier = verifier(&Ed25519Signer::generate(), Some(TOKEN));
    let ts = NOW.to_string();
    let good = v1_entry(&secret(), "msg_joined", &ts, BODY);
    let other = v1_entry(&SigningSecret::generate(), "msg_joined", &ts, BODY);
    for header in [
        format!("{good}, {other}"),
        format!("{other}, {good}"),
        format!("{other}  {good}"),
        format!("  {good}\t"),
        format!("{other},   {good}, "),
    ] {
        let signed =
            SignedHeaders { id: "msg_joined".into(), timestamp: ts.clone(), signature: header.clone() };
        assert_eq!(verify(&verifier, &signed, None).await, Ok(Scheme::V1), "{header:?}");
    }
}

#[tokio::test]
async fn four_asymmetric_entries_are_refused_before_any_crypto() {
    let key = Ed25519Signer::generate();
    let verifier = verifier(&key, Some(TOKEN));
    let entry = key.entry("msg_many", &NOW.to_string(), BODY);
    let signed = SignedHeaders::new("msg_many", NOW, &vec![entry; 4]);
    let err = verify(&verifier, &signed, Some(TOKEN)).await.unwrap_err();
    assert!(matches!(err, VerifyError::InvalidHeader { .. }), "{err:?}");
    assert_eq!(err.rejection(), Rejection::Malformed);
}
