//! One SQS batch: each record parsed and written concurrently; only the records that failed for a
//! reason that may pass are returned, so SQS redelivers those alone. A record that can never be
//! recorded (not an ingest message, an item DynamoDB refuses) goes to the ingest DLQ at once, with
//! its reason, and the batch goes on.
//!
//! A tracked job's end (marked in its `user_metadata`, see [`shared::ledger`]) first closes the job's
//! entry in the jobs table; the end that finds it closed by another (a late webhook after a
//! reconciliation) is recorded with `superseded_by`, which the fanout does not route. Every other
//! event costs what it did: the marker is read from the message, nothing from a table.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use lambda_runtime::LambdaEvent;
use shared::Scheme;
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::clients::Clients;
use shared::aws::dead_letters::DeadLetters;
use shared::aws::jobs_ledger::{Closed, JobsLedger};
use shared::aws::queue::SqsQueue;
use shared::clock::Clock;
use shared::ledger::{self, JobEnd, Via};
use shared::message::{BodySha256, DeadLetter, EventRecord, IngestMessage};
use shared::metrics::{self, Function, Metric};
use shared::trace;
use tracing::Instrument;

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
    /// The jobs ledger, when the stack has one: tracked jobs' ends close their entries.
    pub ledger: Option<JobsLedger>,
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
            ledger: config.jobs_table.as_ref().map(|table| JobsLedger::new(aws.dynamodb(), table)),
            clock,
        }
    }
}

/// What became of one SQS record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded: the first delivery of its id.
    Recorded,
    /// Recorded and closed its tracked job's entry, this long (ms) after the job ended, by `via`.
    Ended {
        /// How the end came.
        via: Via,
        /// `recorded_at` less the event's own time, when it says.
        lag_ms: Option<i64>,
    },
    /// Recorded, not routed: its tracked job had ended already, by the end with this id.
    Superseded(String),
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
    let span = trace::delivery_span(ingest.provenance.trace_header.as_ref());
    record_ingest(recorder, message, ingest).instrument(span).await
}

/// Records one parsed ingest message, its lines logged in its delivery's trace.
async fn record_ingest<S: EventStore, D: DeadLetters>(
    recorder: &Recorder<S, D>,
    message: &SqsMessage,
    ingest: IngestMessage,
) -> Outcome {
    let mut record = EventRecord::new(ingest, recorder.clock.unix_now_ms(), recorder.ttl_secs);
    let mut ended = None;
    if let Some(ledger) = &recorder.ledger
        && let Some((job, end)) = tracked_end(&record)
    {
        match ledger.close(&job, &end).await {
            Ok(Closed::Closed(task_token)) => {
                ended = Some(end);
                record.task_token = task_token;
            }
            Ok(Closed::NotTracked) => {}
            Ok(Closed::AlreadyEnded(first)) => record.superseded_by = Some(first),
            // The event is the user's whatever the ledger's state: recorded and routed, the ledger's
            // fault logged (its entry stays open, and its check finds the end recorded or reconciles it).
            Err(error) if error.is_permanent() => {
                tracing::error!(webhook_id = %record.provenance.webhook_id, job, %error, "the jobs ledger refused the close; recording the end regardless");
            }
            Err(error) => {
                tracing::warn!(webhook_id = %record.provenance.webhook_id, %error, outcome = "failed", "jobs ledger unavailable; will be redelivered");
                return Outcome::Failed(error.to_string());
            }
        }
    }
    let webhook_id = record.provenance.webhook_id.as_str();
    match recorder.store.record(&record).await {
        Ok(Written::New) => match (&record.superseded_by, ended) {
            (Some(first), _) => {
                tracing::info!(webhook_id, first = %first, outcome = "superseded", "a tracked job's second end: recorded, not routed");
                Outcome::Superseded(first.to_string())
            }
            (None, Some(end)) => {
                tracing::info!(webhook_id, event_type = %record.event_type, lag_ms = end.lag_ms, outcome = "recorded", "recorded; its job's entry closed");
                Outcome::Ended { via: end.via, lag_ms: end.lag_ms }
            }
            (None, None) => {
                tracing::info!(webhook_id, event_type = %record.event_type, outcome = "recorded", "recorded");
                Outcome::Recorded
            }
        },
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

/// The ledger key and end of `record` when it is a tracked job's end: a marked event of a type that ends
/// a job, about a job in a documented shape. Pure: an untracked event costs nothing here.
fn tracked_end(record: &EventRecord) -> Option<(String, JobEnd)> {
    if !ledger::ends_job(&record.event_type) || !ledger::is_marked(record.event.user_metadata()) {
        return None;
    }
    let job = ledger::key(record.data_id.as_deref()?)?;
    let ended_at = record.event.timestamp().and_then(unix_ms);
    let end = JobEnd {
        webhook_id: record.provenance.webhook_id.clone(),
        event_type: record.event_type.clone(),
        via: if record.provenance.scheme == Scheme::Reconciled { Via::Reconciliation } else { Via::Webhook },
        ended_at,
        recorded_at: record.recorded_at,
        lag_ms: ended_at.map(|at| record.recorded_at - at),
    };
    Some((job, end))
}

/// RFC 3339 (as Gemini writes `timestamp`) to Unix milliseconds.
fn unix_ms(text: &str) -> Option<i64> {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    DateTime::from_str(text, DateTimeFormat::DateTime).ok()?.to_millis().ok()
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
    for (_, outcome) in outcomes {
        if let Outcome::Ended { via, lag_ms: Some(lag) } = outcome {
            let via = match via {
                Via::Webhook => "webhook",
                Via::Reconciliation => "reconciliation",
            };
            metrics::emit(Function::Recorder, Metric::EndLag, (*lag).max(0) as u64, &[("via", via)], now_ms);
        }
    }
    for (metric, n) in [
        (
            Metric::Recorded,
            count(|o| matches!(o, Outcome::Recorded | Outcome::Ended { .. } | Outcome::Superseded(_))),
        ),
        (Metric::Superseded, count(|o| matches!(o, Outcome::Superseded(_)))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Event;
    use shared::signature::Verified;
    use shared::{WebhookId, WebhookTimestamp};

    fn record(body: serde_json::Value, scheme: Scheme) -> EventRecord {
        let bytes = body.to_string().into_bytes();
        let verified = Verified {
            webhook_id: WebhookId::parse("msg_1").unwrap(),
            timestamp: WebhookTimestamp::from_unix(1_769_083_200),
            scheme,
            jwt: None,
        };
        let ingest = IngestMessage::new(verified, &bytes, Event::parse(&bytes).unwrap(), 1_769_083_260_000);
        EventRecord::new(ingest, 1_769_083_260_500, 604_800)
    }

    #[test]
    fn only_a_marked_end_touches_the_ledger() {
        let marked = serde_json::json!({ledger::MARKER_KEY: ledger::MARKER_VALUE, "team": "ml"});
        let end = |event_type: &str, metadata: &serde_json::Value| {
            serde_json::json!({"type": event_type, "timestamp": "2026-01-22T12:00:00Z",
                "data": {"id": "v1_abc"}, "user_metadata": metadata})
        };
        let (job, closing) =
            tracked_end(&record(end("interaction.completed", &marked), Scheme::V1a)).unwrap();
        assert_eq!(job, "interactions/v1_abc");
        assert_eq!(
            (closing.via, closing.ended_at, closing.lag_ms),
            (Via::Webhook, Some(1_769_083_200_000), Some(60_500))
        );
        let reconciled =
            tracked_end(&record(end("interaction.completed", &marked), Scheme::Reconciled)).unwrap();
        assert_eq!(reconciled.1.via, Via::Reconciliation);
        // No call at all: an untracked job's end, a marked event that ends nothing, an end of no job.
        let untracked = serde_json::json!({"team": "ml"});
        assert!(tracked_end(&record(end("interaction.completed", &untracked), Scheme::V1a)).is_none());
        assert!(tracked_end(&record(end("interaction.requires_action", &marked), Scheme::V1a)).is_none());
        let nameless = serde_json::json!({"type": "batch.succeeded", "user_metadata": marked});
        assert!(tracked_end(&record(nameless, Scheme::V1)).is_none());
    }
}
