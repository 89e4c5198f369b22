//! One batch of stream records: decode each INSERT's new image, route it, and send every queue's share
//! with SendMessageBatch.
//!
//! Each failure gets a verdict. A record a queue refuses for good (too large for it, an id it will not
//! take, a queue that does not exist or may not be written) is *handled*: kept in the fanout DLQ as the
//! full downstream message with its reason and destination, and the batch goes on. Only a fault that
//! may pass (throttling, 5xx, timeouts) is retried here a few times and then reported by sequence
//! number, so the trigger retries the batch from there; sending stops at that window, since anything
//! later would be sent again by the retry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use futures::future::join_all;
use lambda_runtime::LambdaEvent;
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::publish::{Outgoing, Publisher, send_all};
use shared::clock::Clock;
use shared::message::{DownstreamMessage, EventRecord, attributes};
use shared::metrics::{self, Function, Metric};
use shared::routing::Routes;

use crate::dead_letters::{DeadLetter, DeadLetters};

/// Sends per entry within one invocation, first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The fanout's dependencies, built once per container.
#[derive(Debug)]
pub struct Fanout<P, D> {
    /// Where each event type goes.
    pub routes: Routes,
    /// The routed queues.
    pub publisher: P,
    /// The fanout DLQ.
    pub dead_letters: D,
    /// Sends per entry within one invocation.
    pub max_attempts: u32,
    /// For metric timestamps.
    pub clock: Arc<dyn Clock>,
}

/// What one batch came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Messages accepted, by queue URL.
    pub delivered: BTreeMap<String, usize>,
    /// Messages kept in the fanout DLQ, by reason.
    pub dead_lettered: BTreeMap<String, usize>,
    /// Indexes of the records that must be retried.
    pub failed: BTreeSet<usize>,
    /// MODIFY and REMOVE records (TTL deletions among them), ignored.
    pub skipped: usize,
    /// Events no rule matched, sent to the default queue.
    pub unrouted: usize,
    /// Records not attempted because an earlier window failed; the trigger's retry covers them.
    pub deferred: usize,
}

/// Records routed per window: one SendMessageBatch per queue carries a window whose events all go there.
pub const WINDOW: usize = 10;

/// Routes and sends every INSERT in `records`, a window of [`WINDOW`] records at a time, in order. At
/// the first window with a record to retry it stops: the trigger retries from the first failed record,
/// so sending anything later now would only send it twice.
pub async fn fan_out<P: Publisher, D: DeadLetters>(
    fanout: &Fanout<P, D>,
    records: Vec<StreamRecord>,
) -> Report {
    let mut report = Report::default();
    let mut records = records.into_iter().enumerate().peekable();
    while records.peek().is_some() {
        let window: Vec<(usize, StreamRecord)> = records.by_ref().take(WINDOW).collect();
        send_window(fanout, window, &mut report).await;
        if !report.failed.is_empty() {
            report.deferred = records.count();
            break;
        }
    }
    report
}

async fn send_window<P: Publisher, D: DeadLetters>(
    fanout: &Fanout<P, D>,
    window: Vec<(usize, StreamRecord)>,
    report: &mut Report,
) {
    let mut per_queue: BTreeMap<&str, Vec<Outgoing>> = BTreeMap::new();
    let mut letters: Vec<(usize, DeadLetter)> = Vec::new();
    for (index, record) in window {
        if record.event_name != "INSERT" {
            report.skipped += 1;
            continue;
        }
        match prepare(fanout, index, record) {
            Prepared::Routed { messages, by_default } => {
                report.unrouted += usize::from(by_default);
                for (queue, outgoing) in messages {
                    per_queue.entry(queue).or_default().push(outgoing);
                }
            }
            Prepared::Unsendable(letter) => letters.push((index, letter)),
        }
    }
    let sends = per_queue
        .iter()
        .map(|(queue, entries)| send_all(&fanout.publisher, queue, entries, fanout.max_attempts));
    for ((queue, entries), refused) in per_queue.iter().zip(join_all(sends).await) {
        *report.delivered.entry((*queue).to_owned()).or_default() += entries.len() - refused.len();
        for (outgoing, error) in refused {
            let webhook_id = outgoing.attribute(attributes::WEBHOOK_ID).map(str::to_owned);
            if !error.is_permanent() {
                tracing::warn!(webhook_id, queue, %error, "will be retried");
                report.failed.insert(outgoing.index);
                continue;
            }
            letters.push((
                outgoing.index,
                DeadLetter {
                    destination: Some((*queue).to_owned()),
                    reason: error.code().to_owned(),
                    detail: error.to_string(),
                    event_type: outgoing.attribute(attributes::EVENT_TYPE).map(str::to_owned),
                    webhook_id,
                    body: outgoing.body,
                },
            ));
        }
    }
    let kept = join_all(letters.iter().map(|(_, letter)| fanout.dead_letters.keep(letter))).await;
    for ((index, letter), kept) in letters.into_iter().zip(kept) {
        match kept {
            Ok(()) => {
                tracing::error!(
                    webhook_id = letter.webhook_id,
                    destination = letter.destination,
                    reason = letter.reason,
                    detail = letter.detail,
                    outcome = "dead_lettered",
                    "kept in the fanout DLQ"
                );
                *report.dead_lettered.entry(letter.reason).or_default() += 1;
            }
            Err(error) => {
                tracing::warn!(webhook_id = letter.webhook_id, %error, "fanout DLQ unavailable; will be retried");
                report.failed.insert(index);
            }
        }
    }
}

/// What one INSERT record makes.
enum Prepared<'r> {
    /// A message for each queue it routes to.
    Routed {
        /// By queue URL.
        messages: Vec<(&'r str, Outgoing)>,
        /// No rule matched: the default queue alone.
        by_default: bool,
    },
    /// It cannot be made into a message at all: its dead letter.
    Unsendable(DeadLetter),
}

fn prepare<P, D>(fanout: &Fanout<P, D>, index: usize, record: StreamRecord) -> Prepared<'_> {
    let image = record.change.new_image;
    let recorded = match EventRecord::from_stream_image(image.clone()) {
        Ok(recorded) => recorded,
        Err(error) => {
            return Prepared::Unsendable(DeadLetter {
                body: shared::sqs::to_json(&image).unwrap_or_else(|_| "(unencodable stream image)".into()),
                destination: None,
                reason: "undecodable_record".into(),
                detail: error.to_string(),
                webhook_id: None,
                event_type: None,
            });
        }
    };
    let destinations = fanout.routes.destinations(&recorded.event_type, recorded.event.user_metadata());
    let message = DownstreamMessage::from(recorded);
    let outgoing = match Outgoing::new(index, &message) {
        Ok(outgoing) => outgoing,
        Err(error) => {
            return Prepared::Unsendable(DeadLetter {
                body: "(unencodable downstream message)".into(),
                destination: None,
                reason: "not_serialisable".into(),
                detail: error.to_string(),
                webhook_id: Some(message.provenance.webhook_id.to_string()),
                event_type: Some(message.event_type.clone()),
            });
        }
    };
    Prepared::Routed {
        messages: destinations.queues.into_iter().map(|queue| (queue, outgoing.clone())).collect(),
        by_default: destinations.by_default,
    }
}

/// The Lambda handler: the response lists, by sequence number, the records to retry.
pub async fn handle<P: Publisher, D: DeadLetters>(
    fanout: &Fanout<P, D>,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, UnreportableFailure> {
    let sequence_numbers: Vec<Option<String>> =
        event.payload.records.iter().map(|r| r.change.sequence_number.clone()).collect();
    let report = fan_out(fanout, event.payload.records).await;
    emit_metrics(fanout, &report);
    batch::stream_response(report.failed.iter().map(|index| sequence_numbers.get(*index).cloned().flatten()))
}

fn emit_metrics<P, D>(fanout: &Fanout<P, D>, report: &Report) {
    let now_ms = fanout.clock.unix_now_ms();
    for (queue, &count) in report.delivered.iter().filter(|(_, n)| **n > 0) {
        let name = queue.rsplit('/').next().unwrap_or(queue);
        metrics::emit(Function::Fanout, Metric::FannedOut, count as u64, &[("queue", name)], now_ms);
    }
    if report.unrouted > 0 {
        metrics::emit(Function::Fanout, Metric::Unrouted, report.unrouted as u64, &[], now_ms);
    }
    let dead_lettered: usize = report.dead_lettered.values().sum();
    if dead_lettered > 0 {
        metrics::emit(Function::Fanout, Metric::DeadLettered, dead_lettered as u64, &[], now_ms);
    }
    if !report.failed.is_empty() {
        metrics::emit(Function::Fanout, Metric::Failed, report.failed.len() as u64, &[], now_ms);
    }
}
