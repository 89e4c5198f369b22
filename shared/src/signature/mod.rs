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
}
