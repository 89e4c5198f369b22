//! The receiver's quarantine, for people: list what is held, show one delivery, release it (fixed, or
//! as it was) into the ingest queue, from where it is recorded and routed like any delivery.
//!
//! Reading a queue takes its messages for a while: listing hides each message for [`PEEK_SECS`] and
//! then makes it visible again, so nothing is consumed and nothing else reads the quarantine anyway.

use aws_sdk_sqs::types::Message;
use shared::aws::queue::{SendError, SqsQueue};
use shared::event::EventError;
use shared::message::{EncodeError, QuarantinedDelivery};

use shared::clock::{Clock, SystemClock};

use crate::ops::event_log::EventLog;
use crate::ops::queue::{PEEK_SECS, QueueError, WatchedQueue};

/// Why a quarantine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// SQS could not be read or written.
    #[error(transparent)]
    Sqs(#[from] QueueError),
    /// No delivery with that `webhook-id` is held.
    #[error(
        "no quarantined delivery has webhook-id {0} (`gemini-webhooks quarantine list` shows what is held)"
    )]
    NotFound(String),
    /// The body to release is still not an event.
    #[error("the body to release is not a Gemini event")]
    NotAnEvent(#[from] EventError),
    /// The body to release is still over the size budget.
    #[error("the body to release cannot be enqueued")]
    Encode(#[from] EncodeError),
    /// The ingest queue refused the released message.
    #[error("the ingest queue did not take the released message")]
    Send(#[from] SendError),
    /// The events table could not be read, to check the release against what is recorded.
    #[error(transparent)]
    Log(#[from] crate::ops::event_log::LogError),
    /// The `webhook-id` is recorded already with another body: the recorder would drop the release as a
    /// conflict, so it is not sent, and the delivery stays held.
    #[error(
        "webhook-id {webhook_id} is recorded already, with another body: released, it would be dropped as a \
         conflict, so it stays held (`gemini-webhooks events show {webhook_id}` shows what was recorded)"
    )]
    Conflict {
        /// The delivery's id.
        webhook_id: String,
    },
    /// The `webhook-id` is recorded already with this very body: there is nothing to release.
    #[error(
        "webhook-id {webhook_id} is recorded already, with this body: the event is in the pipeline, nothing to \
         release (it stays held)"
    )]
    AlreadyRecorded {
        /// The delivery's id.
        webhook_id: String,
    },
}

/// One message in the quarantine.
#[derive(Debug, Clone)]
pub struct Held {
    /// SQS's id for the message.
    pub message_id: String,
    message: Message,
    /// The delivery, or why the message is not one (written by something other than the receiver).
    pub delivery: Result<QuarantinedDelivery, String>,
}

impl Held {
    fn new(message: Message) -> Self {
        Self {
            message_id: message.message_id().unwrap_or_default().to_owned(),
            delivery: QuarantinedDelivery::from_sqs_body(message.body().unwrap_or_default())
                .map_err(|e| e.to_string()),
            message,
        }
    }

    fn is(&self, webhook_id: &str) -> bool {
        self.delivery.as_ref().is_ok_and(|d| d.provenance.webhook_id.as_str() == webhook_id)
    }
}

/// What a release did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// Messages holding that `webhook-id` that were released (a retry may have been quarantined twice;
    /// the recorder keeps one).
    pub count: usize,
}

/// The quarantine queue.
#[derive(Debug, Clone)]
pub struct Quarantine {
    queue: WatchedQueue,
}

/// The most held messages one pass reads: the quarantine holds what the receiver could not enqueue,
/// rarely more than a few.
pub const HELD_MAX: usize = 1_000;

impl Quarantine {
    /// The quarantine at `url`.
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { queue: WatchedQueue::new(sqs, url) }
    }

    /// The held messages, oldest first, left in the queue: all of them, up to [`HELD_MAX`] (and what
    /// one bounded pass reads); `true` beside them when more may be waiting.
    pub async fn list(&self) -> Result<(Vec<Held>, bool), QuarantineError> {
        let pass = self.queue.peek(HELD_MAX).await?;
        Ok((oldest_first(pass.messages), pass.more))
    }

    /// Reads the held messages (one bounded pass), hiding each for [`PEEK_SECS`].
    async fn take_all(&self) -> Result<Vec<Held>, QuarantineError> {
        Ok(oldest_first(self.queue.take(PEEK_SECS, HELD_MAX).await?.messages))
    }

    async fn make_visible(&self, held: &[Held]) -> Result<(), QuarantineError> {
        Ok(self.queue.make_visible(held.iter().map(|h| &h.message)).await?)
    }

    /// The held delivery with `webhook_id`.
    pub async fn show(&self, webhook_id: &str) -> Result<QuarantinedDelivery, QuarantineError> {
        self.list()
            .await?
            .0
            .into_iter()
            .find(|h| h.is(webhook_id))
            .and_then(|h| h.delivery.ok())
            .ok_or_else(|| QuarantineError::NotFound(webhook_id.to_owned()))
    }

    /// Releases the delivery with `webhook_id` into `ingest`: `fixed_body` in place of the original when
    /// given, with the original provenance. It leaves the quarantine only once the ingest queue has it;
    /// if anything fails first, it stays held.
    pub async fn release(
        &self,
        webhook_id: &str,
        fixed_body: Option<&[u8]>,
        ingest: &SqsQueue,
        recorded: &EventLog,
    ) -> Result<Released, QuarantineError> {
        let (matching, others): (Vec<Held>, Vec<Held>) =
            self.take_all().await?.into_iter().partition(|h| h.is(webhook_id));
        self.make_visible(&others).await?;
        if matching.is_empty() {
            return Err(QuarantineError::NotFound(webhook_id.to_owned()));
        }
        let outcome = self.release_all(&matching, fixed_body, ingest, recorded).await;
        if outcome.is_err() {
            self.make_visible(&matching).await?;
        }
        outcome
    }

    async fn release_all(
        &self,
        matching: &[Held],
        fixed_body: Option<&[u8]>,
        ingest: &SqsQueue,
        recorded: &EventLog,
    ) -> Result<Released, QuarantineError> {
        let Some(first) = matching.iter().find_map(|h| h.delivery.as_ref().ok()) else {
            return Ok(Released { count: 0 });
        };
        let message = first.release(fixed_body, SystemClock.unix_now_ms())?;
        // The recorder keeps the first body of an id and drops another as a conflict: say so now, to
        // the person releasing, rather than have the release vanish into a metric.
        let webhook_id = message.webhook_id().to_string();
        match recorded.get(&webhook_id).await? {
            Some(Ok(event)) if event.body_sha256 == message.body_sha256 => {
                return Err(QuarantineError::AlreadyRecorded { webhook_id });
            }
            Some(_) => return Err(QuarantineError::Conflict { webhook_id }),
            None => {}
        }
        ingest
            .send(message.to_sqs_body()?, &message.sqs_attributes(), message.provenance.trace_header.as_ref())
            .await?;
        for held in matching {
            self.queue.delete(&held.message).await?;
        }
        Ok(Released { count: matching.len() })
    }
}

/// The deliveries held, oldest first (what is not one last).
fn oldest_first(messages: Vec<Message>) -> Vec<Held> {
    let mut held: Vec<Held> = messages.into_iter().map(Held::new).collect();
    held.sort_by_key(|h| h.delivery.as_ref().map(|d| d.provenance.received_at).unwrap_or(i64::MAX));
    held
}
