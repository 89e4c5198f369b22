//! The endpoint's Secrets Manager secret as a source for the refresh engine ([`shared::refresh`]):
//! read at start-up, every five minutes, and at once (at most once a minute) after a miss, so a rotated
//! signing secret or URL token takes effect without a redeploy.

use shared::aws::secrets::read_string;
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
            let text = read_string(&self.client, &self.arn).await.map_err(|e| e.to_string())?;
            let secrets = EndpointSecrets::parse(&text).map_err(|e| format!("{}: {e}", self.arn))?;
            Ok(Fetched { value: secrets, max_age_secs: None })
        })
    }

    fn describe(&self) -> String {
        self.arn.clone()
    }
}
