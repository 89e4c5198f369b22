//! One batch of stream records: decode each INSERT's new image, route it, send every queue's share with
//! SendMessageBatch (retrying refused entries a bounded number of times), and report by sequence number
//! the records that still failed, so the trigger retries them and finally sends them to its DLQ.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::future::join_all;
use lambda_runtime::LambdaEvent;
use shared::clock::Clock;
use shared::message::{DownstreamMessage, EventRecord};
use shared::metrics;
use shared::routing::Routes;

use crate::publish::{Outgoing, Publisher, batches};

/// Sends per entry within one invocation, first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The fanout's dependencies, built once per container.
#[derive(Debug)]
pub struct Fanout<P> {
    /// Where each event type goes.
    pub routes: Routes,
    /// The routed queues.
    pub publisher: P,
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
    /// Indexes of the records that must be retried.
    pub failed: BTreeSet<usize>,
    /// MODIFY and REMOVE records (TTL deletions among them), ignored.
    pub skipped: usize,
    /// Events no rule matched, sent to the default queue.
    pub unrouted: usize,
    /// Records not attempted because an earlier window failed; the trigger's retry covers them.
    pub deferred: usize,
}

/// A failed record has no sequence number to report it by.
#[derive(Debug, thiserror::Error)]
#[error("a failed stream record has no sequence number; failing the whole batch so nothing is lost")]
pub struct UnreportableFailure;

/// Records routed per window: one SendMessageBatch per queue carries a window whose events all go there.
pub const WINDOW: usize = 10;

/// Routes and sends every INSERT in `records`, a window of [`WINDOW`] records at a time, in order. At
/// the first window with a failure it stops: the trigger retries from the first failed record, so
/// sending anything later now would only send it twice.
pub async fn fan_out<P: Publisher>(fanout: &Fanout<P>, records: Vec<StreamRecord>) -> Report {
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

async fn send_window<P: Publisher>(
    fanout: &Fanout<P>,
    window: Vec<(usize, StreamRecord)>,
    report: &mut Report,
) {
    let mut per_queue: BTreeMap<&str, Vec<Outgoing>> = BTreeMap::new();
    for (index, record) in window {
        if record.event_name != "INSERT" {
            report.skipped += 1;
            continue;
        }
        let recorded = match EventRecord::from_stream_image(record.change.new_image) {
            Ok(recorded) => recorded,
            Err(error) => {
                // Failed, not skipped: after the trigger's retries it lands in the on-failure DLQ and
                // its alarm, instead of vanishing.
                tracing::error!(index, %error, "stream image is not an event record");
                report.failed.insert(index);
                continue;
            }
        };
        let destinations = fanout.routes.destinations(&recorded.event_type, recorded.event.user_metadata());
        report.unrouted += usize::from(destinations.by_default);
        let message = DownstreamMessage::from(recorded);
        let body = match serde_json::to_string(&message) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(index, %error, "downstream message not serialisable");
                report.failed.insert(index);
                continue;
            }
        };
        let group_id = message.data_id.clone().unwrap_or_else(|| message.webhook_id.to_string());
        for queue in destinations.queues {
            per_queue.entry(queue).or_default().push(Outgoing {
                id: index.to_string(),
                body: body.clone(),
                webhook_id: message.webhook_id.to_string(),
                event_type: message.event_type.clone(),
                group_id: group_id.clone(),
            });
        }
    }
    let sends = per_queue.iter().map(|(queue, entries)| send_with_retries(fanout, queue, entries));
    for ((queue, entries), failed_ids) in per_queue.iter().zip(join_all(sends).await) {
        *report.delivered.entry((*queue).to_owned()).or_default() += entries.len() - failed_ids.len();
        report.failed.extend(failed_ids.iter().filter_map(|id| id.parse::<usize>().ok()));
    }
}

/// Sends `entries` to `queue` in SQS-sized batches, resending refused entries up to the attempt
/// limit; returns the ids still refused.
async fn send_with_retries<P: Publisher>(
    fanout: &Fanout<P>,
    queue: &str,
    entries: &[Outgoing],
) -> Vec<String> {
    let mut pending = entries.to_vec();
    for attempt in 1..=fanout.max_attempts.max(1) {
        let refused: Vec<String> =
            join_all(batches(&pending).into_iter().map(|batch| fanout.publisher.send_batch(queue, batch)))
                .await
                .into_iter()
                .flatten()
                .collect();
        pending.retain(|entry| refused.contains(&entry.id));
        if pending.is_empty() || attempt == fanout.max_attempts {
            break;
        }
        // A short, growing pause: refusals are mostly throttling.
        tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
    }
    pending.into_iter().map(|entry| entry.id).collect()
}

/// The Lambda handler: the response lists, by sequence number, the records to retry.
pub async fn handle<P: Publisher>(
    fanout: &Fanout<P>,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, UnreportableFailure> {
    let sequence_numbers: Vec<Option<String>> =
        event.payload.records.iter().map(|r| r.change.sequence_number.clone()).collect();
    let report = fan_out(fanout, event.payload.records).await;
    emit_metrics(fanout, &report);
    let mut response = DynamoDbEventResponse::default();
    for index in &report.failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier =
            Some(sequence_numbers.get(*index).cloned().flatten().ok_or(UnreportableFailure)?);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

fn emit_metrics<P>(fanout: &Fanout<P>, report: &Report) {
    let now_ms = fanout.clock.unix_now_ms();
    for (queue, &count) in report.delivered.iter().filter(|(_, n)| **n > 0) {
        let name = queue.rsplit('/').next().unwrap_or(queue);
        metrics::emit("fanout", "FannedOut", count as u64, &[("queue", name)], now_ms);
    }
    if report.unrouted > 0 {
        metrics::emit("fanout", "Unrouted", report.unrouted as u64, &[], now_ms);
    }
    if !report.failed.is_empty() {
        metrics::emit("fanout", "Failed", report.failed.len() as u64, &[], now_ms);
    }
}

impl From<UnreportableFailure> for lambda_runtime::Diagnostic {
    fn from(error: UnreportableFailure) -> Self {
        Self { error_type: "UnreportableFailure".into(), error_message: error.to_string() }
    }
}
