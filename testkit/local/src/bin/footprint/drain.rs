//! Emptying the routed queues between the fanout's invocations, counting what arrived.
//!
//! Two reasons. The check: a fanout that reports no failure must have put exactly the records it was
//! given on the queues, each a downstream message. And the emulator: moto rebuilds a queue's
//! attributes, approximate counts included, on every SendMessage, so each send costs time in
//! proportion to the messages waiting; left in place, a run's messages would make it measure moto.
//! Draining every [`DRAIN_EVERY`] messages keeps the queues shallow with full receives. The messages
//! drained from the consumer's queue are kept: the failed, expired and cancelled ones are the
//! consumer's events (their follow-up, a failure record in the results bucket, needs no Gemini).

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use shared::fixtures::lambda_events::sqs_record;
use shared::message::DownstreamMessage;
use testkit::Stack;

use crate::Error;

/// Messages sent before the queues are drained: ten full receives.
const DRAIN_EVERY: usize = 100;

/// Drains a stack's routed queues.
pub(crate) struct Drain {
    sqs: aws_sdk_sqs::Client,
    /// The routed queues' URLs.
    queues: Vec<String>,
    /// The queue whose messages are kept, and how many to keep.
    keep_url: String,
    keep_max: usize,
    kept: Vec<SqsMessage>,
    /// Messages sent since the last drain.
    pending: usize,
}

impl Drain {
    /// Drains every routed queue of `stack`, keeping up to `keep_max` messages of its `keep` queue.
    pub(crate) fn new(sqs: aws_sdk_sqs::Client, stack: &Stack, keep: &str, keep_max: usize) -> Self {
        let queues = stack.routed.values().map(|q| q.url.clone()).collect();
        let keep_url = stack.routed(keep).url.clone();
        Self { sqs, queues, keep_url, keep_max, kept: Vec::new(), pending: 0 }
    }

    /// Accounts for `count` more messages sent; drains once [`DRAIN_EVERY`] are waiting, or at the
    /// `last` invocation.
    pub(crate) async fn sent(&mut self, count: usize, last: bool) -> Result<(), Error> {
        self.pending += count;
        if self.pending >= DRAIN_EVERY || last {
            let expected = std::mem::take(&mut self.pending);
            self.settle(expected).await?;
        }
        Ok(())
    }

    /// Receives and deletes everything waiting; fails unless it is exactly `expected` downstream
    /// messages.
    async fn settle(&mut self, expected: usize) -> Result<(), Error> {
        let mut arrived = 0;
        for url in &self.queues {
            loop {
                let page = self
                    .sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .message_attribute_names("All")
                    .send()
                    .await?;
                if page.messages().is_empty() {
                    break;
                }
                let mut entries = Vec::new();
                for (i, message) in page.messages().iter().enumerate() {
                    let body = message.body().unwrap_or_default();
                    let downstream = DownstreamMessage::from_sqs_body(body)
                        .map_err(|e| format!("not a downstream message on {url} ({e}): {body}"))?;
                    entries.push(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(message.receipt_handle().unwrap_or_default())
                            .build()?,
                    );
                    // The consumer's workload: the events whose follow-up (a failure record in S3) needs
                    // AWS alone, so the measurement needs no Gemini.
                    if *url == self.keep_url
                        && downstream.ended_without_result()
                        && self.kept.len() < self.keep_max
                    {
                        self.kept.push(sqs_record(message, url));
                    }
                }
                arrived += entries.len();
                let deleted =
                    self.sqs.delete_message_batch().queue_url(url).set_entries(Some(entries)).send().await?;
                if let Some(failed) = deleted.failed().first() {
                    return Err(format!("deleting from {url} failed: {failed:?}").into());
                }
            }
        }
        if arrived == expected {
            Ok(())
        } else {
            Err(format!(
                "the fanout reported no failure, but {arrived} messages arrived for {expected} records"
            )
            .into())
        }
    }

    /// The kept messages, as the SQS trigger hands them to a function.
    pub(crate) fn into_kept(self) -> Vec<SqsMessage> {
        self.kept
    }
}
