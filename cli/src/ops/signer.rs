//! The key `sign` and `send` sign with.

use shared::signature::SigningSecret;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};

/// A key to sign with.
#[derive(Debug)]
pub enum Signer {
    /// `v1`: the endpoint's secret.
    V1(SigningSecret),
    /// `v1a`: an Ed25519 key.
    V1a(Ed25519Signer),
}

impl Signer {
    /// The scheme's name on the wire.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::V1(_) => "v1",
            Self::V1a(_) => "v1a",
        }
    }

    /// The three headers for `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
        match self {
            Self::V1(secret) => SignedHeaders::v1(secret, id, timestamp, body),
            Self::V1a(key) => SignedHeaders::v1a(key, id, timestamp, body),
        }
    }
}
