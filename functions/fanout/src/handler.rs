//! One batch of stream records: decode each INSERT's new image, route it, and send every queue's share
//! with SendMessageBatch.
//!
//! An event whose job a Step Functions workflow waits on (its task token copied from the jobs ledger
//! by the recorder) completes that task too: success with the downstream message, failure with
//! Gemini's error (`shared::workflow`). A superseded end never does, so a task is completed once.
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
use shared::aws::clients::Clients;
use shared::aws::dead_letters::DeadLetters;
use shared::aws::publish::{Addressed, Publisher, TargetPublisher, WINDOW, pause_before_retry, send_routed};
use shared::aws::queue::{SendError, SqsQueue};
use shared::aws::task_tokens::StepFunctions;
use shared::clock::Clock;
use shared::ledger::TaskToken;
use shared::message::{DeadLetter, DownstreamMessage, EventRecord};
use shared::metrics::{self, Function, Metric};
use shared::routing::Routes;
use shared::trace::{self, TraceHeader};
use shared::workflow::{Completion, completion};

use crate::config::Config;

/// Sends per entry within one invocation, first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The fanout's dependencies, built once per container.
#[derive(Debug)]
pub struct Fanout<P, D> {
    /// Where each event type goes.
    pub routes: Routes,
    /// The routed queues and buses.
    pub publisher: P,
    /// The fanout DLQ.
    pub dead_letters: D,
    /// The workflows waiting on jobs.
    pub workflows: StepFunctions,
    /// Sends per entry within one invocation.
    pub max_attempts: u32,
    /// For metric timestamps.
    pub clock: Arc<dyn Clock>,
}

impl Fanout<TargetPublisher, SqsQueue> {
    /// The fanout `config` describes, on `aws`'s clients: what `main` serves and the local stack runs.
    pub fn from_config(config: Config, aws: &Clients, clock: Arc<dyn Clock>) -> Self {
        let sqs = aws.sqs();
        Self {
            routes: config.routes,
            publisher: TargetPublisher::new(sqs.clone(), aws.eventbridge()),
            dead_letters: SqsQueue::new(sqs, config.dead_letter_queue_url),
            workflows: StepFunctions::new(aws.sfn()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            clock,
        }
    }
}

/// What one batch came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Messages accepted, by target (queue URL or bus ARN).
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
    /// Tracked jobs' second ends (`superseded_by`): recorded, never routed.
    pub superseded: usize,
    /// Workflows' tasks completed (a job's end, for the workflow waiting on it).
    pub resumed: usize,
}

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
    let mut addressed = Vec::new();
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut letters: Vec<(usize, DeadLetter)> = Vec::new();
    // Each record's delivery trace, so a line about it is logged in its trace.
    let mut traces: BTreeMap<usize, TraceHeader> = BTreeMap::new();
    let in_trace = |traces: &BTreeMap<usize, TraceHeader>, index| trace::delivery_span(traces.get(&index));
    for (index, record) in window {
        if record.event_name != "INSERT" {
            report.skipped += 1;
            continue;
        }
        let image = record.change.new_image;
        let recorded = match EventRecord::from_stream_image(image.clone()) {
            Ok(recorded) => recorded,
            Err(error) => {
                let body =
                    shared::sqs::to_json(&image).unwrap_or_else(|_| "(unencodable stream image)".into());
                letters.push((index, DeadLetter::new(body, "undecodable_record", error)));
                continue;
            }
        };
        if recorded.superseded_by.is_some() {
            report.superseded += 1;
            continue;
        }
        let destinations = fanout.routes.destinations(&recorded.event_type, recorded.event.user_metadata());
        report.unrouted += usize::from(destinations.by_default);
        let token = recorded.task_token.clone();
        if let Some(trace) = &recorded.provenance.trace_header {
            traces.insert(index, trace.clone());
        }
        let message = DownstreamMessage::from(recorded);
        if let Some(token) = token {
            waiting.push(Waiting {
                index,
                completion: completion(&message),
                token,
                message: message.clone(),
            });
        }
        addressed.push(Addressed { index, message, targets: destinations.targets });
    }
    let resumes = resume_all(fanout, &waiting);
    let (sent, resumed) =
        tokio::join!(send_routed(&fanout.publisher, &addressed, fanout.max_attempts), resumes);
    for (waiting, result) in waiting.iter().zip(resumed) {
        match result {
            Ok(()) => report.resumed += 1,
            Err(error) if error.is_permanent() => {
                let body = waiting.message.to_sqs_body().unwrap_or_default();
                let letter = DeadLetter::new(body, error.code(), &error)
                    .of_event(waiting.message.webhook_id().clone(), waiting.message.event_type.clone())
                    .refused_by(STEP_FUNCTIONS);
                letters.push((waiting.index, letter));
            }
            Err(error) => {
                let _in = in_trace(&traces, waiting.index).entered();
                tracing::warn!(webhook_id = %waiting.message.webhook_id(), %error, "the workflow's task was not completed; will be retried");
                report.failed.insert(waiting.index);
            }
        }
    }
    for (queue, count) in sent.delivered {
        *report.delivered.entry(queue).or_default() += count;
    }
    for unsent in sent.unsent {
        let webhook_id = unsent.webhook_id.as_str();
        if !unsent.error.is_permanent() {
            let _in = in_trace(&traces, unsent.index).entered();
            tracing::warn!(webhook_id, target = unsent.target, error = %unsent.error, "will be retried");
            report.failed.insert(unsent.index);
            continue;
        }
        let body = unsent.body.unwrap_or_else(|| "(unencodable downstream message)".into());
        let mut letter = DeadLetter::new(body, unsent.error.code(), &unsent.error)
            .of_event(unsent.webhook_id.clone(), unsent.event_type);
        if let Some(target) = unsent.target {
            letter = letter.refused_by(target);
        }
        letters.push((unsent.index, letter));
    }
    let kept = join_all(letters.iter().map(|(_, letter)| fanout.dead_letters.keep(letter))).await;
    for ((index, letter), kept) in letters.into_iter().zip(kept) {
        let webhook_id = letter.webhook_id.as_ref().map(|id| id.as_str());
        let _in = in_trace(&traces, index).entered();
        match kept {
            Ok(()) => {
                tracing::error!(
                    webhook_id,
                    destination = letter.destination,
                    reason = letter.reason,
                    detail = letter.detail,
                    outcome = "dead_lettered",
                    "kept in the fanout DLQ"
                );
                *report.dead_lettered.entry(letter.reason).or_default() += 1;
            }
            Err(error) => {
                tracing::warn!(webhook_id, %error, "fanout DLQ unavailable; will be retried");
                report.failed.insert(index);
            }
        }
    }
}

/// What a kept callback names as its destination.
pub const STEP_FUNCTIONS: &str = "step-functions";

/// A job's end whose workflow waits on it.
struct Waiting {
    index: usize,
    token: TaskToken,
    completion: Completion,
    message: DownstreamMessage,
}

/// Completes every waiting task, concurrently; a transient failure is tried again, up to the fanout's
/// attempts. Returns each one's last result, in order.
async fn resume_all<P, D>(fanout: &Fanout<P, D>, waiting: &[Waiting]) -> Vec<Result<(), SendError>> {
    join_all(waiting.iter().map(|w| async move {
        let mut result = fanout.workflows.complete(&w.token, &w.completion).await;
        for attempt in 1..fanout.max_attempts.max(1) {
            match &result {
                Err(error) if !error.is_permanent() => {
                    pause_before_retry(attempt).await;
                    result = fanout.workflows.complete(&w.token, &w.completion).await;
                }
                _ => break,
            }
        }
        result
    }))
    .await
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
    if report.resumed > 0 {
        metrics::emit(Function::Fanout, Metric::Resumed, report.resumed as u64, &[], now_ms);
    }
    let dead_lettered: usize = report.dead_lettered.values().sum();
    if dead_lettered > 0 {
        metrics::emit(Function::Fanout, Metric::DeadLettered, dead_lettered as u64, &[], now_ms);
    }
    if !report.failed.is_empty() {
        metrics::emit(Function::Fanout, Metric::Failed, report.failed.len() as u64, &[], now_ms);
    }
}
