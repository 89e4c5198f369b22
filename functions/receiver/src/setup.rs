//! Start-up wiring shared by `main` and the tests: verification from configuration.

use std::sync::Arc;

use shared::clock::Clock;
use shared::keys::{CachePolicy, JwksCache, JwksError, JwksUrlError};
use shared::signature::{BuildError, Scheme, SigningSecret, Verifier};

use crate::config::{Config, KeysConfig, SecretsConfig};
use crate::secrets::{SecretsError, SecretsManagerSource, Verification};

/// Start-up failed; the message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `JWKS_JSON` is not a usable key set.
    #[error("configuration error in JWKS_JSON: {0}")]
    InlineKeys(#[from] JwksError),
    /// `JWKS_URL` cannot be used.
    #[error("configuration error in JWKS_URL: {0}")]
    KeysUrl(#[from] JwksUrlError),
    /// `WEBHOOK_SECRETS_ARN` could not be read.
    #[error("configuration error in WEBHOOK_SECRETS_ARN: {0}")]
    Secrets(#[from] SecretsError),
    /// Nothing left to verify with.
    #[error("configuration error in ACCEPTED_SCHEMES: {0}")]
    Verifier(#[from] BuildError),
}

/// Builds verification from configuration: the key cache, the secrets (read once now from Secrets
/// Manager when configured so) and the verifier.
pub async fn build_verification(
    config: &Config,
    secretsmanager: impl FnOnce() -> aws_sdk_secretsmanager::Client,
    clock: Arc<dyn Clock>,
) -> Result<Verification, SetupError> {
    if config.schemes.contains(Scheme::Jwt) && config.audience.is_none() {
        tracing::warn!(
            "JWT signatures are not accepted: set JWT_AUDIENCE to this endpoint's URL to accept them"
        );
    }
    let keys = match &config.keys {
        KeysConfig::Inline(json) => JwksCache::inline(json.as_bytes(), clock.clone())?,
        KeysConfig::Url(url) => JwksCache::remote(url, clock.clone(), CachePolicy::default())?,
    };
    let builder = |secrets: Vec<SigningSecret>| {
        let mut builder = Verifier::builder()
            .secrets(secrets)
            .keys(Arc::new(keys))
            .tolerance_secs(config.tolerance_secs)
            .schemes(config.schemes)
            .clock(clock.clone());
        if let Some(audience) = &config.audience {
            builder = builder.audience(audience.clone());
        }
        builder.build()
    };
    Ok(match &config.secrets {
        SecretsConfig::Inline(secrets) => Verification::fixed(builder(secrets.clone())?, clock),
        SecretsConfig::None => Verification::fixed(builder(Vec::new())?, clock),
        SecretsConfig::SecretsManager { arn } => {
            let source = SecretsManagerSource::new(secretsmanager(), arn.clone());
            let secrets = source.fetch().await?;
            Verification::following(builder(secrets.clone())?, secrets, source, clock)
        }
    })
}
