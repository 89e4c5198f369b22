//! One check, as a schedule invokes it: the job read and reconciled (see [`shared::reconcile`]), and
//! what it came to counted.

use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use shared::aws::clients::Clients;
use shared::aws::gemini_access::{AccessError, GeminiAccess};
use shared::aws::jobs_ledger::JobsLedger;
use shared::aws::queue::SqsQueue;
use shared::aws::schedules::{CheckRequest, Schedules};
use shared::clock::Clock;
use shared::metrics::{self, Function, Metric};
use shared::reconcile::{Checked, ReconcileError, Reconciler};
use shared::trace;

use crate::config::Config;

/// How long a download may take: a check downloads nothing.
const DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The reconciler's dependencies, built once per container.
#[derive(Debug)]
pub struct ReconcilerFunction {
    /// The jobs ledger.
    pub ledger: JobsLedger,
    /// The ingest queue.
    pub ingest: SqsQueue,
    /// The Gemini API, its key from Secrets Manager.
    pub gemini: GeminiAccess,
    /// EventBridge Scheduler.
    pub scheduler: aws_sdk_scheduler::Client,
    /// The schedule group.
    pub group: String,
    /// The role schedules invoke this function as.
    pub role_arn: String,
    /// For the checks' times.
    pub clock: Arc<dyn Clock>,
}

impl ReconcilerFunction {
    /// The reconciler `config` describes, on `aws`'s clients: what `main` serves and the local stack runs.
    pub fn from_config(config: &Config, aws: &Clients, clock: Arc<dyn Clock>) -> Self {
        Self {
            ledger: JobsLedger::new(aws.dynamodb(), &config.jobs_table),
            ingest: SqsQueue::new(aws.sqs(), &config.ingest_queue_url),
            gemini: GeminiAccess::new(
                aws.secretsmanager(),
                &config.api_key_secret,
                config.api.clone(),
                DOWNLOAD_TIMEOUT,
            ),
            scheduler: aws.scheduler(),
            group: config.schedule_group.clone(),
            role_arn: config.scheduler_role_arn.clone(),
            clock,
        }
    }

    /// The reconciler, its next checks invoking `own_arn`.
    pub fn reconciler(&self, own_arn: &str) -> Reconciler {
        Reconciler {
            ledger: self.ledger.clone(),
            ingest: self.ingest.clone(),
            schedules: Schedules::new(self.scheduler.clone(), &self.group, own_arn, &self.role_arn),
            clock: self.clock.clone(),
            trace: None,
        }
    }
}

/// A check failed: the invocation fails, so the schedule's retries try again.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The Gemini API key could not be had.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The check itself.
    #[error(transparent)]
    Check(#[from] ReconcileError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match error {
            HandlerError::Access(_) => "GeminiKeyUnavailable",
            HandlerError::Check(_) => "CheckFailed",
        };
        Self { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// What a check came to, as the invocation answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The job.
    pub job: String,
    /// `not_tracked`, `already_ended`, `reconciled`, `running` or `overdue`.
    pub outcome: &'static str,
}

/// The Lambda handler.
pub async fn handle(
    function: &ReconcilerFunction,
    event: LambdaEvent<CheckRequest>,
) -> Result<Answer, HandlerError> {
    let job = event.payload.job;
    let mut reconciler = function.reconciler(&event.context.invoked_function_arn);
    reconciler.trace = trace::of_invocation(event.context.xray_trace_id.as_deref());
    // A job that ended on time (most) is answered from the ledger alone: no key read, no API call.
    let entry = match reconciler.ledger.get(&job).await.map_err(ReconcileError::from)? {
        None => return Ok(Answer { job, outcome: "not_tracked" }),
        Some(entry) if entry.end.is_some() => return Ok(Answer { job, outcome: "already_ended" }),
        Some(entry) => entry,
    };
    let gemini = function.gemini.client().await?;
    let checked = match reconciler.check_entry(&gemini, &entry).await {
        Ok(checked) => checked,
        Err(error) => {
            if let ReconcileError::Gemini(api) = &error {
                function.gemini.refused(api).await;
            }
            tracing::warn!(job, %error, "the check failed; the schedule retries it");
            return Err(error.into());
        }
    };
    let now_ms = function.clock.unix_now_ms();
    let outcome = match &checked {
        Checked::NotTracked => "not_tracked",
        Checked::AlreadyEnded => "already_ended",
        Checked::Reconciled { webhook_id, event_type, status } => {
            tracing::warn!(job, %webhook_id, event_type, status, outcome = "reconciled", "the job had ended and its webhook had not come: its end is in the pipeline");
            metrics::emit(Function::Reconciler, Metric::Reconciled, 1, &[], now_ms);
            "reconciled"
        }
        Checked::Running { status, next_check_at } => {
            tracing::info!(
                job,
                status,
                next_check_at,
                outcome = "running",
                "still running; checked again later"
            );
            "running"
        }
        Checked::Overdue { status } => {
            tracing::error!(
                job,
                status,
                outcome = "overdue",
                "still not ended at its give-up time: no more checks"
            );
            metrics::emit(Function::Reconciler, Metric::Overdue, 1, &[], now_ms);
            "overdue"
        }
    };
    Ok(Answer { job, outcome })
}
