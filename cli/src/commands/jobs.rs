//! `jobs batch|interaction|video`: a Gemini job started with the stack's dynamic URL in its
//! `webhook_config`, so its end is delivered, verified, routed and followed up with no polling;
//! `jobs cancel`: a job ended early, its `*.cancelled` event delivered the same way.

use std::fmt;

use anyhow::Context as _;
use shared::gemini::GeminiClient;
use shared::results;

use super::flags::{GeminiArgs, StackArg, parse_metadata, read_input};
use crate::ops::jobs::{CancelOutcome, Cancelled, Started, cancel, webhook};
use crate::ui::output::Output;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Where a job's events go.
#[derive(Debug, Args)]
pub struct JobWebhookArgs {
    /// The receiver's dynamic URL, with its token (what `gemini-webhooks endpoint` prints).
    #[arg(long, env = "WEBHOOK_DYNAMIC_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
    /// `user_metadata`, echoed in every event of the job (routes can match it; repeatable).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, serde_json::Value)>,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Upload a JSONL file of requests and start a batch over it.
    Batch {
        /// The requests, one JSON object a line: `{"key": ..., "request": {"contents": [...]}}`.
        input: PathBuf,
        /// The model.
        #[arg(long, default_value = "gemini-2.5-flash")]
        model: String,
        /// A display name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Start an interaction in the background.
    Interaction {
        /// What to ask.
        input: String,
        /// The model.
        #[arg(long, default_value = "gemini-2.5-flash")]
        model: String,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Start a video generation.
    Video {
        /// What to film.
        prompt: String,
        /// The model.
        #[arg(long, default_value = "veo-3.0-generate-001")]
        model: String,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Cancel a running batch or interaction: its `*.cancelled` event is delivered like any end.
    Cancel {
        /// `batches/...`, or an interaction's id (a video generation has no cancel).
        job: String,
    },
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "started {} {}", self.kind, self.job)?;
        writeln!(f, "  its end is delivered to {}", self.webhook)?;
        write!(f, "  its result will land at {}", self.result)
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

pub(crate) async fn run(
    api: GeminiArgs,
    action: JobsAction,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let gemini: GeminiClient = api.client()?;
    let started = match action {
        JobsAction::Cancel { job } => {
            out.print(&cancel(&gemini, &job).await?);
            return Ok(());
        }
        JobsAction::Batch { input, model, name, webhook: args } => {
            let bytes = read_input(&input)?;
            let display = name
                .unwrap_or_else(|| input.file_name().map_or("batch".into(), |n| n.to_string_lossy().into()));
            let hook =
                webhook(args.webhook_url.as_deref(), args.stack.stack.as_deref(), &args.metadata, endpoint)
                    .await?;
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
            let hook =
                webhook(args.webhook_url.as_deref(), args.stack.stack.as_deref(), &args.metadata, endpoint)
                    .await?;
            let interaction = gemini
                .create_interaction(&model, &input, &hook.config)
                .await
                .context("starting the interaction")?;
            hook.started("interaction", interaction.id, results::INTERACTION)
        }
        JobsAction::Video { prompt, model, webhook: args } => {
            let hook =
                webhook(args.webhook_url.as_deref(), args.stack.stack.as_deref(), &args.metadata, endpoint)
                    .await?;
            let operation =
                gemini.generate_video(&model, &prompt, &hook.config).await.context("starting the video")?;
            hook.started("video", operation.name, results::VIDEO)
        }
    };
    out.print(&started);
    Ok(())
}
