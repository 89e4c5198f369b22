//! The current verifier, with `v1` secrets that follow a Secrets Manager secret: re-read every five
//! minutes, and at once (at most once a minute) when a `v1` signature matches none of the secrets we
//! hold, so a rotation takes effect without a redeploy.

use std::sync::{Arc, RwLock};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use http::HeaderMap;
use shared::clock::Clock;
use shared::signature::{SigningSecret, Verified, Verifier, VerifyError};
use tokio::sync::Mutex;

/// Re-read the secret at least this often.
pub const REFRESH_EVERY_SECS: i64 = 300;
/// Re-read early, after a miss, at most this often.
pub const MISS_REFETCH_SECS: i64 = 60;

/// The secret could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("reading signing secrets from Secrets Manager failed: {0}")]
pub struct SecretsError(String);

/// A Secrets Manager secret holding a whitespace-separated `whsec_` list.
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretsManagerSource {
    /// The secret `arn` (or name), read through `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> Self {
        Self { client, arn: arn.into() }
    }

    /// Reads and parses the secret's current value.
    pub async fn fetch(&self) -> Result<Vec<SigningSecret>, SecretsError> {
        let value = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| SecretsError(DisplayErrorContext(e).to_string()))?;
        let text =
            value.secret_string().ok_or_else(|| SecretsError("the secret has no string value".into()))?;
        SigningSecret::parse_list(text).map_err(|e| SecretsError(e.to_string()))
    }
}

#[derive(Debug)]
struct Refresh {
    last_fetch: i64,
    last_attempt: i64,
}

/// The verifier every request uses, swapped whole when the secrets change.
#[derive(Debug)]
pub struct Verification {
    current: RwLock<Arc<Verifier>>,
    source: Option<SecretsManagerSource>,
    clock: Arc<dyn Clock>,
    refresh: Mutex<Refresh>,
}

impl Verification {
    /// Verification with fixed secrets (from the environment, or none).
    pub fn fixed(verifier: Verifier, clock: Arc<dyn Clock>) -> Self {
        Self::new(verifier, None, clock)
    }

    /// Verification whose secrets follow `source`; `verifier` already holds its current value.
    pub fn following(verifier: Verifier, source: SecretsManagerSource, clock: Arc<dyn Clock>) -> Self {
        Self::new(verifier, Some(source), clock)
    }

    fn new(verifier: Verifier, source: Option<SecretsManagerSource>, clock: Arc<dyn Clock>) -> Self {
        let now = clock.unix_now();
        Self {
            current: RwLock::new(Arc::new(verifier)),
            source,
            clock,
            refresh: Mutex::new(Refresh { last_fetch: now, last_attempt: now }),
        }
    }

    fn current(&self) -> Arc<Verifier> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Verifies a delivery with the current secrets and keys.
    pub async fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        if self.source.is_some() {
            self.refresh(false).await;
        }
        let outcome = self.current().verify(headers, body).await;
        match outcome {
            Err(VerifyError::NoMatch) if self.source.is_some() && self.refresh(true).await => {
                self.current().verify(headers, body).await
            }
            other => other,
        }
    }

    /// Re-reads the secret when due (or, after a miss, when the rate limit allows); true when the
    /// secrets changed.
    async fn refresh(&self, after_miss: bool) -> bool {
        let Some(source) = &self.source else { return false };
        let now = self.clock.unix_now();
        let mut refresh = self.refresh.lock().await;
        let due = if after_miss {
            now - refresh.last_attempt >= MISS_REFETCH_SECS
        } else {
            now - refresh.last_fetch >= REFRESH_EVERY_SECS && now - refresh.last_attempt >= MISS_REFETCH_SECS
        };
        if !due {
            return false;
        }
        refresh.last_attempt = now;
        let secrets = match source.fetch().await {
            Ok(secrets) => secrets,
            Err(error) => {
                tracing::warn!(%error, "keeping the current signing secrets");
                return false;
            }
        };
        refresh.last_fetch = now;
        match self.current().with_secrets(secrets) {
            Ok(verifier) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(verifier);
                tracing::info!(after_miss, "signing secrets re-read");
                true
            }
            Err(error) => {
                tracing::warn!(%error, "re-read signing secrets unusable; keeping the current ones");
                false
            }
        }
    }
}
