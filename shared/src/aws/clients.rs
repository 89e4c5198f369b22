//! The AWS clients a function builds at cold start, from one configuration: its own SDK timeouts, and
//! the endpoint override its configuration read from `AWS_ENDPOINT_URL` (a local emulator: tests,
//! `sam local`).
//!
//! The override is set on each client here, replacing whatever the SDK read from the environment:
//! `sam local` passes every variable the template declares, and one declared for local use but not set
//! arrives empty, which the SDK's clients would take as the endpoint "" and panic on at the first call.
//! Here, empty means none (and `AWS_ENDPOINT_URL_<SERVICE>` variables are not read).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// SDK timeouts: connect, each attempt, and the whole operation (retries included).
pub fn timeouts(connect: Duration, attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Builds the clients of one function.
#[derive(Debug, Clone)]
pub struct Clients {
    sdk: SdkConfig,
    endpoint_url: Option<String>,
}

impl Clients {
    /// Loads the SDK's configuration (region and credentials from the environment, as in Lambda) with
    /// `timeouts`, and `endpoint_url` for every client when given.
    pub async fn load(endpoint_url: Option<String>, timeouts: TimeoutConfig) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await;
        Self::from_sdk_config(sdk, endpoint_url)
    }

    /// Clients from an SDK configuration already made (tests point one at an emulator).
    pub fn from_sdk_config(sdk: SdkConfig, endpoint_url: Option<String>) -> Self {
        Self { sdk, endpoint_url: endpoint_url.filter(|url| !url.trim().is_empty()) }
    }

    /// The SDK configuration, for a client of a service not built here (the consumer's S3).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The endpoint override, when there is one.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// An SQS client.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let mut config = aws_sdk_sqs::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_sqs::Client::from_conf(config.build())
    }

    /// A DynamoDB client.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    /// A Secrets Manager client.
    pub fn secretsmanager(&self) -> aws_sdk_secretsmanager::Client {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_secretsmanager::Client::from_conf(config.build())
    }
}
