//! The stack's dynamic webhook, as the starter gives it to Gemini: the receiver's URL with the
//! endpoint's URL token, read from the endpoint's secret once per container (and again after a
//! failure, so a token put in later is picked up). The URL holds the token: it is never logged.

use shared::aws::secrets::{SecretUnreadable, read_string};
use shared::signature::EndpointSecrets;
use tokio::sync::Mutex;

/// Why the webhook's URL cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret could not be read.
    #[error(transparent)]
    Secret(#[from] SecretUnreadable),
    /// The secret holds no endpoint secrets.
    #[error("the endpoint's secret {arn} is not usable: {detail}")]
    Unusable {
        /// The secret.
        arn: String,
        /// What is wrong (never a value).
        detail: String,
    },
    /// The secret holds no URL token: dynamic deliveries would be refused.
    #[error("the endpoint's secret {0} holds no url_token: make one with `gemini-webhooks keygen`")]
    NoToken(String),
}

/// The dynamic webhook's URL.
#[derive(Debug)]
pub struct DynamicWebhook {
    secrets: aws_sdk_secretsmanager::Client,
    arn: String,
    url: String,
    made: Mutex<Option<String>>,
}

impl DynamicWebhook {
    /// The receiver at `url`, its token in the secret `arn`.
    pub fn new(secrets: aws_sdk_secretsmanager::Client, arn: &str, url: &str) -> Self {
        Self { secrets, arn: arn.to_owned(), url: url.to_owned(), made: Mutex::new(None) }
    }

    /// The URL, with the token.
    pub async fn url(&self) -> Result<String, WebhookError> {
        let mut made = self.made.lock().await;
        if let Some(url) = made.as_ref() {
            return Ok(url.clone());
        }
        let value = read_string(&self.secrets, &self.arn).await?;
        let stored = EndpointSecrets::parse(&value)
            .map_err(|e| WebhookError::Unusable { arn: self.arn.clone(), detail: e.to_string() })?;
        let token = stored.url_token.ok_or_else(|| WebhookError::NoToken(self.arn.clone()))?;
        let url = token.in_url(&self.url);
        *made = Some(url.clone());
        Ok(url)
    }
}
