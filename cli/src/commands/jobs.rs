//! `jobs batch|interaction|video`: a Gemini job started with the stack's dynamic URL in its
//! `webhook_config`, so its end is delivered, verified, routed and followed up with no polling.

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

/// The webhook config for a job, and where its result lands (`s3://bucket/` with a stack).
async fn webhook(
    args: &JobWebhookArgs,
    endpoint: Option<&str>,
) -> anyhow::Result<(WebhookConfig, String, Option<String>)> {
    let config = sdk_config(endpoint).await;
    let (url, bucket) = match (&args.webhook_url, &args.stack.stack) {
        (Some(url), _) => (url.clone(), None),
        (None, Some(stack)) => {
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
    Ok((WebhookConfig { uris: vec![url], user_metadata }, shown, bucket))
}

fn result_at(bucket: Option<&str>, job: &str, name: &str) -> String {
    let key = results::key(job, name);
    match bucket {
        Some(bucket) => format!("s3://{bucket}/{key} (or {})", results::key(job, results::FAILURE)),
        None => format!("the results bucket, at {key} (or {})", results::key(job, results::FAILURE)),
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
        JobsAction::Batch { input, model, name, webhook: args } => {
            let bytes = read_input(&input)?;
            let display = name
                .unwrap_or_else(|| input.file_name().map_or("batch".into(), |n| n.to_string_lossy().into()));
            let (config, shown, bucket) = webhook(&args, endpoint).await?;
            let file = gemini
                .upload_file(bytes, &display, "application/jsonl")
                .await
                .with_context(|| format!("uploading {}", input.display()))?;
            let batch = gemini
                .create_batch(&model, &file.name, &display, &config)
                .await
                .context("starting the batch")?;
            let result = result_at(bucket.as_deref(), &batch.name, results::BATCH_RESULTS);
            Started {
                job: batch.name,
                kind: "batch",
                webhook: shown,
                user_metadata: config.user_metadata,
                result,
            }
        }
        JobsAction::Interaction { input, model, webhook: args } => {
            let (config, shown, bucket) = webhook(&args, endpoint).await?;
            let interaction = gemini
                .create_interaction(&model, &input, &config)
                .await
                .context("starting the interaction")?;
            let result = result_at(bucket.as_deref(), &interaction.id, results::INTERACTION);
            Started {
                job: interaction.id,
                kind: "interaction",
                webhook: shown,
                user_metadata: config.user_metadata,
                result,
            }
        }
        JobsAction::Video { prompt, model, webhook: args } => {
            let (config, shown, bucket) = webhook(&args, endpoint).await?;
            let operation =
                gemini.generate_video(&model, &prompt, &config).await.context("starting the video")?;
            let result = result_at(bucket.as_deref(), &operation.name, results::VIDEO);
            Started {
                job: operation.name,
                kind: "video",
                webhook: shown,
                user_metadata: config.user_metadata,
                result,
            }
        }
    };
    out.print(&started);
    Ok(())
}
