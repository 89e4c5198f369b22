//! One job request: parsed, claimed, its job started and tracked, or its task failed, or kept.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::clients::Clients;
use shared::aws::gemini_access::{AccessError, GeminiAccess};
use shared::aws::idempotency::{Claim, Held, Idempotency};
use shared::aws::jobs_ledger::JobsLedger;
use shared::aws::publish::pause_before_retry;
use shared::aws::queue::{SendError, SqsQueue};
use shared::aws::schedules::Schedules;
use shared::aws::task_tokens::StepFunctions;
use shared::clock::Clock;
use shared::gemini::{ApiError, WebhookConfig};
use shared::ledger::{self, Deadlines, JobEntry, JobName, TaskToken};
use shared::reconcile::{self, ReconcileError};
use shared::workflow::Completion;
use shared::workflow::request::{self, Job, JobRequest, MAX_RESULTS_BYTES, Unusable};

use crate::config::Config;
use crate::webhook::{DynamicWebhook, WebhookError};

/// The function's timeout in `template.yaml`: a claim's lease, so a claim outlasts the invocation
/// holding it.
pub const FUNCTION_TIMEOUT_SECS: u64 = 60;
/// Its claims' namespace in the claims table.
pub const NAMESPACE: &str = "starter";
/// A started task is remembered for two weeks: past the queue's retention and a redrive.
pub const KEEP_SECS: u64 = 14 * 24 * 3600;
/// How long reading a batch's results for a summary may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at tracking a job once it has started (each a conditional put and a schedule).
const TRACK_ATTEMPTS: u32 = 3;

/// The starter's dependencies, built once per container.
#[derive(Debug)]
pub struct Starter {
    /// Where requests naming no task are kept.
    pub requests_dlq: SqsQueue,
    /// Claims on each task, so each request starts one job.
    pub once: Idempotency,
    /// The jobs ledger.
    pub ledger: JobsLedger,
    /// Where each job's first check is scheduled.
    pub schedules: Schedules,
    /// The Gemini API.
    pub gemini: GeminiAccess,
    /// The stack's dynamic webhook.
    pub webhook: DynamicWebhook,
    /// Step Functions, to fail a task whose job cannot start.
    pub tasks: StepFunctions,
    /// For the entries' times.
    pub clock: Arc<dyn Clock>,
}

impl Starter {
    /// The starter `config` describes, on `aws`'s clients: what `main` serves and the local stack runs.
    pub fn from_config(config: &Config, aws: &Clients, clock: Arc<dyn Clock>) -> Self {
        Self {
            requests_dlq: SqsQueue::new(aws.sqs(), &config.requests_dlq_url),
            once: Idempotency::new(
                aws.dynamodb(),
                &config.claims_table,
                NAMESPACE,
                FUNCTION_TIMEOUT_SECS,
                KEEP_SECS,
                clock.clone(),
            ),
            ledger: JobsLedger::new(aws.dynamodb(), &config.jobs_table),
            schedules: Schedules::new(
                aws.scheduler(),
                &config.schedule_group,
                &config.reconciler_arn,
                &config.scheduler_role_arn,
            ),
            gemini: GeminiAccess::new(
                aws.secretsmanager(),
                &config.api_key_secret,
                config.api.clone(),
                DOWNLOAD_TIMEOUT,
            ),
            webhook: DynamicWebhook::new(aws.secretsmanager(), &config.endpoint_secret, &config.webhook_url),
            tasks: StepFunctions::new(aws.sfn()),
            clock,
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The job started and is tracked with the task's token: its name.
    Started(String),
    /// The task's job was started before (a request delivered twice): nothing done.
    AlreadyStarted,
    /// The task was failed with this error: the job cannot start.
    TaskFailed(String),
    /// Kept in the starter's DLQ, for this reason: no task can be told.
    Kept(String),
    /// Not done now: SQS delivers it again (and after the queue's retries keeps it in the DLQ).
    Retry(String),
}

/// Why a job did not start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl StartError {
    /// Gemini refused the request itself: starting it again would be refused again. (401 and 403 are
    /// the key's, which may be rotated meanwhile; 408 and 429 pass.)
    fn refusal(&self) -> Option<(u16, &str, &str)> {
        match self {
            Self::Api(ApiError::Api { status, code, message })
                if (400..500).contains(status) && !matches!(status, 401 | 403 | 408 | 429) =>
            {
                Some((*status, code, message))
            }
            _ => None,
        }
    }
}

/// Handles one batch, a request at a time; only the requests to retry are reported failed.
pub async fn handle(
    starter: &Starter,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, UnreportableFailure> {
    let mut failed = Vec::new();
    for record in event.payload.records {
        let outcome = process(starter, &record).await;
        let message_id = record.message_id.as_deref();
        match &outcome {
            Outcome::Started(job) => tracing::info!(message_id, job, "started and tracked"),
            Outcome::AlreadyStarted => tracing::info!(message_id, "started before: nothing done"),
            Outcome::TaskFailed(error) => tracing::warn!(message_id, error, "the task was failed"),
            Outcome::Kept(reason) => tracing::error!(message_id, reason, "kept in the DLQ"),
            Outcome::Retry(reason) => {
                tracing::warn!(message_id, reason, "will be delivered again");
                failed.push(record.message_id.clone());
            }
        }
    }
    batch::sqs_response(failed)
}

/// One request.
pub async fn process(starter: &Starter, record: &SqsMessage) -> Outcome {
    let body = record.body.as_deref().unwrap_or_default();
    let request = match request::parse(body) {
        Ok(request) => request,
        Err(Unusable { token: None, reason }) => return keep(starter, body, reason).await,
        Err(Unusable { token: Some(token), reason }) => {
            let cause = json!({"reason": reason}).to_string();
            return fail_task(starter, body, &token, "Starter.InvalidRequest", cause).await;
        }
    };
    let held = match starter.once.claim(&request.token.digest()).await {
        Ok(Claim::Acquired(held)) => held,
        Ok(Claim::AlreadyDone) => return Outcome::AlreadyStarted,
        Ok(Claim::InProgress) => return Outcome::Retry("another invocation is starting it".into()),
        Err(error) => return Outcome::Retry(error.to_string()),
    };
    let started = match start(starter, &request).await {
        Ok(started) => started,
        Err(error) => return not_started(starter, body, &request, held, error).await,
    };
    let outcome = match track(starter, &request, &started).await {
        Ok(()) => Outcome::Started(started.job.clone()),
        Err(error) => {
            // Running, but its end would complete nothing: say so now, naming the job.
            let cause = json!({"job": started.job, "reason": error.to_string()}).to_string();
            fail_task(starter, body, &request.token, "Starter.Untracked", cause).await
        }
    };
    if let Err(error) = starter.once.done(&held).await {
        tracing::warn!(%error, "started, but its claim could not be marked done");
    }
    outcome
}

/// A started job.
struct Started {
    job: String,
    webhook: WebhookConfig,
}

/// Starts `request`'s job with the dynamic webhook, its events marked as a tracked job's.
async fn start(starter: &Starter, request: &JobRequest) -> Result<Started, StartError> {
    let gemini = starter.gemini.client().await?;
    let mut user_metadata = request.user_metadata.clone();
    ledger::mark(&mut user_metadata);
    let webhook = WebhookConfig { uris: vec![starter.webhook.url().await?], user_metadata };
    let job = match &request.job {
        Job::Batch { model, prompts } => {
            let lines = request::batch_lines(prompts);
            let file = gemini.upload_file(lines, "workflow-prompts.jsonl", "application/jsonl").await?;
            gemini.create_batch(model, &file.name, "workflow", &webhook).await?.name
        }
        Job::Interaction { model, input } => gemini.create_interaction(model, input, &webhook).await?.id,
        Job::Summarise { model, results, instruction } => {
            let results = gemini.download_head(results, MAX_RESULTS_BYTES).await?;
            let input = request::summary_input(instruction, &results);
            gemini.create_interaction(model, &input, &webhook).await?.id
        }
    };
    Ok(Started { job, webhook })
}

/// Tracks the started job with the task's token (and schedules its first check), retrying a passing
/// failure: the job is running, so giving up here would leave its task waiting on nothing.
async fn track(starter: &Starter, request: &JobRequest, started: &Started) -> Result<(), ReconcileError> {
    let name = JobName::parse(&started.job).map_err(|e| ReconcileError::NotAJob(e.to_string()))?;
    let deadlines = Deadlines::default_for(name.kind());
    let entry =
        JobEntry::new(&name, started.webhook.user_metadata.clone(), deadlines, starter.clock.unix_now_ms())
            .with_task_token(request.token.clone());
    let mut attempt = 0;
    loop {
        match reconcile::track(&starter.ledger, &starter.schedules, &entry).await {
            Ok(_) => return Ok(()),
            Err(error) if attempt + 1 < TRACK_ATTEMPTS && !is_permanent(&error) => {
                tracing::warn!(job = started.job, %error, "tracking failed; trying again");
                pause_before_retry(attempt).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn is_permanent(error: &ReconcileError) -> bool {
    match error {
        ReconcileError::Ledger(error) => error.is_permanent(),
        ReconcileError::Schedule(_) | ReconcileError::Gemini(_) | ReconcileError::Enqueue(_) => false,
        ReconcileError::NotAJob(_) | ReconcileError::Event(_) => true,
    }
}

/// The job did not start: a refusal fails the task (and the claim stays, so a redelivery does not
/// start it again); anything else gives the claim up for the redelivery.
async fn not_started(
    starter: &Starter,
    body: &str,
    request: &JobRequest,
    held: Held,
    error: StartError,
) -> Outcome {
    if let StartError::Api(api) = &error {
        starter.gemini.refused(api).await;
    }
    if let Some((status, code, message)) = error.refusal() {
        let cause = json!({"status": status, "error_code": code, "error_message": message}).to_string();
        let outcome = fail_task(starter, body, &request.token, "Starter.Refused", cause).await;
        if !matches!(outcome, Outcome::Retry(_)) {
            if let Err(error) = starter.once.done(&held).await {
                tracing::warn!(%error, "refused, but its claim could not be marked done");
            }
            return outcome;
        }
    }
    if let Err(release) = starter.once.release(&held).await {
        tracing::warn!(error = %release, "could not give up the claim: the redelivery waits for its lease");
    }
    Outcome::Retry(error.to_string())
}

/// Fails the task `token` with `error` and `cause`; a task that is gone (its token invalid or timed
/// out) cannot be told, so the request is kept.
async fn fail_task(starter: &Starter, body: &str, token: &TaskToken, error: &str, cause: String) -> Outcome {
    let completion = Completion::Failure { error: error.to_owned(), cause };
    match starter.tasks.complete(token, &completion).await {
        Ok(()) => Outcome::TaskFailed(error.to_owned()),
        Err(failure) if failure.is_permanent() => {
            keep(starter, body, format!("{error}, but its task cannot be told: {}", failure.code())).await
        }
        Err(failure) => Outcome::Retry(failure.to_string()),
    }
}

/// Keeps the request in the starter's DLQ, with why.
async fn keep(starter: &Starter, body: &str, reason: String) -> Outcome {
    match starter.requests_dlq.send(body.to_owned(), &[("reason", &reason)], None).await {
        Ok(()) => Outcome::Kept(reason),
        Err(SendError::Transient(detail)) => Outcome::Retry(detail),
        // The DLQ refuses it: SQS's own redrive keeps it there after the retries.
        Err(refused) => Outcome::Retry(format!("{reason}; the DLQ refused it: {refused}")),
    }
}
