//! Publishing downstream messages to SQS queues: the publisher port, SQS's batch limits, FIFO ids, the
//! SQS adapter, [`send_all`], which retries transient refusals and isolates the one entry a whole
//! batch was refused for, and [`send_routed`], the one step that sends a window of routed messages.
//! The fanout routes with it; the CLI's replays and redrives send with it, so a replayed event reaches
//! a queue exactly as a routed one does.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::future::join_all;

use crate::aws::queue::{SendError, classify, classify_entry, message_size, string_attribute};
use crate::id::WebhookId;
use crate::limits::SQS_MAX_MESSAGE_BYTES;
use crate::message::DownstreamMessage;
use crate::sqs::{deduplication_id, group_id};

/// Most entries in one SendMessageBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Messages routed and sent per step ([`send_routed`]): one SendMessageBatch per queue carries a
/// window whose messages all go there, so one job's events keep their order on a FIFO queue.
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
    /// Its message attributes.
    pub attributes: Vec<(&'static str, String)>,
    /// The FIFO message group (the job, so one job's events are delivered one at a time).
    pub group_id: String,
    /// The FIFO deduplication id: the message's idempotency key, fitted to SQS's rules; a replay's is
    /// its own, so SQS does not drop it as a copy of the original.
    pub deduplication_id: String,
}

impl Outgoing {
    /// The entry for `message`, made from the caller's `index`.
    pub fn new(index: usize, message: &DownstreamMessage) -> Result<Self, serde_json::Error> {
        Ok(Self {
            index,
            body: message.to_sqs_body()?,
            attributes: message.sqs_attributes(),
            group_id: group_id(message.data_id.as_deref(), message.webhook_id().as_str()),
            deduplication_id: deduplication_id(message.idempotency_key().as_str()),
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

/// Splits entries into batches SQS accepts: at most ten each and 1 MiB in all.
pub fn batches(entries: &[Outgoing]) -> Vec<&[Outgoing]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, entry) in entries.iter().enumerate() {
        let size = entry.size();
        if i - start == MAX_BATCH_ENTRIES || (i > start && bytes + size > MAX_BATCH_BYTES) {
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

/// What one SendMessageBatch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// The call was answered: the entries SQS refused, by position in the batch (the rest were sent).
    Answered(Vec<(usize, SendError)>),
    /// The call itself failed: nothing was sent.
    CallFailed(SendError),
}

/// Where downstream messages go.
pub trait Publisher: Send + Sync {
    /// Sends one batch (within SQS limits) to `queue_url`.
    fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> impl Future<Output = BatchResult> + Send;
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

/// Sends `entries` to `queue` in SQS-sized batches. A refusal for good is final at once; a transient
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
        let sends = batches(&pending)
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
        // A short, growing pause: transient refusals are mostly throttling.
        tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
    }
    unsent
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

/// One message of a window and the queues it goes to (where the routing sends it, or one queue).
#[derive(Debug, Clone, PartialEq)]
pub struct Addressed<'q> {
    /// The caller's index of what it was made from (the fanout: the record's position in its batch).
    pub index: usize,
    /// The message.
    pub message: DownstreamMessage,
    /// Its queue URLs.
    pub queues: Vec<&'q str>,
}

/// Why a message did not reach one of its queues.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsendable {
    /// The queue did not take it (the verdict says whether that may pass).
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

/// One message that did not reach one of its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// The caller's index (see [`Addressed::index`]).
    pub index: usize,
    /// The event's `webhook-id`.
    pub webhook_id: WebhookId,
    /// The event's type.
    pub event_type: String,
    /// The queue that did not take it; `None` when it was never sendable.
    pub queue: Option<String>,
    /// The message's body as sent; `None` when it was never sendable.
    pub body: Option<String>,
    /// Why.
    pub error: Unsendable,
}

/// What a window came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WindowSent {
    /// Messages accepted, by queue URL.
    pub delivered: BTreeMap<String, usize>,
    /// What did not get there, one entry per message and queue.
    pub unsent: Vec<Unsent>,
}

/// Sends a window of at most [`WINDOW`] messages, each to each of its queues: every queue's share in
/// one SendMessageBatch, the queues concurrently, transient refusals tried again (up to `attempts`
/// sends in all). The fanout, a replay and a redrive all send through here.
pub async fn send_routed<P: Publisher>(publisher: &P, window: &[Addressed<'_>], attempts: u32) -> WindowSent {
    let mut sent = WindowSent::default();
    let mut per_queue: BTreeMap<&str, Vec<Outgoing>> = BTreeMap::new();
    for (position, addressed) in window.iter().enumerate() {
        match Outgoing::new(position, &addressed.message) {
            Ok(outgoing) => {
                for queue in &addressed.queues {
                    per_queue.entry(queue).or_default().push(outgoing.clone());
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
        queue: queue.map(str::to_owned),
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
            attributes: vec![
                ("webhook_id", format!("msg_{index}")),
                ("event_type", "batch.succeeded".into()),
            ],
            group_id: "batches/1".into(),
            deduplication_id: format!("msg_{index}"),
        }
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let entries: Vec<_> = (0..25).map(|i| outgoing(i, 100)).collect();
        let sizes: Vec<usize> = batches(&entries).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let entries: Vec<_> = (0..6).map(|i| outgoing(i, 400 * 1024)).collect();
        let batches = batches(&entries);
        assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 2, 2]);
        for batch in batches {
            assert!(batch.iter().map(Outgoing::size).sum::<usize>() <= MAX_BATCH_BYTES);
        }
    }

    #[test]
    fn an_empty_list_makes_no_batch() {
        assert!(batches(&[]).is_empty());
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
