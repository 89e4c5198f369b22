//! Sending to the routed queues: the publisher port, SQS batch limits, and the SQS adapter.

use std::future::Future;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

/// Most entries in one SendMessageBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Most bytes in one SendMessageBatch (bodies and attributes together).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// One message for one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Unique within one batch call; maps a failure back to its stream record.
    pub id: String,
    /// The downstream message, JSON.
    pub body: String,
    /// `webhook_id` attribute, and the FIFO deduplication id.
    pub webhook_id: String,
    /// `event_type` attribute.
    pub event_type: String,
    /// The FIFO message group (`data_id`, so one job's events stay in order).
    pub group_id: String,
}

impl Outgoing {
    /// What the entry counts against the batch size limit.
    fn size(&self) -> usize {
        // Attribute names, types and values; a small allowance covers SQS's own accounting.
        self.body.len()
            + self.webhook_id.len()
            + self.event_type.len()
            + "webhook_idevent_typeStringString".len()
            + 32
    }
}

/// Splits entries into batches SQS accepts: at most ten each and 256 KiB in all.
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

/// Where routed messages go.
pub trait Publisher: Send + Sync {
    /// Sends one batch (within SQS limits) to `queue_url`; returns the ids of the entries that were
    /// not accepted (all of them when the call itself failed).
    fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> impl Future<Output = Vec<String>> + Send;
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

fn attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().ok()
}

fn entry(message: &Outgoing, fifo: bool) -> Option<SendMessageBatchRequestEntry> {
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(&message.id)
        .message_body(&message.body)
        .message_attributes("webhook_id", attribute(&message.webhook_id)?)
        .message_attributes("event_type", attribute(&message.event_type)?);
    if fifo {
        entry = entry.message_group_id(&message.group_id).message_deduplication_id(&message.webhook_id);
    }
    entry.build().ok()
}

impl Publisher for SqsPublisher {
    async fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> Vec<String> {
        let fifo = queue_url.ends_with(".fifo");
        let entries: Option<Vec<_>> = batch.iter().map(|m| entry(m, fifo)).collect();
        let all = || batch.iter().map(|m| m.id.clone()).collect();
        let Some(entries) = entries else { return all() };
        match self.client.send_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await {
            Ok(output) => {
                for failed in output.failed() {
                    tracing::warn!(queue_url, id = failed.id(), code = failed.code(), "entry refused by SQS");
                }
                output.failed().iter().map(|f| f.id().to_owned()).collect()
            }
            Err(error) => {
                tracing::warn!(queue_url, error = %DisplayErrorContext(&error), "SendMessageBatch failed");
                all()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(id: usize, body_len: usize) -> Outgoing {
        Outgoing {
            id: id.to_string(),
            body: "x".repeat(body_len),
            webhook_id: format!("msg_{id}"),
            event_type: "batch.succeeded".into(),
            group_id: "batches/1".into(),
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
        let entries: Vec<_> = (0..6).map(|i| outgoing(i, 100 * 1024)).collect();
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
