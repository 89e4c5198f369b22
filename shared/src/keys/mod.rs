//! Public keys for the asymmetric schemes (`v1a` Ed25519 and RS256 JWT): parsing Google's JWKS, and the
//! key set kept fresh by the refresh engine ([`crate::refresh`]).

mod cache;
mod fetch;
mod jwks;
pub mod text;

pub use cache::{FETCH_TIMEOUT, JwksCache, JwksUrlError, MAX_DOCUMENT_BYTES, SIGNING_KEYS};
pub use jwks::{JwksError, KeySet};
#[cfg(feature = "sign")]
pub use jwks::{ed25519_jwk, jwks_document, rsa_jwk};

/// Google's published key set for Gemini webhooks.
pub const GOOGLE_JWKS_URL: &str = "https://generativelanguage.googleapis.com/.well-known/jwks.json";
