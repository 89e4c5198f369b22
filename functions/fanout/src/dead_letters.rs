//! The fanout DLQ, written directly: a record a routed queue refuses for good is kept there as the
//! full downstream message, with its reason and destination, instead of failing the stream batch
//! until Lambda gives up and leaves only a pointer into a stream that expires in 24 hours.

use std::future::Future;

use shared::aws::sqs::{SendError, SqsQueue};
use shared::message::attributes;

/// A record that can never reach one of its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The downstream message (or, for a record that did not decode, its stream image as JSON).
    pub body: String,
    /// The queue that refused it; `None` when it was never sendable at all.
    pub destination: Option<String>,
    /// SQS's error code, or ours.
    pub reason: String,
    /// What was wrong, for people.
    pub detail: String,
    /// The `webhook-id`, when known.
    pub webhook_id: Option<String>,
    /// The event type, when known.
    pub event_type: Option<String>,
}

/// Where records that can never be routed are kept.
pub trait DeadLetters: Send + Sync {
    /// Keeps `letter`; `Ok` once durably kept.
    fn keep(&self, letter: &DeadLetter) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl DeadLetters for SqsQueue {
    async fn keep(&self, letter: &DeadLetter) -> Result<(), SendError> {
        let detail: String = letter.detail.chars().take(512).collect();
        let mut tags = vec![
            (attributes::FAILURE_REASON, letter.reason.as_str()),
            (attributes::FAILURE_DETAIL, detail.as_str()),
        ];
        for (name, value) in [
            (attributes::DESTINATION_QUEUE, &letter.destination),
            (attributes::WEBHOOK_ID, &letter.webhook_id),
            (attributes::EVENT_TYPE, &letter.event_type),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                tags.push((name, value));
            }
        }
        self.send(letter.body.clone(), &tags).await
    }
}
