//! `v1a` (Ed25519) and the RS256 JWT form, against key sets given inline.

mod support;

use std::sync::Arc;

use gemini_webhooks_aws::keys::{JwksCache, jwks_document};
use gemini_webhooks_aws::signature::sign::{Ed25519Signer, SignedHeaders, encode_jwt};
use gemini_webhooks_aws::signature::{JwtError, Scheme, SigningSecret, UrlToken, Verifier, VerifyError};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{NOW, RSA_KEY};

/// The endpoint's URL token: dynamic deliveries carry it (see `dynamic_token.rs` for what happens
/// when they do not).
const TOKEN: &str = "tok_0123456789abcdefghijklmn";

const BODY: &[u8] = br#"{"type":"interaction.completed","data":{"id":"interactions/abc"}}"#;
const AUD: &str = "https://hooks.example.com/gemini";

fn verifier(document: &Value, audience: Option<&str>) -> Verifier {
    let clock = support::clock();
    let cache = JwksCache::inline(document.to_string().as_bytes(), clock.clone()).unwrap();
    let mut builder =
        Verifier::builder().keys(Arc::new(cache)).url_token(UrlToken::parse(TOKEN).unwrap()).clock(clock);
    if let Some(audience) = audience {
        builder = builder.audience(audience);
    }
    builder.build().unwrap()
}

async fn verify_jwt(verifier: &Verifier, token: &str) -> Result<Scheme, VerifyError> {
    let headers = SignedHeaders::new("msg_jwt", NOW, &[token.to_owned()]);
    verifier.verify(&headers.to_header_map().unwrap(), BODY, Some(TOKEN)).await.map(|v| v.scheme)
}

fn claims() -> Value {
    json!({"iss": "https://generativelanguage.googleapis.com", "aud": "https://hooks.example.com/gemini",
           "iat": NOW, "exp": NOW + 300})
}

#[tokio::test]
async fn v1a_signed_by_the_third_of_three_keys_verifies() {
    let keys: Vec<Ed25519Signer> = (0..3).map(|_| Ed25519Signer::generate()).collect();
    let document = jwks_document(keys.iter().map(|k| k.public_jwk(None)));
    let verifier = verifier(&document, None);
    let headers = SignedHeaders::v1a(&keys[2], "msg_v1a", NOW, BODY).to_header_map().unwrap();
    let verified = verifier.verify(&headers, BODY, Some(TOKEN)).await.unwrap();
    assert_eq!(verified.scheme, Scheme::V1a);
    assert_eq!(verified.webhook_id.as_str(), "msg_v1a");
    assert_eq!(verified.timestamp.unix(), NOW);
}

#[tokio::test]
async fn v1a_by_a_key_outside_the_set_fails() {
    let trusted = Ed25519Signer::generate();
    let verifier = verifier(&jwks_document([trusted.public_jwk(None)]), None);
    let headers =
        SignedHeaders::v1a(&Ed25519Signer::generate(), "msg_v1a", NOW, BODY).to_header_map().unwrap();
    assert_eq!(verifier.verify(&headers, BODY, Some(TOKEN)).await, Err(VerifyError::NoMatch));
}

#[tokio::test]
async fn v1a_over_a_tampered_body_fails() {
    let key = Ed25519Signer::generate();
    let verifier = verifier(&jwks_document([key.public_jwk(None)]), None);
    let headers = SignedHeaders::v1a(&key, "msg_v1a", NOW, BODY).to_header_map().unwrap();
    let tampered = br#"{"type":"interaction.completed","data":{"id":"interactions/xyz"}}"#;
    assert_eq!(verifier.verify(&headers, tampered, Some(TOKEN)).await, Err(VerifyError::NoMatch));
}

#[tokio::test]
async fn v1_and_v1a_entries_together_verify_by_whichever_matches() {
    let key = Ed25519Signer::generate();
    let clock = support::clock();
    let cache =
        JwksCache::inline(jwks_document([key.public_jwk(None)]).to_string().as_bytes(), clock.clone())
            .unwrap();
    let verifier = Verifier::builder()
        .secret(SigningSecret::generate())
        .keys(Arc::new(cache))
        .url_token(UrlToken::parse(TOKEN).unwrap())
        .clock(clock)
        .build()
        .unwrap();
    let ts = NOW.to_string();
    let wrong_v1 =
        gemini_webhooks_aws::signature::sign::v1_entry(&SigningSecret::generate(), "msg_mixed", &ts, BODY);
    let entries = [wrong_v1, key.entry("msg_mixed", &ts, BODY)];
    let headers = SignedHeaders::new("msg_mixed", NOW, &entries).to_header_map().unwrap();
    assert_eq!(verifier.verify(&headers, BODY, Some(TOKEN)).await.unwrap().scheme, Scheme::V1a);
}

#[tokio::test]
async fn an_rs256_jwt_with_a_known_kid_verifies() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let token = RSA_KEY.token(&claims());
    assert_eq!(verify_jwt(&verifier, &token).await, Ok(Scheme::Jwt));
    // The `v1,` prefixed form of the same token is read the same way.
    assert_eq!(verify_jwt(&verifier, &format!("v1,{token}")).await, Ok(Scheme::Jwt));
}

#[tokio::test]
async fn a_jwt_with_alg_none_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let token = encode_jwt(&json!({"alg": "none", "kid": RSA_KEY.kid()}), &claims(), |_| Vec::new());
    let outcome = verify_jwt(&verifier, &token).await;
    assert_eq!(outcome, Err(VerifyError::Jwt(JwtError::AlgorithmNotAllowed("none".into()))));
}

#[tokio::test]
async fn a_jwt_signed_hs256_with_the_public_key_as_secret_is_refused() {
    let jwk = RSA_KEY.public_jwk();
    let verifier = verifier(&jwks_document([jwk.clone()]), Some(AUD));
    // The classic confusion attack: HMAC keyed with the public key material anyone can download.
    for public_material in [jwk.to_string(), jwk["n"].as_str().unwrap().to_owned()] {
        let token = encode_jwt(&json!({"alg": "HS256", "kid": RSA_KEY.kid()}), &claims(), |input| {
            let mut mac = Hmac::<Sha256>::new_from_slice(public_material.as_bytes()).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        });
        let outcome = verify_jwt(&verifier, &token).await;
        assert_eq!(outcome, Err(VerifyError::Jwt(JwtError::AlgorithmNotAllowed("HS256".into()))));
    }
}

#[tokio::test]
async fn a_jwt_with_an_unknown_kid_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let token = encode_jwt(&json!({"alg": "RS256", "kid": "rotated-away"}), &claims(), |_| vec![0; 256]);
    assert_eq!(verify_jwt(&verifier, &token).await, Err(VerifyError::Jwt(JwtError::UnknownKeyId)));
}

#[tokio::test]
async fn an_expired_jwt_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let token = RSA_KEY.token(&json!({"aud": AUD, "iat": NOW - 361, "exp": NOW - 61}));
    assert_eq!(verify_jwt(&verifier, &token).await, Err(VerifyError::Jwt(JwtError::Expired)));
    // Within the 60 s leeway it still passes.
    let token = RSA_KEY.token(&json!({"aud": AUD, "iat": NOW - 359, "exp": NOW - 59}));
    assert_eq!(verify_jwt(&verifier, &token).await, Ok(Scheme::Jwt));
}

#[tokio::test]
async fn a_jwt_not_valid_yet_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let token = RSA_KEY.token(&json!({"aud": AUD, "iat": NOW, "exp": NOW + 300, "nbf": NOW + 120}));
    assert_eq!(verify_jwt(&verifier, &token).await, Err(VerifyError::Jwt(JwtError::NotYetValid)));
}

#[tokio::test]
async fn a_jwt_without_exp_or_iat_or_with_a_long_lifetime_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let cases = [
        // Without `exp` a captured token would verify forever.
        (json!({"aud": AUD, "iat": NOW}), JwtError::MissingClaim("exp")),
        (json!({"aud": AUD, "exp": NOW + 300}), JwtError::MissingClaim("iat")),
        (json!({"aud": AUD, "iat": NOW, "exp": NOW + 3600}), JwtError::LifetimeTooLong(3600)),
        (json!({"aud": AUD, "iat": NOW + 120, "exp": NOW + 300}), JwtError::IssuedInFuture),
    ];
    for (claims, refusal) in cases {
        assert_eq!(
            verify_jwt(&verifier, &RSA_KEY.token(&claims)).await,
            Err(VerifyError::Jwt(refusal)),
            "{claims}"
        );
    }
    let ten_minutes = json!({"aud": AUD, "iat": NOW - 100, "exp": NOW + 500});
    assert_eq!(verify_jwt(&verifier, &RSA_KEY.token(&ten_minutes)).await, Ok(Scheme::Jwt));
}

#[tokio::test]
async fn a_jwt_from_another_issuer_is_refused_when_one_is_configured() {
    let clock = support::clock();
    let document = jwks_document([RSA_KEY.public_jwk()]).to_string();
    let verifier = Verifier::builder()
        .keys(Arc::new(JwksCache::inline(document.as_bytes(), clock.clone()).unwrap()))
        .url_token(UrlToken::parse(TOKEN).unwrap())
        .audience(AUD)
        .issuer("https://generativelanguage.googleapis.com")
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(verify_jwt(&verifier, &RSA_KEY.token(&claims())).await, Ok(Scheme::Jwt));
    let mut other = claims();
    other["iss"] = json!("https://accounts.example.com");
    assert_eq!(
        verify_jwt(&verifier, &RSA_KEY.token(&other)).await,
        Err(VerifyError::Jwt(JwtError::IssuerMismatch))
    );
}

#[tokio::test]
async fn a_jwt_for_another_audience_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let mut claims = claims();
    claims["aud"] = json!("https://someone-else.example.com");
    let outcome = verify_jwt(&verifier, &RSA_KEY.token(&claims)).await;
    assert_eq!(outcome, Err(VerifyError::Jwt(JwtError::AudienceMismatch)));
    claims["aud"] = json!(["https://someone-else.example.com", "https://hooks.example.com/gemini"]);
    assert_eq!(verify_jwt(&verifier, &RSA_KEY.token(&claims)).await, Ok(Scheme::Jwt));
}

#[tokio::test]
async fn a_jwt_with_a_forged_signature_is_refused() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let token = RSA_KEY.token(&claims());
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", RSA_KEY.token(&json!({"other": true})).rsplit_once('.').unwrap().1);
    assert_eq!(verify_jwt(&verifier, &forged).await, Err(VerifyError::Jwt(JwtError::BadSignature)));
}

#[tokio::test]
async fn jwt_entries_are_ignored_when_the_scheme_is_not_accepted() {
    let clock = support::clock();
    let document = jwks_document([RSA_KEY.public_jwk()]).to_string();
    let verifier = Verifier::builder()
        .keys(Arc::new(JwksCache::inline(document.as_bytes(), clock.clone()).unwrap()))
        .url_token(UrlToken::parse(TOKEN).unwrap())
        .audience(AUD)
        .schemes("v1a".parse().unwrap())
        .clock(clock)
        .build()
        .unwrap();
    let outcome = verify_jwt(&verifier, &RSA_KEY.token(&claims())).await;
    assert_eq!(outcome, Err(VerifyError::NoUsableSignature));
}

#[tokio::test]
async fn a_long_multibyte_alg_is_refused_without_panicking() {
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), Some(AUD));
    let alg = format!("{}€€€", "A".repeat(15));
    let token = encode_jwt(&json!({"alg": alg, "kid": RSA_KEY.kid()}), &claims(), |_| vec![0; 256]);
    let outcome = verify_jwt(&verifier, &token).await;
    assert_eq!(outcome, Err(VerifyError::Jwt(JwtError::AlgorithmNotAllowed(format!("{}€", "A".repeat(15))))));
}

#[tokio::test]
async fn without_an_audience_to_check_jwt_entries_are_not_accepted() {
    // A Google-signed token minted for someone else's endpoint must not verify here: with no audience
    // configured there is nothing to tell the two apart, so the JWT form is off.
    let verifier = verifier(&jwks_document([RSA_KEY.public_jwk()]), None);
    assert!(!verifier.schemes().contains(Scheme::Jwt));
    let outcome = verify_jwt(&verifier, &RSA_KEY.token(&claims())).await;
    assert_eq!(outcome, Err(VerifyError::NoUsableSignature));
}
