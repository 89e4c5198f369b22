//! The ingest DLQ, written directly: a message that can never be recorded goes there at once, with
//! its reason, instead of being retried until SQS's redrive moves it without one.

use std::future::Future;

use shared::aws::sqs::{SendError, SqsQueue};
use shared::message::attributes;

/// Where ingest messages that can never be recorded are kept.
pub trait DeadLetters: Send + Sync {
    /// Keeps `body` (the ingest message as received) with why it failed.
    fn keep(
        &self,
        body: &str,
        reason: &str,
        detail: &str,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl DeadLetters for SqsQueue {
    async fn keep(&self, body: &str, reason: &str, detail: &str) -> Result<(), SendError> {
        // SQS refuses an empty body; a record without one keeps a visible placeholder.
        let body = if body.is_empty() { "(no body)" } else { body };
        let detail: String = detail.chars().take(512).collect();
        let tags = [(attributes::FAILURE_REASON, reason), (attributes::FAILURE_DETAIL, detail.as_str())];
        self.send(body.to_owned(), &tags).await
    }
}
