//! Publishing downstream messages to their targets, SQS queues and EventBridge buses: the publisher
//! port, each kind's batch limits, FIFO ids, the SQS adapter and the adapter for both kinds
//! ([`TargetPublisher`]), [`send_all`], which retries transient refusals and isolates the one entry a
//! whole batch was refused for, and [`send_routed`], the one step that sends a window of routed
//! messages.
//! The fanout routes with it; the CLI's replays and redrives send with it, so a replayed event reaches
//! a queue exactly as a routed one does.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::future::join_all;

use crate::aws::bus::{self, BusPublisher};
use crate::aws::queue::{
    SendError, classify, classify_entry, message_size, string_attribute, trace_attribute,
};
use crate::id::WebhookId;
use crate::limits::SQS_MAX_MESSAGE_BYTES;
use crate::message::DownstreamMessage;
use crate::routing::TargetKind;
use crate::sqs::{deduplication_id, group_id};
use crate::trace::TraceHeader;

/// Most entries in one SendMessageBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Messages routed and sent per step ([`send_routed`]): one SendMessageBatch (or PutEvents) per target
/// carries a window whose messages all go there, so one job's events keep their order on a FIFO queue.
pub const WINDOW: usize = MAX_BATCH_ENTRIES;
/// Most bytes in one SendMessageBatch (bodies and attributes together).
pub const MAX_BATCH_BYTES: usize = SQS_MAX_MESSAGE_BYTES;

/// One message for one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The caller's index of what it was made from (the fanout: the record's position in its batch).
    pub index: usize,
    /// The downstream message, SQS-safe JSON.
    pub body: String,
    /// The event's type (a bus entry's detail type).
    pub event_type: String,
    /// Its message attributes.
    pub attributes: Vec<(&'static str, String)>,
    /// The FIFO message group (the job, so one job's events are delivered one at a time).
    pub group_id: String,
    /// The FIFO deduplication id: the message's idempotency key, fitted to SQS's rules; a replay's is
    /// its own, so SQS does not drop it as a copy of the original.
    pub deduplication_id: String,
    /// The delivery's trace, sent as SQS's `AWSTraceHeader` or the bus entry's `TraceHeader`.
    pub trace_header: Option<TraceHeader>,
}

impl Outgoing {
    /// The entry for `message`, made from the caller's `index`.
    pub fn new(index: usize, message: &DownstreamMessage) -> Result<Self, serde_json::Error> {
        Ok(Self {
            index,
            body: message.to_sqs_body()?,
            event_type: message.event_type.clone(),
            attributes: message.sqs_attributes(),
            group_id: group_id(message.data_id.as_deref(), message.webhook_id().as_str()),
            deduplication_id: deduplication_id(message.idempotency_key().as_str()),
            trace_header: message.provenance.trace_header.clone(),
        })
    }

    fn attribute_pairs(&self) -> Vec<(&str, &str)> {
        self.attributes.iter().map(|(name, value)| (*name, value.as_str())).collect()
    }

    /// What the entry counts against the batch size limit, as SQS counts it.
    pub fn size(&self) -> usize {
        message_size(&self.body, &self.attribute_pairs())
    }
}

/// How one kind of target takes batches: at most so many entries and bytes, each entry's size counted
/// its way.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Entries per call.
    pub max_entries: usize,
    /// Bytes per call, the entries' sizes together.
    pub max_bytes: usize,
    /// An entry's size, as the service counts it.
    pub size: fn(&Outgoing) -> usize,
}

impl BatchLimits {
    /// SendMessageBatch: ten entries, 1 MiB in all.
    pub const SQS: Self =
        Self { max_entries: MAX_BATCH_ENTRIES, max_bytes: MAX_BATCH_BYTES, size: Outgoing::size };
    /// PutEvents: ten entries, 256 KiB in all.
    pub const BUS: Self =
        Self { max_entries: bus::MAX_ENTRIES, max_bytes: bus::MAX_REQUEST_BYTES, size: bus::entry_size };

    /// The limits of `target`'s kind.
    pub fn of(target: &str) -> Self {
        match TargetKind::of(target) {
            TargetKind::Queue => Self::SQS,
            TargetKind::Bus => Self::BUS,
        }
    }
}

/// Splits entries into batches the target accepts (see [`BatchLimits`]); an entry too large alone
/// is a batch of its own, for the target to refuse.
pub fn batches(entries: &[Outgoing], limits: BatchLimits) -> Vec<&[Outgoing]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, entry) in entries.iter().enumerate() {
        let size = (limits.size)(entry);
        if i - start == limits.max_entries || (i > start && bytes + size > limits.max_bytes) {
            batches.push(&entries[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < entries.len() {
        batches.push(&entries[start..]);
    }
    batches
}

/// What one SendMessageBatch (or PutEvents) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// The call was answered: the entries SQS refused, by position in the batch (the rest were sent).
    Answered(Vec<(usize, SendError)>),
    /// The call itself failed: nothing was sent.
    CallFailed(SendError),
}

/// Where downstream messages go.
pub trait Publisher: Send + Sync {
    /// Sends one batch (within the limits of `target`'s kind, [`BatchLimits::of`]) to `target`: a
    /// queue URL or a bus ARN.
    fn send_batch(&self, target: &str, batch: &[Outgoing]) -> impl Future<Output = BatchResult> + Send;
}

/// Every kind of target: queues through SQS, buses through EventBridge.
#[derive(Debug, Clone)]
pub struct TargetPublisher {
    sqs: SqsPublisher,
    bus: BusPublisher,
}

impl TargetPublisher {
    /// Publishes through these clients.
    pub fn new(sqs: aws_sdk_sqs::Client, eventbridge: aws_sdk_eventbridge::Client) -> Self {
        Self { sqs: SqsPublisher::new(sqs), bus: BusPublisher::new(eventbridge) }
    }
}

impl Publisher for TargetPublisher {
    async fn send_batch(&self, target: &str, batch: &[Outgoing]) -> BatchResult {
        match TargetKind::of(target) {
            TargetKind::Queue => self.sqs.send_batch(target, batch).await,
            TargetKind::Bus => self.bus.put(target, batch).await,
        }
    }
}

/// SQS.
#[derive(Debug, Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
}

impl SqsPublisher {
    /// Publishes through `client`.
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self { client }
    }
}

/// The entry for `message` at `position` in its batch: the position is its id within the call.
fn entry(position: usize, message: &Outgoing, fifo: bool) -> Result<SendMessageBatchRequestEntry, SendError> {
    let mut entry =
        SendMessageBatchRequestEntry::builder().id(position.to_string()).message_body(&message.body);
    for (name, value) in message.attribute_pairs() {
        if let Some(attribute) = string_attribute(value) {
            entry = entry.message_attributes(name, attribute);
        }
    }
    if let Some((name, value)) = message.trace_header.as_ref().and_then(trace_attribute) {
        entry = entry.message_system_attributes(name, value);
    }
    if fifo {
        entry = entry.message_group_id(&message.group_id).message_deduplication_id(&message.deduplication_id);
    }
    entry
        .build()
        .map_err(|e| SendError::MessageRefused { code: "ConstructionFailure".into(), detail: e.to_string() })
}

impl Publisher for SqsPublisher {
    async fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> BatchResult {
        let fifo = queue_url.ends_with(".fifo");
        let entries: Result<Vec<_>, _> = batch.iter().enumerate().map(|(i, m)| entry(i, m, fifo)).collect();
        let entries = match entries {
            Ok(entries) => entries,
            Err(error) => return BatchResult::CallFailed(error),
        };
        match self.client.send_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await {
            Ok(output) => {
                // Every entry not listed as sent is unsent: refused for the reason given, or (never
                // seen, but not assumed away) missing from the answer, and then tried again.
                let refused = (0..batch.len())
                    .filter(|i| !output.successful().iter().any(|sent| sent.id() == i.to_string()))
                    .map(|i| {
                        let failed = output.failed().iter().find(|failed| failed.id() == i.to_string());
                        let error = failed.map_or_else(
                            || SendError::Transient("entry missing from SQS's answer".into()),
                            classify_entry,
                        );
                        (i, error)
                    })
                    .collect();
                BatchResult::Answered(refused)
            }
            Err(error) => BatchResult::CallFailed(classify(&error)),
        }
    }
}

/// Sends `entries` to `queue` (a queue or a bus) in batches it takes. A refusal for good is final at once; a transient
/// fault is tried again, up to `attempts` sends in all. A whole call refused for its content (one bad
/// entry can refuse a batch) is split into single sends, so only the bad entry is refused. Returns the
/// entries not sent, each with its last error.
pub async fn send_all<P: Publisher>(
    publisher: &P,
    queue: &str,
    entries: &[Outgoing],
    attempts: u32,
) -> Vec<(Outgoing, SendError)> {
    let attempts = attempts.max(1);
    let mut unsent = Vec::new();
    let mut pending = entries.to_vec();
    for attempt in 1..=attempts {
        let sends = batches(&pending, BatchLimits::of(queue))
            .into_iter()
            .map(|batch| async move { (batch, publisher.send_batch(queue, batch).await) });
        let mut retry = Vec::new();
        for (batch, result) in join_all(sends).await {
            let refused: Vec<(usize, SendError)> = match result {
                BatchResult::Answered(refused) => refused,
                BatchResult::CallFailed(SendError::MessageRefused { .. }) if batch.len() > 1 => {
                    isolate(publisher, queue, batch).await
                }
                BatchResult::CallFailed(error) => (0..batch.len()).map(|i| (i, error.clone())).collect(),
            };
            for (position, error) in refused {
                let Some(entry) = batch.get(position) else { continue };
                if error.is_permanent() || attempt == attempts {
                    unsent.push((entry.clone(), error));
                } else {
                    retry.push(entry.clone());
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        pending = retry;
        pause_before_retry(attempt).await;
    }
    unsent
}

/// The pause after `attempt` (1 for the first) before a transient refusal is tried again: short and
/// growing, since such refusals are mostly throttling. Every retry of a send here waits by it.
pub async fn pause_before_retry(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(25 << attempt.min(8))).await;
}

/// Sends each entry of a refused batch on its own: the verdict per entry.
async fn isolate<P: Publisher>(publisher: &P, queue: &str, batch: &[Outgoing]) -> Vec<(usize, SendError)> {
    let singles = batch.iter().map(|entry| publisher.send_batch(queue, std::slice::from_ref(entry)));
    join_all(singles)
        .await
        .into_iter()
        .enumerate()
        .filter_map(|(position, result)| match result {
            BatchResult::Answered(unsent) => unsent.into_iter().next().map(|(_, error)| (position, error)),
            BatchResult::CallFailed(error) => Some((position, error)),
        })
        .collect()
}

/// One message of a window and the targets it goes to (where the routing sends it, or one queue).
#[derive(Debug, Clone, PartialEq)]
pub struct Addressed<'q> {
    /// The caller's index of what it was made from (the fanout: the record's position in its batch).
    pub index: usize,
    /// The message.
    pub message: DownstreamMessage,
    /// Its targets: queue URLs and bus ARNs.
    pub targets: Vec<&'q str>,
}

/// Why a message did not reach one of its queues.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsendable {
    /// The target did not take it (the verdict says whether that may pass).
    #[error(transparent)]
    Refused(SendError),
    /// It could not be written as JSON at all (never seen: a message is made from parsed JSON).
    #[error("not serialisable: {0}")]
    NotSerialisable(String),
}

impl Unsendable {
    /// Whether sending it again can never succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Refused(error) => error.is_permanent(),
            Self::NotSerialisable(_) => true,
        }
    }

    /// A stable code: SQS's error code, or `not_serialisable`.
    pub fn code(&self) -> &str {
        match self {
            Self::Refused(error) => error.code(),
            Self::NotSerialisable(_) => "not_serialisable",
        }
    }
}

/// One message that did not reach one of its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// The caller's index (see [`Addressed::index`]).
    pub index: usize,
    /// The event's `webhook-id`.
    pub webhook_id: WebhookId,
    /// The event's type.
    pub event_type: String,
    /// The target that did not take it; `None` when it was never sendable.
    pub target: Option<String>,
    /// The message's body as sent; `None` when it was never sendable.
    pub body: Option<String>,
    /// Why.
    pub error: Unsendable,
}

/// What a window came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WindowSent {
    /// Messages accepted, by target.
    pub delivered: BTreeMap<String, usize>,
    /// What did not get there, one entry per message and target.
    pub unsent: Vec<Unsent>,
}

/// Sends a window of at most [`WINDOW`] messages, each to each of its targets: every target's share in
/// one SendMessageBatch or PutEvents, the targets concurrently, transient refusals tried again (up to `attempts`
/// sends in all). The fanout, a replay and a redrive all send through here.
pub async fn send_routed<P: Publisher>(publisher: &P, window: &[Addressed<'_>], attempts: u32) -> WindowSent {
    let mut sent = WindowSent::default();
    let mut per_queue: BTreeMap<&str, Vec<Outgoing>> = BTreeMap::new();
    for (position, addressed) in window.iter().enumerate() {
        match Outgoing::new(position, &addressed.message) {
            Ok(outgoing) => {
                for target in &addressed.targets {
                    per_queue.entry(target).or_default().push(outgoing.clone());
                }
            }
            Err(error) => sent.unsent.push(unsent(
                addressed,
                None,
                None,
                Unsendable::NotSerialisable(error.to_string()),
            )),
        }
    }
    let sends = per_queue.iter().map(|(queue, entries)| send_all(publisher, queue, entries, attempts));
    for ((queue, entries), refused) in per_queue.iter().zip(join_all(sends).await) {
        *sent.delivered.entry((*queue).to_owned()).or_default() += entries.len() - refused.len();
        for (entry, error) in refused {
            let addressed = &window[entry.index];
            sent.unsent.push(unsent(addressed, Some(queue), Some(entry.body), Unsendable::Refused(error)));
        }
    }
    sent
}

fn unsent(addressed: &Addressed<'_>, queue: Option<&str>, body: Option<String>, error: Unsendable) -> Unsent {
    Unsent {
        index: addressed.index,
        webhook_id: addressed.message.webhook_id().clone(),
        event_type: addressed.message.event_type.clone(),
        target: queue.map(str::to_owned),
        body,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(index: usize, body_len: usize) -> Outgoing {
        Outgoing {
            index,
            body: "x".repeat(body_len),
            event_type: "batch.succeeded".into(),
            attributes: vec![
                ("webhook_id", format!("msg_{index}")),
                ("event_type", "batch.succeeded".into()),
            ],
            group_id: "batches/1".into(),
            trace_header: None,
            deduplication_id: format!("msg_{index}"),
        }
    }

    #[test]
    fn a_traced_message_carries_its_trace_as_the_batch_entry_s_aws_trace_header() {
        let header: TraceHeader =
            "Root=1-69720b40-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1".parse().unwrap();
        let traced = Outgoing { trace_header: Some(header.clone()), ..outgoing(0, 10) };
        let built = entry(0, &traced, false).unwrap();
        let system = built.message_system_attributes().unwrap();
        let carried = &system[&aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader];
        assert_eq!(carried.string_value(), Some(header.to_string().as_str()));
        assert_eq!(carried.data_type(), "String");
        let untraced = entry(0, &outgoing(0, 10), false).unwrap();
        assert!(untraced.message_system_attributes().is_none());
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let entries: Vec<_> = (0..25).map(|i| outgoing(i, 100)).collect();
        let sizes: Vec<usize> = batches(&entries, BatchLimits::SQS).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let entries: Vec<_> = (0..6).map(|i| outgoing(i, 400 * 1024)).collect();
        let batches = batches(&entries, BatchLimits::SQS);
        assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 2, 2]);
        for batch in batches {
            assert!(batch.iter().map(Outgoing::size).sum::<usize>() <= MAX_BATCH_BYTES);
        }
    }

    #[test]
    fn an_empty_list_makes_no_batch() {
        assert!(batches(&[], BatchLimits::SQS).is_empty());
    }

    #[test]
    fn a_bus_takes_ten_entries_and_256_kib_at_most_per_call() {
        let small: Vec<_> = (0..12).map(|i| outgoing(i, 100)).collect();
        let sizes: Vec<usize> = batches(&small, BatchLimits::BUS).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 2]);
        let large: Vec<_> = (0..4).map(|i| outgoing(i, 100 * 1024)).collect();
        let sizes: Vec<usize> = batches(&large, BatchLimits::BUS).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2], "two of 100 KiB fit in 256 KiB, three do not");
    }

    #[test]
    fn a_replay_is_marked_and_deduplicated_apart_from_the_original() {
        let body = r#"{"webhook_id":"msg_1","type":"batch.succeeded","data_id":"batches/1","user_metadata":null,
            "event":{"type":"batch.succeeded","data":{"id":"batches/1"}},"scheme":"v1",
            "webhook_timestamp":1769083200,"received_at":1769083200100,"recorded_at":1769083200200}"#;
        let original = DownstreamMessage::from_sqs_body(body).unwrap();
        let replay = DownstreamMessage { replayed_at: Some(1_769_090_000_000), ..original.clone() };
        let (first, again) = (Outgoing::new(0, &original).unwrap(), Outgoing::new(0, &replay).unwrap());
        assert_eq!((first.deduplication_id.as_str(), first.group_id.as_str()), ("msg_1", "batches/1"));
        assert_ne!(again.deduplication_id, first.deduplication_id, "SQS must not drop it as a copy");
        assert!(again.attributes.contains(&("replayed_at", "1769090000000".into())));
        assert!(!first.attributes.iter().any(|(name, _)| *name == "replayed_at"));
        assert!(DownstreamMessage::from_sqs_body(&again.body).unwrap().is_replay());
        assert!(!DownstreamMessage::from_sqs_body(&first.body).unwrap().is_replay());
    }
}
