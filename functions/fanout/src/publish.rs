//! Sending to the routed queues: the publisher port, SQS batch limits, and the SQS adapter.

use std::future::Future;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use shared::aws::sqs::{SendError, classify, classify_entry, message_size, string_attribute};
use shared::limits::SQS_MAX_MESSAGE_BYTES;
use shared::message::attributes;

/// Most entries in one SendMessageBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Most bytes in one SendMessageBatch (bodies and attributes together).
pub const MAX_BATCH_BYTES: usize = SQS_MAX_MESSAGE_BYTES;

/// One message for one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The stream record it comes from: its index in the batch.
    pub record: usize,
    /// The downstream message, SQS-safe JSON.
    pub body: String,
    /// `webhook_id` attribute.
    pub webhook_id: String,
    /// `event_type` attribute.
    pub event_type: String,
    /// The FIFO message group (the job, so one job's events are delivered one at a time).
    pub group_id: String,
    /// The FIFO deduplication id (the `webhook-id`, fitted to SQS's rules).
    pub deduplication_id: String,
}

impl Outgoing {
    fn attributes(&self) -> [(&str, &str); 2] {
        [(attributes::WEBHOOK_ID, &self.webhook_id), (attributes::EVENT_TYPE, &self.event_type)]
    }

    /// What the entry counts against the batch size limit, as SQS counts it.
    fn size(&self) -> usize {
        message_size(&self.body, &self.attributes())
    }
}

/// Splits entries into batches SQS accepts: at most ten each and 1 MiB in all.
pub fn batches(entries: &[Outgoing]) -> Vec<&[Outgoing]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, entry) in entries.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || (i > start && bytes + entry.size() > MAX_BATCH_BYTES);
        if full {
            batches.push(&entries[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += entry.size();
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

/// Where routed messages go.
pub trait Publisher: Send + Sync {
    /// Sends one batch (within SQS limits) to `queue_url`.
    fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> impl Future<Output = BatchResult> + Send;
}

/// The routed queues in SQS.
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
    for (name, value) in message.attributes() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(record: usize, body_len: usize) -> Outgoing {
        Outgoing {
            record,
            body: "x".repeat(body_len),
            webhook_id: format!("msg_{record}"),
            event_type: "batch.succeeded".into(),
            group_id: "batches/1".into(),
            deduplication_id: format!("msg_{record}"),
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
}
