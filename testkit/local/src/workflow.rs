//! The chained workflow (`workflows/chained.asl.json`) on this machine: its state machine in the
//! emulator's Step Functions, sending its job requests to the stack's job-requests queue, where the
//! starter (`functions/starter`) takes them as its SQS trigger would. `make demo` and the tests run it.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use serde_json::json;
use shared::fixtures::lambda_events::sqs_record;
use testkit::Emulator;

use crate::Pipeline;

type Error = Box<dyn std::error::Error>;

/// The workflow's definition, as the repository keeps it.
pub const DEFINITION: &str = include_str!("../../../workflows/chained.asl.json");

/// The chained workflow's state machine, in the emulator.
pub struct ChainedWorkflow {
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    requests: String,
    /// The state machine's ARN.
    pub state_machine: String,
}

impl ChainedWorkflow {
    /// Creates the state machine (named after `pipeline`'s stack), its requests going to the stack's
    /// job-requests queue, as the template's `DefinitionSubstitutions` make it.
    pub async fn create(emulator: &Emulator, pipeline: &Pipeline) -> Result<Self, Error> {
        let config = emulator.sdk_config().await;
        let (sfn, sqs) = (aws_sdk_sfn::Client::new(&config), aws_sdk_sqs::Client::new(&config));
        let requests = pipeline.stack.job_requests.url.clone();
        let state_machine = sfn
            .create_state_machine()
            .name(format!("{}-chained", pipeline.stack.prefix))
            .role_arn("arn:aws:iam::123456789012:role/workflow")
            .definition(DEFINITION.replace("${JobRequestsQueueUrl}", &requests))
            .send()
            .await?
            .state_machine_arn;
        Ok(Self { sfn, sqs, requests, state_machine })
    }

    /// Starts an execution named `name` on `prompts`, the batch by `batch_model` and the summary by
    /// `summary_model`; returns its ARN.
    pub async fn start(
        &self,
        name: &str,
        prompts: &[&str],
        batch_model: &str,
        summary_model: &str,
    ) -> Result<String, Error> {
        let input = json!({"prompts": prompts, "batch_model": batch_model, "summary_model": summary_model});
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await?;
        Ok(started.execution_arn)
    }

    /// The next job request a task sent (waited for, a few seconds at most), taken off the queue as the
    /// starter's trigger hands it over.
    pub async fn next_request(&self) -> Result<SqsMessage, Error> {
        for _ in 0..250 {
            let page = self.sqs.receive_message().queue_url(&self.requests).send().await?;
            let Some(message) = page.messages().first() else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            if let Some(receipt) = message.receipt_handle() {
                self.sqs.delete_message().queue_url(&self.requests).receipt_handle(receipt).send().await?;
            }
            return Ok(sqs_record(message, &self.requests));
        }
        Err("the workflow sent no job request".into())
    }
}
