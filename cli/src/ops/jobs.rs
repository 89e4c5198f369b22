//! Starting a Gemini job whose end is delivered to the stack (its `webhook_config` carries the stack's
//! dynamic URL), and cancelling one.

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Map;
use shared::gemini::{GeminiClient, WebhookConfig};
use shared::results;

use shared::ledger::{JobName, TaskToken};

use crate::commands::jobs::DeadlineArgs;

use crate::ops::aws::sdk_config;
use crate::ops::endpoint::endpoint_urls;
use crate::ops::ledger::StackLedger;
use crate::ops::stack::{StackOutputs, outputs};
use crate::ui::report::usage;
use crate::ui::time::rfc3339;

/// A started job.
#[derive(Serialize)]
pub struct Started {
    /// `batches/...`, an interaction's id, `models/.../operations/...`.
    pub job: String,
    /// `batch`, `interaction` or `video`.
    pub kind: &'static str,
    /// Where its events go (the URL without its token).
    pub webhook: String,
    /// What every event of the job echoes back.
    pub user_metadata: Map<String, serde_json::Value>,
    /// Where the example consumer stores its result.
    pub result: String,
    /// When its end is checked if it has not come (RFC 3339), when the stack's ledger tracks it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

/// A cancel, and the state it left the job in.
#[derive(Serialize)]
pub struct Cancelled {
    /// The job.
    pub job: String,
    /// `batch` or `interaction`.
    pub kind: &'static str,
    /// The job's state after the cancel, as Gemini names it.
    pub state: String,
    /// What the cancel did.
    pub outcome: CancelOutcome,
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    /// The job was running and is now cancelled: its `*.cancelled` event follows.
    Cancelled,
    /// Still stopping: its event comes when it has.
    Requested,
    /// It had ended before the cancel, or before the cancel took hold: left as it ended.
    AlreadyEnded,
}

impl CancelOutcome {
    /// From the job's state before and after: only a job still running is cancelled, and only a
    /// cancelled state says it was.
    fn of(was_running: bool, cancelled: bool, ended: bool) -> Self {
        match (was_running, cancelled, ended) {
            (true, true, _) => Self::Cancelled,
            (true, false, false) => Self::Requested,
            _ => Self::AlreadyEnded,
        }
    }
}

/// Cancels a batch (`batches/...`) or an interaction (its id) that is still running; Gemini has no
/// cancel for videos.
pub async fn cancel(gemini: &GeminiClient, job: &str) -> anyhow::Result<Cancelled> {
    let context = || format!("cancelling {job}");
    if job.contains("/operations/") {
        return Err(usage(
            "a predictLongRunning video generation cannot be cancelled: the Gemini API has no cancel for it",
        ));
    }
    if job.starts_with("batches/") {
        let was_running = !gemini.get_operation(job).await.with_context(context)?.done;
        if was_running {
            gemini.cancel_batch(job).await.with_context(context)?;
        }
        let after = gemini.get_operation(job).await.with_context(context)?;
        let state = after.batch_state().unwrap_or("unknown").to_owned();
        let outcome = CancelOutcome::of(was_running, state.ends_with("_CANCELLED"), after.done);
        return Ok(Cancelled { job: job.to_owned(), kind: "batch", state, outcome });
    }
    // The Interactions API's states a background interaction can still be cancelled in.
    let running = |status: &str| matches!(status, "queued" | "in_progress" | "requires_action" | "idle");
    let before = gemini.get_interaction(job).await.with_context(context)?;
    let before = before["status"].as_str().unwrap_or("unknown").to_owned();
    let was_running = running(&before);
    let state = if was_running {
        gemini.cancel_interaction(job).await.with_context(context)?.status.unwrap_or_else(|| "unknown".into())
    } else {
        before
    };
    let outcome = CancelOutcome::of(was_running, state == "cancelled", !running(&state));
    let id = job.strip_prefix("interactions/").unwrap_or(job).to_owned();
    Ok(Cancelled { job: id, kind: "interaction", state, outcome })
}

/// Where a job's end goes, and the ledger that tracks it.
pub struct JobWebhook {
    /// The job's `webhook_config`.
    pub config: WebhookConfig,
    /// Its URL as shown: without its token.
    pub shown: String,
    /// The stack's results bucket, when the URL came from a stack.
    pub bucket: Option<String>,
    /// The stack's ledger and the deadlines given to track the job by, when it is tracked (its
    /// `user_metadata` then carries the marker).
    pub tracking: Option<(StackLedger, DeadlineArgs)>,
    /// The workflow task its end completes, when tracked.
    pub task_token: Option<TaskToken>,
}

impl JobWebhook {
    /// Tracks the job `job` of `kind` when asked, then what to print of it, its follow-up stored as
    /// `artifact`.
    pub async fn started(self, kind: &'static str, job: String, artifact: &str) -> anyhow::Result<Started> {
        let result = result_at(self.bucket.as_deref(), &job, artifact);
        let mut checked_at = None;
        if let Some((ledger, deadlines)) = &self.tracking {
            let name = JobName::parse(&job)?;
            let deadlines = deadlines.for_kind(name.kind());
            let (entry, _) = ledger
                .track(&name, self.config.user_metadata.clone(), deadlines, self.task_token.clone())
                .await
                .with_context(|| format!("{kind} {job} started, but could not be tracked: run `gemini-webhooks jobs track {job}`"))?;
            checked_at = Some(rfc3339(entry.deadline));
        }
        let user_metadata = self.config.user_metadata;
        Ok(Started { job, kind, webhook: self.shown, user_metadata, result, checked_at })
    }
}

/// The webhook for a job: the dynamic URL given (with its token), or the stack's (read through the
/// emulator at `endpoint`, or AWS), echoing `metadata` in every event. With a stack and `track`, the
/// job is tracked by the stack's ledger (by the deadlines given, else its kind's).
pub async fn webhook(
    url: Option<&str>,
    stack: Option<&str>,
    metadata: &[(String, serde_json::Value)],
    track: Option<DeadlineArgs>,
    endpoint: Option<&str>,
) -> anyhow::Result<JobWebhook> {
    let mut tracking = None;
    let (url, bucket) = match (url, stack) {
        (Some(url), _) => (url.to_owned(), None),
        (None, Some(stack)) => {
            let config = sdk_config(endpoint).await;
            let found = StackOutputs::load(&aws_sdk_cloudformation::Client::new(&config), stack).await?;
            let secrets = aws_sdk_secretsmanager::Client::new(&config);
            let urls = endpoint_urls(
                &secrets,
                found.get(outputs::WEBHOOK_URL)?,
                found.get(outputs::ENDPOINT_SECRET_ARN)?,
            )
            .await?;
            if let Some(deadlines) = track {
                tracking = Some((StackLedger::of_stack(&config, stack).await?, deadlines));
            }
            (urls.dynamic_url, found.get(outputs::RESULTS_BUCKET).ok().map(str::to_owned))
        }
        (None, None) => {
            return Err(usage(
                "give --stack NAME, or --webhook-url URL (the dynamic URL `gemini-webhooks endpoint` prints)",
            ));
        }
    };
    let shown = url.split('?').next().unwrap_or_default().to_owned();
    let mut user_metadata = metadata.iter().cloned().collect();
    if tracking.is_some() {
        shared::ledger::mark(&mut user_metadata);
    }
    let config = WebhookConfig { uris: vec![url], user_metadata };
    Ok(JobWebhook { config, shown, bucket, tracking, task_token: None })
}

/// Where the example consumer stores `job`'s `name`, or its failure record.
fn result_at(bucket: Option<&str>, job: &str, name: &str) -> String {
    let (key, failure) = (results::key(job, name), results::key(job, results::FAILURE));
    match bucket {
        Some(bucket) => format!("s3://{bucket}/{key} (or {failure})"),
        None => format!("the results bucket, at {key} (or {failure})"),
    }
}

#[cfg(test)]
mod tests {
    use super::CancelOutcome;

    #[test]
    fn only_a_cancelled_state_says_cancelled() {
        assert_eq!(CancelOutcome::of(true, true, true), CancelOutcome::Cancelled);
        assert_eq!(
            CancelOutcome::of(true, false, true),
            CancelOutcome::AlreadyEnded,
            "it ended before the cancel took hold"
        );
        assert_eq!(CancelOutcome::of(true, false, false), CancelOutcome::Requested, "still stopping");
        assert_eq!(CancelOutcome::of(false, true, true), CancelOutcome::AlreadyEnded, "cancelled before");
    }
}
