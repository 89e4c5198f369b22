//! Where a stage keeps what it can never pass on: its dead-letter queue, written directly with the
//! reason ([`DeadLetter`]), instead of failing until Lambda or SQS gives up and leaves no reason (or,
//! for a stream, only a pointer that expires in 24 hours).

use std::future::Future;

use crate::aws::queue::{SendError, SqsQueue};
use crate::message::DeadLetter;

/// A dead-letter queue.
pub trait DeadLetters: Send + Sync {
    /// Keeps `letter`; `Ok` once durably kept.
    fn keep(&self, letter: &DeadLetter) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl DeadLetters for SqsQueue {
    async fn keep(&self, letter: &DeadLetter) -> Result<(), SendError> {
        self.send(letter.body.clone(), &letter.sqs_attributes(), None).await
    }
}
