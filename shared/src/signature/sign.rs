//! Signing, for tests, the local demo and the CLI: the sender's side of every scheme (feature `sign`).
//!
//! ```
//! use gemini_webhooks_aws::signature::{sign, SigningSecret, Verifier};
//! use gemini_webhooks_aws::clock::ManualClock;
//! use std::sync::Arc;
//!
//! let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let clock = Arc::new(ManualClock::at(1_614_265_330));
//! let verifier = Verifier::builder().secret(secret.clone()).clock(clock).build()?;
//!
//! let body = br#"{"type":"batch.succeeded","data":{"id":"batches/123"}}"#;
//! let headers = sign::SignedHeaders::v1(&secret, "msg_1", 1_614_265_330, body).to_header_map()?;
//!
//! // `verify` is async: it fetches Google's JWKS when a `v1a` or JWT entry needs it.
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! // The third argument is the URL's `token` query parameter, which only dynamic deliveries need.
//! let verified = runtime.block_on(verifier.verify(&headers, body, None))?;
//! assert_eq!(verified.webhook_id.as_str(), "msg_1");
//! assert_eq!(verified.scheme, gemini_webhooks_aws::Scheme::V1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use http::header::{HeaderMap, HeaderValue, InvalidHeaderValue};
use rand_core::{OsRng, RngCore as _};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15;
use rsa::signature::SignatureEncoding as _;
use serde_json::{Value, json};
use sha2::Sha256;

use super::b64;
use super::headers::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use super::secret::SigningSecret;
use super::v1a::signed_content;
use crate::keys::{ed25519_jwk, rsa_jwk};

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`: space-separated entries.
    pub signature: String,
}

impl SignedHeaders {
    /// Headers carrying the given signature entries.
    pub fn new(id: &str, timestamp: i64, entries: &[String]) -> Self {
        Self { id: id.to_owned(), timestamp: timestamp.to_string(), signature: entries.join(" ") }
    }

    /// A `v1` delivery signed with `secret`.
    pub fn v1(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> Self {
        Self::new(id, timestamp, &[v1_entry(secret, id, &timestamp.to_string(), body)])
    }

    /// A `v1a` delivery signed with `key`.
    pub fn v1a(key: &Ed25519Signer, id: &str, timestamp: i64, body: &[u8]) -> Self {
        Self::new(id, timestamp, &[key.entry(id, &timestamp.to_string(), body)])
    }

    /// The headers as an HTTP header map.
    pub fn to_header_map(&self) -> Result<HeaderMap, InvalidHeaderValue> {
        let mut map = HeaderMap::new();
        map.insert(WEBHOOK_ID, HeaderValue::from_str(&self.id)?);
        map.insert(WEBHOOK_TIMESTAMP, HeaderValue::from_str(&self.timestamp)?);
        map.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(&self.signature)?);
        Ok(map)
    }
}

/// A fresh `webhook-id` in Gemini's shape: `msg_` and 26 random hex characters.
pub fn fresh_webhook_id() -> String {
    let mut bytes = [0u8; 13];
    OsRng.fill_bytes(&mut bytes);
    format!("msg_{}", hex::encode(bytes))
}

/// A `v1,<base64>` entry: HMAC-SHA256 of `id.timestamp.body`.
pub fn v1_entry(secret: &SigningSecret, id: &str, timestamp: &str, body: &[u8]) -> String {
    format!("v1,{}", b64::STANDARD_LENIENT.encode(secret.mac(id, timestamp, body)))
}

/// An Ed25519 signing key for `v1a`.
#[derive(Clone)]
pub struct Ed25519Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer").field("public", &self.key.verifying_key()).finish()
    }
}

impl Ed25519Signer {
    /// A new random key.
    pub fn generate() -> Self {
        Self { key: SigningKey::generate(&mut OsRng) }
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(seed) }
    }

    /// The 32-byte seed, to store the key. Handle as a secret.
    pub fn expose_seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as a JWK, ready for a JWKS document.
    pub fn public_jwk(&self, kid: Option<&str>) -> Value {
        ed25519_jwk(&self.key.verifying_key(), kid)
    }

    /// A `v1a,<base64>` entry over `id.timestamp.body`.
    pub fn entry(&self, id: &str, timestamp: &str, body: &[u8]) -> String {
        let signature = self.key.sign(&signed_content(id, timestamp, body));
        format!("v1a,{}", b64::STANDARD_LENIENT.encode(signature.to_bytes()))
    }
}

/// An RSA key that issues RS256 JWTs with a `kid`.
#[derive(Clone)]
pub struct RsaJwtSigner {
    kid: String,
    key: RsaPrivateKey,
}

impl std::fmt::Debug for RsaJwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaJwtSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The RSA key could not be generated.
#[derive(Debug, thiserror::Error)]
#[error("RSA key generation failed: {0}")]
pub struct RsaKeyError(String);

impl RsaJwtSigner {
    /// A new random 2048-bit key with this key id.
    pub fn generate(kid: &str) -> Result<Self, RsaKeyError> {
        let key = RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| RsaKeyError(e.to_string()))?;
        Ok(Self { kid: kid.to_owned(), key })
    }

    /// The key id placed in every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, ready for a JWKS document.
    pub fn public_jwk(&self) -> Value {
        rsa_jwk(&self.key.to_public_key(), &self.kid)
    }

    /// A compact RS256 JWT carrying `claims`.
    pub fn token(&self, claims: &Value) -> String {
        let signer = pkcs1v15::SigningKey::<Sha256>::new(self.key.clone());
        encode_jwt(&json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}), claims, |input| {
            signer.sign(input).to_vec()
        })
    }
}

/// A compact JWT from a header, claims and a signing function over `header.claims`. Exposed so tests
/// can forge tokens with other algorithms and check they are refused.
pub fn encode_jwt(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let encode = |value: &Value| b64::URL_SAFE_LENIENT.encode(value.to_string());
    let input = format!("{}.{}", encode(header), encode(claims));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64::URL_SAFE_LENIENT.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_webhook_ids_have_geminis_shape_and_differ() {
        let (a, b) = (fresh_webhook_id(), fresh_webhook_id());
        assert!(a.starts_with("msg_") && a.len() == 30, "{a}");
        assert!(crate::WebhookId::parse(&a).is_ok(), "{a}");
        assert_ne!(a, b);
    }
}
