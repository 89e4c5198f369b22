//! The endpoint's Secrets Manager secret, changed by `webhooks create`, `rotate` and `prune`: a signing
//! secret added beside the others (so no delivery fails while Gemini signs with both), or the ones
//! Gemini no longer uses removed. The URL token is kept, and so is the value's shape (the console's
//! JSON key/value form, or plain text). Secrets are never printed: only their truncated form.

use aws_sdk_secretsmanager::Client;
use serde_json::json;
use shared::signature::{EndpointSecrets, SecretValueError, SigningSecret};

use crate::aws::{AwsCause, cause};

/// The secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// Secrets Manager did not answer as asked.
    #[error("{action} on the endpoint's secret {arn} failed")]
    Aws {
        /// `GetSecretValue` or `PutSecretValue`.
        action: &'static str,
        /// The secret.
        arn: String,
        /// What Secrets Manager said.
        #[source]
        source: AwsCause,
    },
    /// The value is not an endpoint secret.
    #[error("the endpoint's secret {arn} is not usable")]
    Unusable {
        /// The secret.
        arn: String,
        /// What is wrong (never a value).
        #[source]
        source: SecretValueError,
    },
}

/// The endpoint's secret in Secrets Manager.
#[derive(Debug, Clone)]
pub struct EndpointSecret {
    client: Client,
    arn: String,
}

/// A value as read: what it holds, and whether it was JSON.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The secrets.
    pub secrets: EndpointSecrets,
    json: bool,
}

impl EndpointSecret {
    /// The secret `arn` (or name).
    pub fn new(client: Client, arn: impl Into<String>) -> Self {
        Self { client, arn: arn.into() }
    }

    /// Its ARN or name.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// Reads and parses the current value.
    pub async fn read(&self) -> Result<Stored, SecretStoreError> {
        let value = self.client.get_secret_value().secret_id(&self.arn).send().await.map_err(|e| {
            SecretStoreError::Aws { action: "GetSecretValue", arn: self.arn.clone(), source: cause(e) }
        })?;
        let text = value.secret_string().unwrap_or_default();
        let secrets = EndpointSecrets::parse(text)
            .map_err(|source| SecretStoreError::Unusable { arn: self.arn.clone(), source })?;
        Ok(Stored { secrets, json: text.trim_start().starts_with('{') || text.trim().is_empty() })
    }

    /// Writes `signing` as the signing secrets, in `stored`'s shape, keeping its URL token.
    pub async fn write(&self, stored: &Stored, signing: &[SigningSecret]) -> Result<(), SecretStoreError> {
        let list: Vec<String> = signing.iter().map(SigningSecret::expose_whsec).collect();
        let value = if stored.json {
            let mut value = json!({"signing_secrets": list.join(" ")});
            if let Some(token) = &stored.secrets.url_token {
                value["url_token"] = json!(token.expose());
            }
            value.to_string()
        } else {
            list.join(" ")
        };
        self.client.put_secret_value().secret_id(&self.arn).secret_string(value).send().await.map_err(
            |e| SecretStoreError::Aws { action: "PutSecretValue", arn: self.arn.clone(), source: cause(e) },
        )?;
        Ok(())
    }

    /// Adds `secret` beside those already there (newest first); returns what it wrote.
    pub async fn add(
        &self,
        stored: &Stored,
        secret: &SigningSecret,
    ) -> Result<Vec<SigningSecret>, SecretStoreError> {
        let mut signing = vec![secret.clone()];
        signing.extend(stored.secrets.signing.iter().filter(|s| *s != secret).cloned());
        self.write(stored, &signing).await?;
        Ok(signing)
    }
}
