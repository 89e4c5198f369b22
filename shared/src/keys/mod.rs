//! Public keys for the asymmetric schemes (`v1a` Ed25519 and RS256 JWT): parsing Google's JWKS, and
//! a cache that fetches it, honours its TTL and keeps serving the last good set when a refresh fails.

mod cache;
mod fetch;
mod jwks;

pub use cache::{CachePolicy, JwksCache, JwksUrlError};
pub use jwks::{JwksError, KeySet, ed25519_jwk, jwks_document, rsa_jwk};

/// Google's published key set for Gemini webhooks.
pub const GOOGLE_JWKS_URL: &str = "https://generativelanguage.googleapis.com/.well-known/jwks.json";

/// No key set can be had right now: never fetched successfully and the last attempt failed. The
/// receiver answers 503 so Gemini retries, never 401: the delivery may well be genuine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no signing keys obtainable: {reason}")]
pub struct KeysUnavailable {
    /// What went wrong on the last attempt (no key material, no URLs with credentials).
    pub reason: String,
}
