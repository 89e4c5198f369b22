//! Start-up wiring shared by `main` and the tests: the verifier from configuration, and what the
//! function should say about it at start-up.

use std::fmt;
use std::sync::Arc;

use shared::clock::Clock;
use shared::keys::{JwksCache, JwksError, JwksUrlError};
use shared::refresh::{RefreshPolicy, Refreshing};
use shared::signature::{BuildError, EndpointSecrets, SIGNING_SECRETS, Scheme, Verifier};

use crate::config::{Config, KeysConfig, SecretsConfig};
use crate::secrets::SecretsManagerSource;

/// Start-up failed; the message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `JWKS_JSON` is neither a usable key set nor usable public keys.
    #[error("configuration error in JWKS_JSON: {0}")]
    InlineKeys(#[from] JwksError),
    /// `JWKS_URL` cannot be used.
    #[error("configuration error in JWKS_URL: {0}")]
    KeysUrl(#[from] JwksUrlError),
    /// No accepted scheme has what it needs: every delivery would be refused.
    #[error("configuration error in ACCEPTED_SCHEMES: nothing to verify with ({0})")]
    NothingToVerifyWith(String),
    /// The verifier refused its settings otherwise.
    #[error("configuration error: {0}")]
    Verifier(BuildError),
}

impl SetupError {
    fn verifier(error: BuildError, config: &Config) -> Self {
        match error {
            BuildError::NothingToVerifyWith => Self::NothingToVerifyWith(missing(config)),
            other => Self::Verifier(other),
        }
    }
}

/// What each accepted scheme lacks, by variable.
fn missing(config: &Config) -> String {
    let needs = |scheme: Scheme| match scheme {
        Scheme::V1 => "v1 needs a signing secret: set WEBHOOK_SECRETS (or WEBHOOK_SECRETS_ARN)",
        Scheme::V1a => "v1a needs WEBHOOK_URL_TOKEN (or url_token in the WEBHOOK_SECRETS_ARN secret)",
        Scheme::Jwt => "jwt needs JWT_AUDIENCE and WEBHOOK_URL_TOKEN",
        // Never in a configured set: nothing delivered is accepted as reconciled.
        Scheme::Reconciled => "",
    };
    config.schemes.iter().map(needs).collect::<Vec<_>>().join("; ")
}

/// Something the receiver says at start-up, so a configuration that refuses deliveries is not silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Dynamic schemes are accepted, but no URL token is configured: every `v1a`/JWT delivery is refused.
    NoUrlToken,
    /// JWT is accepted, but no audience is configured: every JWT delivery is refused.
    NoJwtAudience,
    /// The secret holds no signing secret: `v1` deliveries get 401 `no_signing_secret` until the endpoint
    /// is registered.
    NotRegistered,
    /// The secret could not be read at start-up; requests will try again.
    SecretsUnreadable(String),
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoUrlToken => f.write_str(
                "v1a and JWT deliveries are refused: no URL token is configured (set WEBHOOK_URL_TOKEN, or \
                 url_token in the WEBHOOK_SECRETS_ARN secret; make one with `gemini-webhooks keygen`)",
            ),
            Self::NoJwtAudience => f.write_str(
                "JWT deliveries are refused: set JWT_AUDIENCE to this endpoint's URL to accept them",
            ),
            Self::NotRegistered => f.write_str(
                "v1 deliveries get 401 no_signing_secret until the endpoint is registered: the secret holds \
                 no whsec_ signing secret yet (gemini-webhooks webhooks create --stack NAME writes it)",
            ),
            Self::SecretsUnreadable(reason) => {
                write!(f, "the signing secrets could not be read yet: {reason}")
            }
        }
    }
}

/// Builds the verifier from configuration: the key set, and the endpoint's secrets (read once now from
/// Secrets Manager when configured so, then kept fresh). Returns what to say at start-up beside it.
pub async fn build_verifier(
    config: &Config,
    secretsmanager: impl FnOnce() -> aws_sdk_secretsmanager::Client,
    clock: Arc<dyn Clock>,
) -> Result<(Verifier, Vec<Notice>), SetupError> {
    let keys = match &config.keys {
        KeysConfig::Inline(json) => JwksCache::inline(json.as_bytes(), clock.clone())?,
        KeysConfig::Url(url) => JwksCache::remote(url, clock.clone(), RefreshPolicy::JWKS)?,
    };
    let mut builder = Verifier::builder()
        .keys(Arc::new(keys))
        .tolerance_secs(config.tolerance_secs)
        .schemes(config.schemes)
        .clock(clock.clone());
    if let Some(audience) = &config.audience {
        builder = builder.audience(audience.clone());
    }
    if let Some(issuer) = &config.issuer {
        builder = builder.issuer(issuer.clone());
    }
    let known = match &config.secrets {
        SecretsConfig::Inline(secrets) => {
            builder = builder.secrets(secrets.signing.clone());
            if let Some(token) = &secrets.url_token {
                builder = builder.url_token(token.clone());
            }
            Ok(secrets.clone())
        }
        SecretsConfig::SecretsManager { arn } => {
            let source = SecretsManagerSource::new(secretsmanager(), arn.clone());
            let secrets =
                Arc::new(Refreshing::from_source(SIGNING_SECRETS, source, clock, RefreshPolicy::SECRETS));
            // Read now, while the cold start has the CPU; a failure is not fatal: requests retry it.
            let current = secrets.current().await.map(|s| (*s).clone()).map_err(|e| e.to_string());
            builder = builder.secrets_from(secrets);
            current
        }
    };
    let verifier = builder.build().map_err(|e| SetupError::verifier(e, config))?;
    Ok((verifier, notices(config, known)))
}

/// What the configuration refuses, said once at start-up.
fn notices(config: &Config, secrets: Result<EndpointSecrets, String>) -> Vec<Notice> {
    let accepts = |scheme| config.schemes.contains(scheme);
    let dynamic = accepts(Scheme::V1a) || accepts(Scheme::Jwt);
    let mut notices = Vec::new();
    match secrets {
        Ok(secrets) => {
            if dynamic && secrets.url_token.is_none() {
                notices.push(Notice::NoUrlToken);
            }
            let registered_elsewhere = matches!(config.secrets, SecretsConfig::Inline(_));
            if accepts(Scheme::V1) && secrets.signing.is_empty() && !registered_elsewhere {
                notices.push(Notice::NotRegistered);
            }
        }
        Err(reason) => notices.push(Notice::SecretsUnreadable(reason)),
    }
    if accepts(Scheme::Jwt) && config.audience.is_none() {
        notices.push(Notice::NoJwtAudience);
    }
    notices
}
