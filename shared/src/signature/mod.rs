//! Signature verification for every scheme Gemini uses, over the exact bytes received.
//!
//! All schemes sign the same content, `webhook-id + "." + webhook-timestamp + "." + body`:
//! - `v1`: HMAC-SHA256 with a `whsec_` secret (static webhooks); several secrets cover a rotation.
//! - `v1a`: Ed25519 against Google's JWKS (dynamic webhooks, as observed live).
//! - JWT: a compact RS256 token with a `kid` (the documented dynamic form), accepted only with an
//!   audience to check, and `iat`/`exp` no more than ten minutes apart.
//!
//! Dynamic deliveries (`v1a`, JWT) are signed with Google's global keys, so a signature alone does not
//! make one yours: they are accepted only when the URL carries the endpoint's token
//! ([`EndpointSecrets::url_token`]), checked before any asymmetric crypto runs.
//!
//! The order of checks is fixed: headers are parsed and bounded (at most three asymmetric entries),
//! the timestamp window is checked, `v1` is tried (cheap), then the URL token, and only then any
//! public-key operation. A miss with secrets or keys that may have rotated is retried once, after a
//! rate-limited refetch, in one place: [`Verifier::verify`].

#[cfg(feature = "verify")]
pub(crate) mod b64;
#[cfg(feature = "verify")]
mod endpoint;
#[cfg(feature = "verify")]
mod error;
#[cfg(feature = "verify")]
mod headers;
#[cfg(feature = "verify")]
mod jwt;
mod scheme;
#[cfg(feature = "verify")]
mod secret;
#[cfg(feature = "sign")]
pub mod sign;
#[cfg(feature = "verify")]
mod v1;
#[cfg(feature = "verify")]
mod v1a;
#[cfg(feature = "verify")]
mod verifier;

#[cfg(feature = "verify")]
pub use endpoint::{EndpointSecrets, SecretValueError, TokenError, UrlToken};
#[cfg(feature = "verify")]
pub use error::{JwtError, Rejection, VerifyError};
#[cfg(feature = "verify")]
pub use headers::{
    MAX_ASYMMETRIC_ENTRIES, MAX_SIGNATURE_ENTRIES, MAX_SIGNATURE_HEADER_LEN, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
#[cfg(feature = "verify")]
pub use jwt::MAX_LIFETIME_SECS as MAX_JWT_LIFETIME_SECS;
pub use scheme::{Scheme, Schemes, UnknownScheme};
#[cfg(feature = "verify")]
pub use secret::{SecretError, SecretListError, SigningSecret};
#[cfg(feature = "verify")]
pub use verifier::{
    BuildError, DEFAULT_TOLERANCE_SECS, SIGNING_SECRETS, SecretsSource, Verifier, VerifierBuilder,
};

use crate::id::{WebhookId, WebhookTimestamp};

/// A delivery proven to come from the holder of a trusted key, within the replay window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `webhook-id` header: the idempotency key.
    pub webhook_id: WebhookId,
    /// The `webhook-timestamp` header.
    pub timestamp: WebhookTimestamp,
    /// The scheme of the entry that verified.
    pub scheme: Scheme,
    /// For the JWT form, the token that verified: it signs neither the body nor the `webhook-id`, so
    /// the receiver holds each token to the first delivery it came with.
    pub jwt: Option<JwtSeen>,
}

/// The receiver's table of verified JWTs, each held to the first delivery it came with: its attribute
/// names, the one place they are spelled (the receiver writes them, the test harness creates the table,
/// a test holds the template to both).
pub mod jwt_tokens {
    /// The partition key: the token's SHA-256, hex.
    pub const KEY: &str = "token_sha256";
    /// The `webhook-id` it first came with.
    pub const WEBHOOK_ID: &str = "webhook_id";
    /// The body hash it first came with.
    pub const BODY_SHA256: &str = "body_sha256";
    /// When DynamoDB's TTL may delete the entry (Unix seconds): past the token's `exp`.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// A JWT that verified, as the receiver's single-use check needs it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSeen {
    /// Lowercase hex SHA-256 of the token.
    pub sha256: String,
    /// Its `exp`, Unix seconds: until when it could be replayed.
    pub expires_at: i64,
}
