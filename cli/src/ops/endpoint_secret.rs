//! The endpoint's Secrets Manager secret, changed by `webhooks create`, `rotate` and `prune`: a signing
//! secret added beside the others (so no delivery fails while Gemini signs with both), or the ones
//! Gemini no longer uses removed, each recorded with the webhook it belongs to. The URL token is kept.
//! Secrets are never printed: only their truncated form.
//!
//! Two commands changing the secret at once must not lose each other's change: each change is a read,
//! a new version written beside the current one, and a compare-and-swap of the `AWSCURRENT` label from
//! the version read to the new one, which Secrets Manager refuses when the label has moved meanwhile;
//! the change is then read and applied again.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::update_secret_version_stage::UpdateSecretVersionStageError;
use shared::signature::{EndpointSecrets, SecretValueError};

use crate::ops::aws::{AwsCause, cause};

/// The label a new version is written under until it is made current.
const WRITTEN: &str = "gemini-webhooks-written";
/// The label readers (the receiver) read.
const CURRENT: &str = "AWSCURRENT";
/// Attempts at one change when others keep changing the secret meanwhile.
const ATTEMPTS: u32 = 5;

/// The secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// Secrets Manager did not answer as asked.
    #[error("{action} on the endpoint's secret {arn} failed")]
    Aws {
        /// `GetSecretValue`, `PutSecretValue` or `UpdateSecretVersionStage`.
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
    /// Another writer changed the secret between this one's read and its write.
    #[error("the endpoint's secret {arn} changed while this change was being made")]
    Changed {
        /// The secret.
        arn: String,
    },
    /// The change itself was refused, for the reason given.
    #[error("{0}")]
    Refused(String),
}

/// The endpoint's secret in Secrets Manager.
#[derive(Debug, Clone)]
pub struct EndpointSecret {
    client: Client,
    arn: String,
}

/// A value as read: what it holds, and the version it was read from.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The secrets.
    pub secrets: EndpointSecrets,
    version: Option<String>,
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

    fn aws(&self, action: &'static str, error: impl Into<AwsCause>) -> SecretStoreError {
        SecretStoreError::Aws { action, arn: self.arn.clone(), source: error.into() }
    }

    /// Reads and parses the current value.
    pub async fn read(&self) -> Result<Stored, SecretStoreError> {
        let value = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| self.aws("GetSecretValue", cause(e)))?;
        let secrets = EndpointSecrets::parse(value.secret_string().unwrap_or_default())
            .map_err(|source| SecretStoreError::Unusable { arn: self.arn.clone(), source })?;
        Ok(Stored { secrets, version: value.version_id().map(str::to_owned) })
    }

    /// Makes `secrets` the current value, if the version `read` came from is still the current one;
    /// [`SecretStoreError::Changed`] if another writer got there first.
    pub async fn write_if_current(
        &self,
        read: &Stored,
        secrets: &EndpointSecrets,
    ) -> Result<(), SecretStoreError> {
        let written = self
            .client
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(secrets.to_secret_string())
            .version_stages(WRITTEN)
            .send()
            .await
            .map_err(|e| self.aws("PutSecretValue", cause(e)))?;
        let swapped = self
            .client
            .update_secret_version_stage()
            .secret_id(&self.arn)
            .version_stage(CURRENT)
            .set_remove_from_version_id(read.version.clone())
            .set_move_to_version_id(written.version_id().map(str::to_owned))
            .send()
            .await;
        match swapped {
            Ok(_) => Ok(()),
            // The label is no longer on the version read: someone else made a version current.
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(UpdateSecretVersionStageError::InvalidParameterException(_))
                ) =>
            {
                Err(SecretStoreError::Changed { arn: self.arn.clone() })
            }
            Err(error) => Err(self.aws("UpdateSecretVersionStage", cause(error))),
        }
    }

    /// Applies `change` to the current value and writes the result, so that no concurrent change is
    /// lost: when another writer got there first, reads again and applies `change` to that. Returns
    /// what `change` returned and the value written.
    pub async fn update<T>(
        &self,
        mut change: impl FnMut(&mut EndpointSecrets) -> Result<T, SecretStoreError>,
    ) -> Result<(T, EndpointSecrets), SecretStoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let read = self.read().await?;
            let mut secrets = read.secrets.clone();
            let outcome = change(&mut secrets)?;
            match self.write_if_current(&read, &secrets).await {
                Ok(()) => return Ok((outcome, secrets)),
                Err(SecretStoreError::Changed { .. }) if attempt < ATTEMPTS => continue,
                Err(error) => return Err(error),
            }
        }
    }
}
