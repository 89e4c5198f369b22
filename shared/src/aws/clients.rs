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

/// SDK timeouts: connect, each attempt, and the whole operation (retries included). One profile per
/// kind of caller, named for who waits on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// Each attempt.
    pub attempt: Duration,
    /// The whole operation, retries included.
    pub operation: Duration,
}

impl Timeouts {
    /// The receiver: Gemini waits on its answer, so a stuck call becomes a 503 (and Gemini's retry)
    /// within seconds, not a timeout of the whole function.
    pub const RECEIVER: Self = Self::secs(1, 2, 5);
    /// A stage on a queue or a stream (the recorder, the fanout): a stuck call fails its record, which
    /// the trigger retries, well inside the function's 30 seconds. Generous per attempt, because a
    /// write that times out after it was applied is only found out on the retry.
    pub const STAGE: Self = Self::secs(1, 5, 20);
    /// A downstream consumer: its calls (S3 writes, a claim) take longer than a stage's, and it has
    /// minutes.
    pub const CONSUMER: Self = Self::secs(1, 10, 30);
    /// A person or a script at a terminal (the CLI): an attempt outlasts SQS's longest poll (20 s), and a
    /// hung service is an error naming the call, not a command that never returns.
    pub const INTERACTIVE: Self = Self::secs(5, 30, 90);

    /// A profile of whole seconds.
    pub const fn secs(connect: u64, attempt: u64, operation: u64) -> Self {
        Self {
            connect: Duration::from_secs(connect),
            attempt: Duration::from_secs(attempt),
            operation: Duration::from_secs(operation),
        }
    }

    /// As the SDK takes them.
    pub fn config(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
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
    pub async fn load(endpoint_url: Option<String>, timeouts: Timeouts) -> Self {
        let sdk =
            aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts.config()).load().await;
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

    /// An EventBridge Scheduler client.
    #[cfg(feature = "ledger")]
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        let mut config = aws_sdk_scheduler::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_scheduler::Client::from_conf(config.build())
    }

    /// An EventBridge client (buses as route targets).
    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        let mut config = aws_sdk_eventbridge::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_eventbridge::Client::from_conf(config.build())
    }

    /// A Step Functions client (completing the tasks that wait on jobs).
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        let mut config = aws_sdk_sfn::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_sfn::Client::from_conf(config.build())
    }

    /// A Secrets Manager client.
    pub fn secretsmanager(&self) -> aws_sdk_secretsmanager::Client {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk);
        config.set_endpoint_url(self.endpoint_url.clone());
        aws_sdk_secretsmanager::Client::from_conf(config.build())
    }
}
