//! The signer `sign` and `send` use, from their flags; a flag that is missing or unusable is a usage
//! error naming it (never its value).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use shared::signature::SigningSecret;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};

use crate::args::{SchemeArg, SignerArgs};
use crate::report::usage;

/// A key to sign with.
pub(super) enum Signer {
    /// `v1`: the endpoint's secret.
    V1(SigningSecret),
    /// `v1a`: an Ed25519 key.
    V1a(Ed25519Signer),
}

impl Signer {
    /// The signer `args` describe.
    pub(super) fn from_args(args: &SignerArgs) -> anyhow::Result<Self> {
        match args.scheme {
            SchemeArg::V1 => {
                let text = args.secret.as_ref().map(crate::args::Sensitive::expose).ok_or_else(|| {
                    usage("--scheme v1 needs --secret (or WEBHOOK_SECRET): the endpoint's whsec_ secret")
                })?;
                let secret = SigningSecret::parse(text).map_err(|e| {
                    usage(format!("--secret (or WEBHOOK_SECRET) is not a signing secret: {e}"))
                })?;
                Ok(Self::V1(secret))
            }
            SchemeArg::V1a => {
                let text = args.ed25519_seed.as_ref().map(crate::args::Sensitive::expose).ok_or_else(|| {
                    usage("--scheme v1a needs --ed25519-seed (or WEBHOOK_ED25519_SEED), from `gemini-webhooks keygen`")
                })?;
                let seed: [u8; 32] = STANDARD
                    .decode(text.trim())
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| {
                        usage(
                            "--ed25519-seed (or WEBHOOK_ED25519_SEED) is not a 32-byte seed in standard base64; \
                             `gemini-webhooks keygen` makes one",
                        )
                    })?;
                Ok(Self::V1a(Ed25519Signer::from_seed(&seed)))
            }
        }
    }

    /// The scheme's name on the wire.
    pub(super) fn scheme(&self) -> &'static str {
        match self {
            Self::V1(_) => "v1",
            Self::V1a(_) => "v1a",
        }
    }

    /// The three headers for `body`.
    pub(super) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
        match self {
            Self::V1(secret) => SignedHeaders::v1(secret, id, timestamp, body),
            Self::V1a(key) => SignedHeaders::v1a(key, id, timestamp, body),
        }
    }
}
