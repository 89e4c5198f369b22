//! Completing the Step Functions task a tracked job's workflow waits on (`SendTaskSuccess`,
//! `SendTaskFailure`), its failures classified as a send's are ([`SendError`]): a token that is
//! invalid, expired or whose task is gone (`InvalidToken`, `TaskTimedOut`, `TaskDoesNotExist`) or an
//! output Step Functions refuses is refused for good; throttling and faults may pass.

use crate::aws::queue::{SendError, classify};
use crate::ledger::TaskToken;
use crate::workflow::Completion;

/// Step Functions, for the tasks waiting on jobs.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
}

impl StepFunctions {
    /// Completes tasks through `client`.
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }

    /// Completes the task `token` stands for, as `completion` says.
    pub async fn complete(&self, token: &TaskToken, completion: &Completion) -> Result<(), SendError> {
        match completion {
            Completion::Success { output } => self
                .client
                .send_task_success()
                .task_token(token.expose())
                .output(output)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&e)),
            Completion::Failure { error, cause } => self
                .client
                .send_task_failure()
                .task_token(token.expose())
                .error(error)
                .cause(cause)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&e)),
        }
    }
}
