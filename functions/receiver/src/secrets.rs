//! The endpoint's Secrets Manager secret as a source for the refresh engine ([`shared::refresh`]):
//! read at start-up, every five minutes, and at once (at most once a minute) after a miss, so a rotated
//! signing secret or URL token takes effect without a redeploy.

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use shared::refresh::{Fetched, Fetching, Source};
use shared::signature::EndpointSecrets;

/// A Secrets Manager secret holding the endpoint's secrets, in either shape
/// ([`EndpointSecrets::parse`]).
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
}

impl Source<EndpointSecrets> for SecretsManagerSource {
    fn fetch(&self) -> Fetching<'_, EndpointSecrets> {
        Box::pin(async move {
            let value = self
                .client
                .get_secret_value()
                .secret_id(&self.arn)
                .send()
                .await
                .map_err(|e| format!("reading {}: {}", self.arn, DisplayErrorContext(e)))?;
            let text = value.secret_string().ok_or_else(|| format!("{} has no string value", self.arn))?;
            let secrets = EndpointSecrets::parse(text).map_err(|e| format!("{}: {e}", self.arn))?;
            Ok(Fetched { value: secrets, max_age_secs: None })
        })
    }

    fn describe(&self) -> String {
        self.arn.clone()
    }
}
