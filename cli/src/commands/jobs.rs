//! `jobs batch|interaction|video`: a Gemini job started with the stack's dynamic URL in its
//! `webhook_config`, so its end is delivered, verified, routed and followed up with no polling;
//! `jobs cancel`: a job ended early, its `*.cancelled` event delivered the same way.

use std::fmt;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Map;
use shared::gemini::{GeminiClient, WebhookConfig};
use shared::results;

use super::gemini_client as client;
use super::read_input;
use crate::args::{GeminiArgs, JobWebhookArgs, JobsAction};
use crate::aws::sdk_config;
use crate::endpoint::endpoint_urls;
use crate::output::Output;
use crate::report::usage;
use crate::stack::{StackOutputs, outputs};

/// A started job.
#[derive(Serialize)]
struct Started {
    /// `batches/...`, an interaction's id, `models/.../operations/...`.
    job: String,
    kind: &'static str,
    /// Where its events go (the URL without its token).
    webhook: String,
    user_metadata: Map<String, serde_json::Value>,
    /// Where the example consumer stores its result.
    result: String,
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "started {} {}", self.kind, self.job)?;
        writeln!(f, "  its end is delivered to {}", self.webhook)?;
        write!(f, "  its result will land at {}", self.result)
    }
}

/// A cancel, and the state it left the job in.
#[derive(Serialize)]
struct Cancelled {
    job: String,
    kind: &'static str,
    /// The job's state after the cancel, as Gemini names it.
    state: String,
    outcome: CancelOutcome,
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum CancelOutcome {
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

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, job, state) = (self.kind, &self.job, &self.state);
        match self.outcome {
            CancelOutcome::Cancelled => write!(
                f,
                "cancelled {kind} {job}\n  its {kind}.cancelled event goes to its webhook like any end"
            ),
            CancelOutcome::Requested => write!(
                f,
                "cancel requested for {kind} {job} ({state}): its {kind}.cancelled event comes once it stops"
            ),
            CancelOutcome::AlreadyEnded => {
                write!(f, "{kind} {job} had already ended ({state}): nothing to cancel")
            }
        }
    }
}

/// Cancels a batch (`batches/...`) or an interaction (its id) that is still running; Gemini has no
/// cancel for videos.
async fn cancel(gemini: &GeminiClient, job: &str) -> anyhow::Result<Cancelled> {
    let context = || format!("cancelling {job}");
    if job.contains("/operations/") {
        return Err(usage("a video generation cannot be cancelled: the Gemini API has no cancel for it"));
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

/// Where a job's end goes.
struct JobWebhook {
    /// The job's `webhook_config`.
    config: WebhookConfig,
    /// Its URL as shown: without its token.
    shown: String,
    /// The stack's results bucket, when the URL came from a stack.
    bucket: Option<String>,
}

impl JobWebhook {
    /// What to print of the job `job` of `kind`, its follow-up stored as `artifact`.
    fn started(self, kind: &'static str, job: String, artifact: &str) -> Started {
        let result = result_at(self.bucket.as_deref(), &job, artifact);
        Started { job, kind, webhook: self.shown, user_metadata: self.config.user_metadata, result }
    }
}

/// The webhook for a job: the stack's dynamic URL (with its token) or the one given.
async fn webhook(args: &JobWebhookArgs, endpoint: Option<&str>) -> anyhow::Result<JobWebhook> {
    let (url, bucket) = match (&args.webhook_url, &args.stack.stack) {
        (Some(url), _) => (url.clone(), None),
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
            (urls.dynamic_url, found.get(outputs::RESULTS_BUCKET).ok().map(str::to_owned))
        }
        (None, None) => {
            return Err(usage(
                "give --stack NAME, or --webhook-url URL (the dynamic URL `gemini-webhooks endpoint` prints)",
            ));
        }
    };
    let shown = url.split('?').next().unwrap_or_default().to_owned();
    let user_metadata = args.metadata.iter().cloned().collect();
    Ok(JobWebhook { config: WebhookConfig { uris: vec![url], user_metadata }, shown, bucket })
}

/// Where the example consumer stores `job`'s `name`, or its failure record.
fn result_at(bucket: Option<&str>, job: &str, name: &str) -> String {
    let (key, failure) = (results::key(job, name), results::key(job, results::FAILURE));
    match bucket {
        Some(bucket) => format!("s3://{bucket}/{key} (or {failure})"),
        None => format!("the results bucket, at {key} (or {failure})"),
    }
}

pub(super) async fn run(
    api: GeminiArgs,
    action: JobsAction,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let gemini: GeminiClient = client(&api)?;
    let started = match action {
        JobsAction::Cancel { job } => {
            out.print(&cancel(&gemini, &job).await?);
            return Ok(());
        }
        JobsAction::Batch { input, model, name, webhook: args } => {
            let bytes = read_input(&input)?;
            let display = name
                .unwrap_or_else(|| input.file_name().map_or("batch".into(), |n| n.to_string_lossy().into()));
            let hook = webhook(&args, endpoint).await?;
            let file = gemini
                .upload_file(bytes, &display, "application/jsonl")
                .await
                .with_context(|| format!("uploading {}", input.display()))?;
            let batch = gemini
                .create_batch(&model, &file.name, &display, &hook.config)
                .await
                .context("starting the batch")?;
            hook.started("batch", batch.name, results::BATCH_RESULTS)
        }
        JobsAction::Interaction { input, model, webhook: args } => {
            let hook = webhook(&args, endpoint).await?;
            let interaction = gemini
                .create_interaction(&model, &input, &hook.config)
                .await
                .context("starting the interaction")?;
            hook.started("interaction", interaction.id, results::INTERACTION)
        }
        JobsAction::Video { prompt, model, webhook: args } => {
            let hook = webhook(&args, endpoint).await?;
            let operation =
                gemini.generate_video(&model, &prompt, &hook.config).await.context("starting the video")?;
            hook.started("video", operation.name, results::VIDEO)
        }
    };
    out.print(&started);
    Ok(())
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
