//! The example consumer, a downstream Lambda you would deploy: when a job ends, do its follow-up.
//!
//! - `batch.succeeded`: its results file, downloaded through the Files API and streamed into the
//!   results bucket at `{batch id}/results.jsonl`;
//! - `video.generated`: the video, the same way, at `{operation}/video.mp4`;
//! - `interaction.completed`: the interaction (its outputs in `steps`), at `interactions/{id}/interaction.json`;
//! - `*.failed`, `*.expired`, `*.cancelled`: a failure record with the error, at `{job}/failure.json`;
//! - anything else: acknowledged.
//!
//! One call turns each SQS record into a [`DownstreamMessage`]; a claim on its `webhook_id` makes the
//! follow-up happen once however often the event is delivered (and a redelivery after a failure writes
//! the same objects again), and a replay (`gemini-webhooks replay`) once more; a failure is reported
//! for that record alone, so SQS redelivers it, and after the queue's retries keeps it in the queue's
//! DLQ. Copy this crate to start your own.

pub mod bucket;
mod config;
mod gemini_access;

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::clients::Clients;
use shared::aws::idempotency::{Claim, Idempotency};
use shared::clock::Clock;
use shared::event::EventKind;
use shared::gemini::{ApiError, file_name};
use shared::message::DownstreamMessage;
use shared::results::{self, key};

pub use bucket::{ResultsBucket, StoreError};
pub use config::Config;
pub use gemini_access::{AccessError, GeminiAccess, UNSET_API_KEY};

/// A claim outlasts the function's 120-second timeout, so a running invocation is never overtaken.
pub const LEASE_SECS: u64 = 180;
/// Done events are remembered for a week: past Gemini's 24 h of retries and the queue's retention.
pub const KEEP_SECS: u64 = 7 * 24 * 3600;

/// The consumer's dependencies, built once per container.
#[derive(Debug)]
pub struct Consumer {
    /// Claims on each `webhook_id`, so each event is acted on once.
    pub once: Idempotency,
    /// Where results go.
    pub results: ResultsBucket,
    /// The Gemini API.
    pub gemini: GeminiAccess,
}

impl Consumer {
    /// The consumer `config` describes, on `aws`'s clients.
    pub fn new(aws: &Clients, config: &Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            once: Idempotency::new(aws.dynamodb(), &config.claims_table, LEASE_SECS, KEEP_SECS, clock),
            results: ResultsBucket::new(bucket::s3_client(aws), &config.results_bucket),
            gemini: GeminiAccess::new(aws.secretsmanager(), &config.api_key_secret, &config.api_base),
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Followed up, for the first time: what was stored, by key.
    Stored(Vec<String>),
    /// Nothing to do for this kind of event.
    Ignored,
    /// Followed up before: acknowledged, nothing done.
    Duplicate,
    /// Not done now (a fetch or a store failed, being handled elsewhere, unparseable): SQS redelivers
    /// it, and after the queue's retries moves it to the DLQ.
    Failed(String),
}

/// Why a follow-up failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    /// Gemini could not be called.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Gemini answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The results bucket did not take it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job produced nothing to fetch.
    #[error("{0}")]
    NothingToFetch(String),
}

/// Handles one batch: only the records that failed are reported, so SQS redelivers those alone.
pub async fn handle(
    consumer: &Consumer,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, UnreportableFailure> {
    let mut failed = Vec::new();
    for record in event.payload.records {
        if let Outcome::Failed(reason) = process(consumer, &record).await {
            tracing::warn!(message_id = record.message_id.as_deref(), %reason, "will be redelivered");
            failed.push(record.message_id);
        }
    }
    batch::sqs_response(failed)
}

/// One record: parse, claim, follow up, mark done (or release the claim, so a redelivery can).
pub async fn process(consumer: &Consumer, record: &SqsMessage) -> Outcome {
    let message = match DownstreamMessage::from_sqs_body(record.body.as_deref().unwrap_or_default()) {
        Ok(message) => message,
        Err(error) => return Outcome::Failed(format!("not a downstream message: {error}")),
    };
    // The webhook-id: every copy of one delivery is handled once, and a replay once more.
    let key = message.idempotency_key();
    match consumer.once.claim(&key).await {
        Ok(Claim::Acquired) => {}
        Ok(Claim::AlreadyDone) => return Outcome::Duplicate,
        Ok(Claim::InProgress) => return Outcome::Failed("another invocation is handling it".into()),
        Err(error) => return Outcome::Failed(error.to_string()),
    }
    match follow_up(consumer, &message).await {
        Ok(stored) => {
            tracing::info!(claim = %key, job = message.data_id.as_deref(), ?stored, "followed up");
            if let Err(error) = consumer.once.done(&key).await {
                tracing::warn!(claim = %key, %error, "done, but could not mark it done");
            }
            if stored.is_empty() { Outcome::Ignored } else { Outcome::Stored(stored) }
        }
        Err(error) => {
            if let FollowUpError::Api(api) = &error {
                consumer.gemini.refused(api).await;
            }
            if let Err(release) = consumer.once.release(&key).await {
                tracing::warn!(claim = %key, %release, "could not release the claim; its lease will run out");
            }
            Outcome::Failed(error.to_string())
        }
    }
}

/// The follow-up for one event: the keys stored.
async fn follow_up(consumer: &Consumer, message: &DownstreamMessage) -> Result<Vec<String>, FollowUpError> {
    let job = message.data_id.clone().unwrap_or_else(|| format!("events/{}", message.webhook_id()));
    match message.kind() {
        EventKind::BatchSucceeded => {
            let gemini = consumer.gemini.client().await?;
            let file = match message.event.output_uri().and_then(file_name) {
                Some(file) => file,
                // No file named, or one the Files API does not serve: the batch itself says.
                None => {
                    gemini.get_operation(&job).await?.responses_file().map(str::to_owned).ok_or_else(
                        || FollowUpError::NothingToFetch(format!("{job} wrote no results file")),
                    )?
                }
            };
            let key = key(&job, results::BATCH_RESULTS);
            consumer
                .results
                .put_download(&key, "application/jsonl", gemini.download_file(&file).await?)
                .await?;
            Ok(vec![key])
        }
        EventKind::VideoGenerated => {
            let gemini = consumer.gemini.client().await?;
            let named = message.event.file_name().or_else(|| message.event.output_uri());
            let file = named
                .and_then(file_name)
                .ok_or_else(|| FollowUpError::NothingToFetch(format!("{job}'s event names no video file")))?;
            let key = key(&job, results::VIDEO);
            consumer.results.put_download(&key, "video/mp4", gemini.download_file(&file).await?).await?;
            Ok(vec![key])
        }
        EventKind::InteractionCompleted => {
            let interaction = consumer.gemini.client().await?.get_interaction(&job).await?;
            let key = key(&job, results::INTERACTION);
            consumer.results.put_json(&key, &interaction).await?;
            Ok(vec![key])
        }
        _ if message.ended_without_result() => {
            let record = json!({
                "type": message.event_type,
                "job": job,
                "error_code": message.event.error_code().map(|c| Value::String(c.to_string())),
                "error_message": message.event.error_message(),
                "webhook_id": message.webhook_id(),
                "received_at": message.provenance.received_at,
                "user_metadata": message.user_metadata,
            });
            let key = key(&job, results::FAILURE);
            consumer.results.put_json(&key, &record).await?;
            Ok(vec![key])
        }
        _ => Ok(Vec::new()),
    }
}
