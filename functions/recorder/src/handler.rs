//! One SQS batch: each record parsed and written concurrently; only the records that failed for a
//! reason that may pass are returned, so SQS redelivers those alone. A record that can never be
//! recorded (not an ingest message, an item DynamoDB refuses) goes to the ingest DLQ at once, with
//! its reason, and the batch goes on.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use lambda_runtime::LambdaEvent;
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::clients::Clients;
use shared::aws::dead_letters::DeadLetters;
use shared::aws::queue::SqsQueue;
use shared::clock::Clock;
use shared::message::{BodySha256, DeadLetter, EventRecord, IngestMessage};
use shared::metrics::{self, Function, Metric};

use crate::config::Config;
use crate::store::{DynamoDbEventStore, EventStore, Written};

/// The recorder's dependencies, built once per container.
#[derive(Debug)]
pub struct Recorder<S, D> {
    /// The events table.
    pub store: S,
    /// The ingest DLQ.
    pub dead_letters: D,
    /// How long records are kept (the table's TTL does the deleting).
    pub ttl_secs: u64,
    /// For `recorded_at` and `expires_at`.
    pub clock: Arc<dyn Clock>,
}

impl Recorder<DynamoDbEventStore, SqsQueue> {
    /// The recorder `config` describes, on `aws`'s clients: what `main` serves and the local stack runs.
    pub fn from_config(config: &Config, aws: &Clients, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: DynamoDbEventStore::new(aws.dynamodb(), &config.table),
            dead_letters: SqsQueue::new(aws.sqs(), &config.dead_letter_queue_url),
            ttl_secs: config.ttl_secs,
            clock,
        }
    }
}

/// What became of one SQS record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded: the first delivery of its id.
    Recorded,
    /// A retry of a recorded delivery: dropped.
    Duplicate,
    /// The id was recorded with another body: dropped, the first stands.
    Conflict,
    /// Can never be recorded (the reason given): kept in the ingest DLQ.
    DeadLettered(&'static str),
    /// Failed for now (the write, or keeping a dead letter); SQS will redeliver it.
    Failed(String),
}

impl Outcome {
    /// Whether SQS must redeliver the record.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// Records every message of the batch, concurrently, and returns each one's outcome by message id.
pub async fn record_batch<S: EventStore, D: DeadLetters>(
    recorder: &Recorder<S, D>,
    event: &SqsEvent,
) -> Vec<(Option<String>, Outcome)> {
    let outcomes = join_all(event.records.iter().map(|message| record_one(recorder, message))).await;
    event.records.iter().map(|m| m.message_id.clone()).zip(outcomes).collect()
}

async fn record_one<S: EventStore, D: DeadLetters>(
    recorder: &Recorder<S, D>,
    message: &SqsMessage,
) -> Outcome {
    let body = message.body.as_deref().unwrap_or_default();
    let ingest = match IngestMessage::from_sqs_body(body) {
        Ok(ingest) => ingest,
        Err(error) => {
            return dead_letter(recorder, message, "not_an_ingest_message", &error.to_string()).await;
        }
    };
    let record = EventRecord::new(ingest, recorder.clock.unix_now_ms(), recorder.ttl_secs);
    let webhook_id = record.provenance.webhook_id.as_str();
    match recorder.store.record(&record).await {
        Ok(Written::New) => {
            tracing::info!(webhook_id, event_type = %record.event_type, outcome = "recorded", "recorded");
            Outcome::Recorded
        }
        // A retry carries the same body; anything else reuses the id, and the first delivery stands.
        Ok(Written::Exists { stored_body_sha256 })
            if stored_body_sha256.as_ref() == Some(&record.body_sha256) =>
        {
            tracing::info!(webhook_id, outcome = "duplicate", "duplicate delivery dropped");
            Outcome::Duplicate
        }
        Ok(Written::Exists { stored_body_sha256 }) => {
            tracing::error!(
                webhook_id,
                stored_sha256 = stored_body_sha256.as_ref().map(BodySha256::as_str),
                incoming_sha256 = record.body_sha256.as_str(),
                outcome = "conflict",
                "webhook-id reused with a different body; the first delivery stands"
            );
            Outcome::Conflict
        }
        Err(error) if error.is_permanent() => {
            dead_letter(recorder, message, "refused_by_dynamodb", &error.to_string()).await
        }
        Err(error) => {
            tracing::warn!(webhook_id, %error, outcome = "failed", "will be redelivered");
            Outcome::Failed(error.to_string())
        }
    }
}

/// Keeps a record that can never be recorded in the ingest DLQ; if that fails too, it is failed, so
/// SQS redelivers it (and its own redrive still catches it).
async fn dead_letter<S, D: DeadLetters>(
    recorder: &Recorder<S, D>,
    message: &SqsMessage,
    reason: &'static str,
    detail: &str,
) -> Outcome {
    let message_id = message.message_id.as_deref();
    let letter = DeadLetter::new(message.body.clone().unwrap_or_default(), reason, detail);
    match recorder.dead_letters.keep(&letter).await {
        Ok(()) => {
            tracing::error!(message_id, reason, detail, outcome = "dead_lettered", "kept in the ingest DLQ");
            Outcome::DeadLettered(reason)
        }
        Err(error) => {
            tracing::warn!(message_id, reason, %error, outcome = "failed", "ingest DLQ unavailable; will be redelivered");
            Outcome::Failed(error.to_string())
        }
    }
}

/// The Lambda handler: the batch response lists exactly the records SQS must redeliver.
pub async fn handle<S: EventStore, D: DeadLetters>(
    recorder: &Recorder<S, D>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, UnreportableFailure> {
    let outcomes = record_batch(recorder, &event.payload).await;
    emit_metrics(recorder, &outcomes);
    batch::sqs_response(outcomes.into_iter().filter(|(_, o)| o.is_failure()).map(|(id, _)| id))
}

fn emit_metrics<S, D>(recorder: &Recorder<S, D>, outcomes: &[(Option<String>, Outcome)]) {
    let now_ms = recorder.clock.unix_now_ms();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count() as u64;
    for (metric, n) in [
        (Metric::Recorded, count(|o| *o == Outcome::Recorded)),
        (Metric::Duplicates, count(|o| *o == Outcome::Duplicate)),
        (Metric::Conflicts, count(|o| *o == Outcome::Conflict)),
        (Metric::DeadLettered, count(|o| matches!(o, Outcome::DeadLettered(_)))),
        (Metric::Failed, count(Outcome::is_failure)),
    ] {
        if n > 0 {
            metrics::emit(Function::Recorder, metric, n, &[], now_ms);
        }
    }
}
