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
        let secrets = SigningSecret::parse_list(text).map_err(|e| SecretsError(e.to_string()))?;
        if secrets.is_empty() {
            // An emptied secret would silently turn v1 off; keep the secrets we have instead.
            return Err(SecretsError("the secret holds no whsec_ value".into()));
        }
        Ok(secrets)
    }
}

#[derive(Debug)]
struct Refresh {
    last_fetch: i64,
    last_attempt: i64,
    /// The secrets last installed, to tell a real rotation from a re-read of the same value.
    secrets: Vec<SigningSecret>,
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
        Self::new(verifier, Vec::new(), None, clock)
    }

    /// Verification whose secrets follow `source`; `verifier` was built with `secrets`, its current value.
    pub fn following(
        verifier: Verifier,
        secrets: Vec<SigningSecret>,
        source: SecretsManagerSource,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::new(verifier, secrets, Some(source), clock)
    }

    fn new(
        verifier: Verifier,
        secrets: Vec<SigningSecret>,
        source: Option<SecretsManagerSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let now = clock.unix_now();
        Self {
            current: RwLock::new(Arc::new(verifier)),
            source,
            clock,
            refresh: Mutex::new(Refresh { last_fetch: now, last_attempt: now, secrets }),
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

    /// Re-reads the secret when due (or, after a miss, when the rate limit allows); true only when
    /// other secrets were installed, so a miss is re-verified only when that can change the answer.
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
        if secrets == refresh.secrets {
            return false;
        }
        match self.current().with_secrets(secrets.clone()) {
            Ok(verifier) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(verifier);
                refresh.secrets = secrets;
                tracing::info!(
                    after_miss,
                    count = refresh.secrets.len(),
                    "rotated signing secrets installed"
                );
                true
            }
            Err(error) => {
                tracing::warn!(%error, "re-read signing secrets unusable; keeping the current ones");
                false
            }
        }
    }
}
