//! `keygen` and `sign`: keys and signatures, no network.

use std::fmt;

use serde::Serialize;
use shared::clock::{Clock, SystemClock};
use shared::keys::jwks_document;
use shared::keys::text::{public_key_text, secret_key_text};
use shared::signature::sign::Ed25519Signer;
use shared::signature::{SigningSecret, UrlToken};

use super::flags::{SignerArgs, read_input};
use crate::ui::output::Output;
use clap::Args;
use shared::signature::sign::fresh_webhook_id;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The body to sign: a file, or `-` for standard input.
    pub body: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The `webhook-id` (default: a fresh `msg_...`).
    #[arg(long)]
    pub id: Option<String>,
    /// Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<i64>,
}

/// What `keygen` made: secrets, printed because they were asked for. The Ed25519 key in the Standard
/// Webhooks texts (`whsk_`, `whpk_`), and its public key as a JWKS too.
#[derive(Serialize)]
struct Keys {
    webhook_secret: String,
    webhook_url_token: String,
    webhook_ed25519_seed: String,
    webhook_ed25519_public_key: String,
    jwks: serde_json::Value,
}

impl fmt::Display for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "WEBHOOK_SECRET={}", self.webhook_secret)?;
        writeln!(f, "WEBHOOK_URL_TOKEN={}", self.webhook_url_token)?;
        writeln!(f, "WEBHOOK_ED25519_SEED={}", self.webhook_ed25519_seed)?;
        writeln!(f, "# its public key, for any v1a verifier: {}", self.webhook_ed25519_public_key)?;
        write!(f, "JWKS_JSON='{}'", self.jwks)
    }
}

pub(crate) fn keygen(out: Output) -> anyhow::Result<()> {
    let key = Ed25519Signer::generate();
    out.print(&Keys {
        webhook_secret: SigningSecret::generate().expose_whsec(),
        webhook_url_token: UrlToken::generate().expose().to_owned(),
        webhook_ed25519_seed: secret_key_text(&key.expose_seed()),
        webhook_ed25519_public_key: public_key_text(&key.verifying_key()),
        jwks: jwks_document([key.public_jwk(Some("local-1"))]),
    });
    Ok(())
}

/// The three headers, as `sign` prints them.
#[derive(Serialize)]
struct Headers {
    webhook_id: String,
    webhook_timestamp: String,
    webhook_signature: String,
}

impl fmt::Display for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "webhook-id: {}", self.webhook_id)?;
        writeln!(f, "webhook-timestamp: {}", self.webhook_timestamp)?;
        write!(f, "webhook-signature: {}", self.webhook_signature)
    }
}

pub(crate) fn sign(args: SignArgs, out: Output) -> anyhow::Result<()> {
    let signer = args.signer.signer()?;
    let body = read_input(&args.body)?;
    let id = args.id.unwrap_or_else(fresh_webhook_id);
    let signed = signer.sign(&id, args.timestamp.unwrap_or_else(|| SystemClock.unix_now()), &body);
    out.print(&Headers {
        webhook_id: signed.id,
        webhook_timestamp: signed.timestamp,
        webhook_signature: signed.signature,
    });
    Ok(())
}
