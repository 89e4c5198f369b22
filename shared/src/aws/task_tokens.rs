//! Completing the Step Functions task a tracked job's workflow waits on (`SendTaskSuccess`,
//! `SendTaskFailure`), its failures classified as a send's are ([`SendError`]): a token that is
//! invalid, expired or whose task is gone (`InvalidToken`, `TaskTimedOut`, `TaskDoesNotExist`) or an
//! output Step Functions refuses is refused for good; throttling and faults may pass.

use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::aws::queue::{SendError, by_code};
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

/// Classifies a failed call. Its detail never holds the token (the SDK's message names the error).
fn classify<E>(error: &SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("Unknown");
            by_code(code, Some(status), format!("{code}: {}", context.err().message().unwrap_or_default()))
        }
        SdkError::ConstructionFailure(_) => {
            SendError::MessageRefused { code: "ConstructionFailure".into(), detail: "not buildable".into() }
        }
        _ => SendError::Transient(DisplayErrorContext(error).to_string()),
    }
}
