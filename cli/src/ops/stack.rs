//! A deployed stack, as the CLI finds it: its outputs (the webhook URL, queue URLs, the endpoint's
//! secret) by stack name, so no command needs a URL or ARN copied by hand.

use std::collections::BTreeMap;

use crate::ops::aws::{AwsCause, cause};

/// The outputs the CLI reads, by name: `template.yaml` declares each (a test holds them together).
pub mod outputs {
    /// The receiver's Function URL.
    pub const WEBHOOK_URL: &str = "WebhookUrl";
    /// The endpoint's secret.
    pub const ENDPOINT_SECRET_ARN: &str = "EndpointSecretArn";
    /// The events table.
    pub const EVENTS_TABLE: &str = "EventsTableName";
    /// The ingest queue.
    pub const INGEST_QUEUE: &str = "IngestQueueUrl";
    /// The ingest DLQ.
    pub const INGEST_DLQ: &str = "IngestDLQUrl";
    /// The fanout DLQ.
    pub const FANOUT_DLQ: &str = "FanoutDLQUrl";
    /// The fanout function, whose configuration is the routing.
    pub const FANOUT_FUNCTION: &str = "FanoutFunctionName";
    /// The example consumer's results bucket.
    pub const RESULTS_BUCKET: &str = "ResultsBucketName";
    /// The jobs ledger (with `JobsLedger`).
    pub const JOBS_TABLE: &str = "JobsTableName";
    /// The schedule group of the ledger's checks.
    pub const SCHEDULE_GROUP: &str = "ScheduleGroupName";
    /// The reconciler, which the checks invoke.
    pub const RECONCILER_FUNCTION: &str = "ReconcilerFunctionArn";
    /// The role the checks invoke the reconciler as.
    pub const SCHEDULER_ROLE: &str = "SchedulerRoleArn";
    /// The routed queues, by the name commands take.
    pub const ROUTED: [(&str, &str); 4] = [
        ("batch", "BatchQueueUrl"),
        ("interaction", "InteractionQueueUrl"),
        ("video", "VideoQueueUrl"),
        ("default", "DefaultQueueUrl"),
    ];

    /// The jobs ledger's outputs, there exactly when it is (`JobsLedger`).
    pub const LEDGER: [&str; 4] = [JOBS_TABLE, SCHEDULE_GROUP, RECONCILER_FUNCTION, SCHEDULER_ROLE];

    /// Every output read.
    pub fn all() -> Vec<&'static str> {
        let mut all = vec![
            WEBHOOK_URL,
            ENDPOINT_SECRET_ARN,
            EVENTS_TABLE,
            INGEST_QUEUE,
            INGEST_DLQ,
            FANOUT_DLQ,
            FANOUT_FUNCTION,
        ];
        all.extend(LEDGER);
        all.extend(ROUTED.iter().map(|(_, output)| *output));
        all
    }
}

/// A stack's outputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// CloudFormation did not answer (credentials, region, a stack that does not exist).
    #[error("reading stack {stack} (check the name, your credentials and AWS_REGION)")]
    Describe {
        /// The stack name.
        stack: String,
        /// CloudFormation's answer.
        #[source]
        source: AwsCause,
    },
    /// The stack has no such output (not this project's stack, or an older version of it).
    #[error(
        "stack {stack} has no output {output}: is it a gemini-webhooks stack, deployed from this version?"
    )]
    MissingOutput {
        /// The stack name.
        stack: String,
        /// The output's key.
        output: &'static str,
    },
}

/// A stack's outputs, by key.
#[derive(Debug, Clone)]
pub struct StackOutputs {
    stack: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    /// Reads `stack`'s outputs.
    pub async fn load(client: &aws_sdk_cloudformation::Client, stack: &str) -> Result<Self, StackError> {
        let described = client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| StackError::Describe { stack: stack.to_owned(), source: cause(e) })?;
        let outputs = described
            .stacks()
            .iter()
            .flat_map(|s| s.outputs())
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect();
        Ok(Self { stack: stack.to_owned(), outputs })
    }

    /// Outputs given directly (tests, and the local stack).
    pub fn from_map(stack: &str, outputs: BTreeMap<String, String>) -> Self {
        Self { stack: stack.to_owned(), outputs }
    }

    /// One output's value.
    pub fn get(&self, output: &'static str) -> Result<&str, StackError> {
        self.outputs
            .get(output)
            .map(String::as_str)
            .ok_or_else(|| StackError::MissingOutput { stack: self.stack.clone(), output })
    }
}
