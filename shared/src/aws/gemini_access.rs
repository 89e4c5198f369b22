//! The Gemini API from a function (features `aws` and `gemini`): the key read from Secrets Manager once
//! per container and read again when Gemini refuses it (a rotated key), never logged. The example
//! consumer's and the reconciler's.

use std::time::Duration;

use crate::aws::secrets::{SecretUnreadable, read_string};
use crate::gemini::{ApiError, ApiLocation, GeminiClient};
use tokio::sync::Mutex;

/// Why the API cannot be called.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The key could not be read.
    #[error(transparent)]
    Secret(#[from] SecretUnreadable),
    /// The secret holds no key.
    #[error(
        "the secret {0} holds no Gemini API key yet: put yours in it (aws secretsmanager put-secret-value)"
    )]
    NoKey(String),
    /// The client could not be built.
    #[error(transparent)]
    Client(#[from] ApiError),
}

/// Calls to Gemini with the key from `arn`.
#[derive(Debug)]
pub struct GeminiAccess {
    secrets: aws_sdk_secretsmanager::Client,
    arn: String,
    api: ApiLocation,
    timeouts: (Duration, Duration),
    client: Mutex<Option<GeminiClient>>,
}

/// What the stack's key secret holds until a key is put in it (a secret cannot be empty).
pub const UNSET_API_KEY: &str = "NOT_SET";

/// Each API call's limit.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

impl GeminiAccess {
    /// The API at `api`, its key in the secret `arn`; each call within [`CALL_TIMEOUT`], a download
    /// within `download`.
    pub fn new(
        secrets: aws_sdk_secretsmanager::Client,
        arn: impl Into<String>,
        api: ApiLocation,
        download: Duration,
    ) -> Self {
        let timeouts = (CALL_TIMEOUT, download);
        Self { secrets, arn: arn.into(), api, timeouts, client: Mutex::new(None) }
    }

    /// The client, its key read on first use.
    pub async fn client(&self) -> Result<GeminiClient, AccessError> {
        let mut cached = self.client.lock().await;
        if let Some(client) = cached.as_ref() {
            return Ok(client.clone());
        }
        let value = read_string(&self.secrets, &self.arn).await?;
        let key = value.trim();
        if key.is_empty() || key == UNSET_API_KEY {
            return Err(AccessError::NoKey(self.arn.clone()));
        }
        let client = self.api.client(key)?.with_timeouts(self.timeouts.0, self.timeouts.1)?;
        *cached = Some(client.clone());
        Ok(client)
    }

    /// Forgets the key when Gemini refused it, so the next call reads it again.
    pub async fn refused(&self, error: &ApiError) {
        if matches!(error.status(), Some(400 | 401 | 403)) {
            *self.client.lock().await = None;
        }
    }
}
