//! The example consumer, a downstream Lambda you would deploy: when a job ends, do its follow-up.
//!
//! - `batch.succeeded`: its results file, downloaded through the Files API and streamed into the
//!   results bucket at `{batch id}/results.jsonl`;
//! - `video.generated`: the video, the same way, at `{operation}/video.mp4`;
//! - `interaction.completed`: the interaction (its outputs in `steps`), at `interactions/{id}/interaction.json`,
//!   and when it made a video (a video model, `response_format` video), the video beside it at
//!   `interactions/{id}/video.mp4`: downloaded when delivered as a file, decoded when inline;
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

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use base64::Engine as _;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::clients::Clients;
use shared::aws::idempotency::{Claim, Idempotency};
use shared::clock::Clock;
use shared::event::EventKind;
use shared::gemini::{ApiError, GeminiClient, InteractionVideo, file_name, interaction_video};
use shared::job::JobName;
use shared::message::DownstreamMessage;
use shared::results::{self, key};
use shared::trace;
use tracing::Instrument;

pub use bucket::{ResultsBucket, StoreError};
pub use config::Config;
pub use shared::aws::gemini_access::{AccessError, GeminiAccess, UNSET_API_KEY};

/// The function's timeout in `template.yaml` (a test holds them together).
pub const FUNCTION_TIMEOUT_SECS: u64 = 300;
/// The longest one follow-up may take, its download and its store together: one still running then
/// is cut off (nothing partial is stored, its claim is released, its record redelivered). Inside the
/// function's timeout, so the function itself never times out mid-record.
pub const FOLLOW_UP_LIMIT: Duration = Duration::from_secs(240);
/// Kept after a follow-up's limit for marking it done or releasing its claim.
pub const FINISH_MARGIN: Duration = Duration::from_secs(15);
/// A claim's lease: the function's timeout, so a claim outlasts any invocation that holds it; and
/// shorter than the queue's visibility timeout less the function's timeout, so that a record whose
/// invocation died finds the claim expired when it comes back.
pub const LEASE_SECS: u64 = FUNCTION_TIMEOUT_SECS;
/// Its claims' namespace in the claims table, so another consumer sharing the table keeps its own.
pub const NAMESPACE: &str = "example-consumer";
/// Done events are remembered for a week: past Gemini's 24 h of retries and the queue's retention.
pub const KEEP_SECS: u64 = 7 * 24 * 3600;
/// The largest result stored: 512 MiB, 64 parts of 8 MiB, which fits [`FOLLOW_UP_LIMIT`] at 4.5 MB/s
/// each way. A larger one is not downloaded: a note naming it and its size is stored in its place
/// (`too_large.json`), so it can be fetched another way.
pub const MAX_RESULT_BYTES: u64 = 512 << 20;

/// The consumer's dependencies, built once per container.
#[derive(Debug)]
pub struct Consumer {
    /// Claims on each `webhook_id`, so each event is acted on once.
    pub once: Idempotency,
    /// Where results go.
    pub results: ResultsBucket,
    /// The Gemini API.
    pub gemini: GeminiAccess,
    /// For the invocation's deadline.
    pub clock: Arc<dyn Clock>,
}

impl Consumer {
    /// The consumer `config` describes, on `aws`'s clients: what `main` serves and the local stack runs.
    pub fn from_config(config: &Config, aws: &Clients, clock: Arc<dyn Clock>) -> Self {
        Self {
            once: Idempotency::new(
                aws.dynamodb(),
                &config.claims_table,
                NAMESPACE,
                LEASE_SECS,
                KEEP_SECS,
                clock.clone(),
            ),
            results: ResultsBucket::new(bucket::s3_client(aws), &config.results_bucket, MAX_RESULT_BYTES),
            gemini: GeminiAccess::new(
                aws.secretsmanager(),
                &config.api_key_secret,
                config.api.clone(),
                FOLLOW_UP_LIMIT,
            ),
            clock,
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
    /// Not started: too little of the invocation was left for a follow-up to finish. Nothing was
    /// claimed or fetched; SQS redelivers it.
    NotStarted,
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
    /// The follow-up ran past its limit and was cut off: nothing partial was stored.
    #[error("the follow-up took longer than {0:?} and was cut off; nothing partial was stored")]
    TimedOut(Duration),
}

/// Handles one batch, a record at a time, each started only while the invocation has time left for it
/// to finish ([`FOLLOW_UP_LIMIT`] and [`FINISH_MARGIN`]); the rest are reported failed unstarted. Only
/// the records that failed are reported, so SQS redelivers those alone.
pub async fn handle(
    consumer: &Consumer,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, UnreportableFailure> {
    let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
    let needed_ms = i64::try_from((FOLLOW_UP_LIMIT + FINISH_MARGIN).as_millis()).unwrap_or(i64::MAX);
    let mut failed = Vec::new();
    for record in event.payload.records {
        let left_ms = deadline_ms.saturating_sub(consumer.clock.unix_now_ms());
        if left_ms < needed_ms {
            tracing::warn!(
                message_id = record.message_id.as_deref(),
                left_ms,
                "not started: too little time left to finish it; will be redelivered"
            );
            failed.push(record.message_id);
        } else if let Outcome::Failed(_) = process(consumer, &record).await {
            failed.push(record.message_id);
        }
    }
    batch::sqs_response(failed)
}

/// One record: parse, claim, follow up, mark done (or release the claim, so a redelivery can). Its
/// lines are logged in its delivery's trace (`shared::trace`), the receiver's on.
pub async fn process(consumer: &Consumer, record: &SqsMessage) -> Outcome {
    let message_id = record.message_id.as_deref();
    let message = match DownstreamMessage::from_sqs_body(record.body.as_deref().unwrap_or_default()) {
        Ok(message) => message,
        Err(error) => {
            let reason = format!("not a downstream message: {error}");
            tracing::warn!(message_id, %reason, "will be redelivered");
            return Outcome::Failed(reason);
        }
    };
    let span = trace::delivery_span(message.provenance.trace_header.as_ref());
    let outcome = process_message(consumer, &message).instrument(span.clone()).await;
    if let Outcome::Failed(reason) = &outcome {
        span.in_scope(|| tracing::warn!(message_id, %reason, "will be redelivered"));
    }
    outcome
}

async fn process_message(consumer: &Consumer, message: &DownstreamMessage) -> Outcome {
    // The webhook-id: every copy of one delivery is handled once, and a replay once more.
    let key = message.idempotency_key();
    let held = match consumer.once.claim(&key).await {
        Ok(Claim::Acquired(held)) => held,
        Ok(Claim::AlreadyDone) => return Outcome::Duplicate,
        Ok(Claim::InProgress) => return Outcome::Failed("another invocation is handling it".into()),
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let limited = tokio::time::timeout(FOLLOW_UP_LIMIT, follow_up(consumer, message)).await;
    let done = limited.unwrap_or_else(|_| Err(FollowUpError::TimedOut(FOLLOW_UP_LIMIT)));
    match done {
        Ok(stored) => {
            tracing::info!(claim = %key, job = message.data_id.as_deref(), ?stored, "followed up");
            match consumer.once.done(&held).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(claim = %key, "done after its lease ran out: the next holder marks it")
                }
                Err(error) => tracing::warn!(claim = %key, %error, "done, but could not mark it done"),
            }
            if stored.is_empty() { Outcome::Ignored } else { Outcome::Stored(stored) }
        }
        Err(error) => {
            if let FollowUpError::Api(api) = &error {
                consumer.gemini.refused(api).await;
            }
            if let Err(release) = consumer.once.release(&held).await {
                tracing::warn!(claim = %key, %release, "could not release the claim; its lease will run out");
            }
            Outcome::Failed(error.to_string())
        }
    }
}

/// The follow-up for one event: the keys stored.
async fn follow_up(consumer: &Consumer, message: &DownstreamMessage) -> Result<Vec<String>, FollowUpError> {
    let acts = matches!(
        message.kind(),
        EventKind::BatchSucceeded | EventKind::VideoGenerated | EventKind::InteractionCompleted
    ) || message.ended_without_result();
    if !acts {
        return Ok(Vec::new());
    }
    // `data.id` is the sender's text: only a documented job name goes into a call or a key.
    let job = match message.data_id.as_deref() {
        Some(id) => JobName::parse(id).map_err(ApiError::from)?.to_string(),
        None => format!("events/{}", message.webhook_id()),
    };
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
            let download = gemini.download_file(&file).await?;
            store_download(consumer, &job, &file, results::BATCH_RESULTS, "application/jsonl", download).await
        }
        EventKind::VideoGenerated => {
            let gemini = consumer.gemini.client().await?;
            // `file_name` may be a display name rather than `files/{id}`: then `output_file_uri` says.
            let file = [message.event.file_name(), message.event.output_uri()]
                .into_iter()
                .flatten()
                .find_map(file_name)
                .ok_or_else(|| FollowUpError::NothingToFetch(format!("{job}'s event names no video file")))?;
            let download = gemini.download_file(&file).await?;
            store_download(consumer, &job, &file, results::VIDEO, "video/mp4", download).await
        }
        EventKind::InteractionCompleted => {
            let gemini = consumer.gemini.client().await?;
            let interaction = match gemini.get_interaction(&job).await {
                Err(ApiError::TooLarge { limit, .. }) => {
                    return store_note(consumer, &job, &job, results::INTERACTION, None, limit as u64).await;
                }
                answer => answer?,
            };
            let mut stored = match interaction_video(&interaction) {
                Some(video) => store_video(consumer, &gemini, &job, video).await?,
                None => Vec::new(),
            };
            let key = key(&job, results::INTERACTION);
            consumer.results.put_json(&key, &interaction).await?;
            stored.push(key);
            Ok(stored)
        }
        _ if message.ended_without_result() => {
            let record = json!({
                "type": message.event_type,
                "job": job,
                "error_code": message.event.error_code().map(|c| Value::String(c.to_string())),
                "error_message": message.event.error_message(),
                "status": message.event.data().and_then(|data| data.get("status")),
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

/// Stores the video an interaction made: its file downloaded, or its inline bytes decoded.
async fn store_video(
    consumer: &Consumer,
    gemini: &GeminiClient,
    job: &str,
    video: InteractionVideo,
) -> Result<Vec<String>, FollowUpError> {
    match video {
        InteractionVideo::Uri(uri) => {
            let file = file_name(&uri).ok_or_else(|| {
                FollowUpError::NothingToFetch(format!("{job}'s video is not a file of the Files API"))
            })?;
            let download = gemini.download_file(&file).await?;
            store_download(consumer, job, &file, results::VIDEO, "video/mp4", download).await
        }
        InteractionVideo::Inline { data, mime_type } => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.as_bytes())
                .map_err(|_| FollowUpError::NothingToFetch(format!("{job}'s inline video is not base64")))?;
            let key = key(job, results::VIDEO);
            let content_type = mime_type.as_deref().unwrap_or("video/mp4");
            match consumer.results.put_bytes(&key, content_type, bytes).await {
                Ok(()) => Ok(vec![key]),
                Err(StoreError::TooLarge { announced, limit, .. }) => {
                    store_note(consumer, job, job, results::VIDEO, announced, limit).await
                }
                Err(error) => Err(error.into()),
            }
        }
    }
}

/// Streams a job's download to its key; one over [`MAX_RESULT_BYTES`] leaves, in its place, a note of
/// what it was and where to fetch it.
async fn store_download(
    consumer: &Consumer,
    job: &str,
    file: &str,
    name: &str,
    content_type: &str,
    download: reqwest::Response,
) -> Result<Vec<String>, FollowUpError> {
    let result = key(job, name);
    match consumer.results.put_download(&result, content_type, download).await {
        Ok(_) => Ok(vec![result]),
        Err(StoreError::TooLarge { announced, limit, .. }) => {
            store_note(consumer, job, file, name, announced, limit).await
        }
        Err(error) => Err(error.into()),
    }
}

/// Stores, in place of a result over `limit` bytes, a note of what it was and where to fetch it.
async fn store_note(
    consumer: &Consumer,
    job: &str,
    source: &str,
    name: &str,
    size: Option<u64>,
    limit: u64,
) -> Result<Vec<String>, FollowUpError> {
    let note = key(job, results::TOO_LARGE);
    let record = json!({
        "job": job,
        "file": source,
        "would_be_key": key(job, name),
        "size_bytes": size,
        "limit_bytes": limit,
        "note": "larger than the example consumer stores: fetch it from the Gemini API yourself",
    });
    tracing::warn!(job, source, size, limit, "result too large to store; a note stored instead");
    consumer.results.put_json(&note, &record).await?;
    Ok(vec![note])
}
