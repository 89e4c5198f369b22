//! The receiver's quarantine, for people: list what is held, show one delivery, release it (fixed, or
//! as it was) into the ingest queue, from where it is recorded and routed like any delivery.
//!
//! Reading a queue takes its messages for a while: listing hides each message for [`PEEK_SECS`] and
//! then makes it visible again, so nothing is consumed and nothing else reads the quarantine anyway.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use shared::aws::sqs::{SendError, SqsQueue};
use shared::event::EventError;
use shared::message::{EncodeError, QuarantinedDelivery};

/// How long a listing hides each message it reads.
pub const PEEK_SECS: i32 = 30;

/// Why a quarantine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// SQS could not be read or written.
    #[error("SQS {action} on {queue} failed: {detail}")]
    Sqs {
        /// What was being done.
        action: &'static str,
        /// The queue URL.
        queue: String,
        /// SQS's answer, with context.
        detail: String,
    },
    /// No delivery with that `webhook-id` is held.
    #[error("no quarantined delivery has webhook-id {0}")]
    NotFound(String),
    /// The body to release is still not an event.
    #[error("the body to release is not a Gemini event: {0}")]
    NotAnEvent(#[from] EventError),
    /// The body to release is still over the size budget.
    #[error("the body to release cannot be enqueued: {0}")]
    Encode(#[from] EncodeError),
    /// The ingest queue refused the released message.
    #[error("the ingest queue did not take the released message: {0}")]
    Send(#[from] SendError),
}

/// One message in the quarantine.
#[derive(Debug, Clone)]
pub struct Held {
    /// SQS's id for the message.
    pub message_id: String,
    receipt_handle: String,
    /// The delivery, or why the message is not one (written by something other than the receiver).
    pub delivery: Result<QuarantinedDelivery, String>,
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
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Quarantine {
    /// The quarantine at `url`.
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { sqs, url: url.into() }
    }

    fn error(&self, action: &'static str, error: impl std::error::Error) -> QuarantineError {
        QuarantineError::Sqs {
            action,
            queue: self.url.clone(),
            detail: DisplayErrorContext(error).to_string(),
        }
    }

    /// Every held message, oldest first, left in the queue.
    pub async fn list(&self) -> Result<Vec<Held>, QuarantineError> {
        let held = self.take_all().await?;
        self.make_visible(&held).await?;
        Ok(held)
    }

    /// Reads every message, hiding each for [`PEEK_SECS`]; long polling (1 s) asks every SQS host, so
    /// an empty answer means an empty queue.
    async fn take_all(&self) -> Result<Vec<Held>, QuarantineError> {
        let mut held = Vec::new();
        loop {
            let page = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .visibility_timeout(PEEK_SECS)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                .send()
                .await
                .map_err(|e| self.error("ReceiveMessage", e))?;
            if page.messages().is_empty() {
                break;
            }
            held.extend(page.messages().iter().map(|message| {
                Held {
                    message_id: message.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: message.receipt_handle().unwrap_or_default().to_owned(),
                    delivery: QuarantinedDelivery::from_sqs_body(message.body().unwrap_or_default())
                        .map_err(|e| e.to_string()),
                }
            }));
        }
        held.sort_by_key(|h| h.delivery.as_ref().map(|d| d.provenance.received_at).unwrap_or(i64::MAX));
        Ok(held)
    }

    async fn make_visible(&self, held: &[Held]) -> Result<(), QuarantineError> {
        for chunk in held.chunks(10) {
            let entries = chunk.iter().enumerate().filter_map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&h.receipt_handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            });
            self.sqs
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map_err(|e| self.error("ChangeMessageVisibilityBatch", e))?;
        }
        Ok(())
    }

    /// The held delivery with `webhook_id`.
    pub async fn show(&self, webhook_id: &str) -> Result<QuarantinedDelivery, QuarantineError> {
        self.list()
            .await?
            .into_iter()
            .find_map(|h| h.delivery.ok().filter(|d| d.provenance.webhook_id.as_str() == webhook_id))
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
    ) -> Result<Released, QuarantineError> {
        let held = self.take_all().await?;
        let (matching, others): (Vec<Held>, Vec<Held>) = held
            .into_iter()
            .partition(|h| h.delivery.as_ref().is_ok_and(|d| d.provenance.webhook_id.as_str() == webhook_id));
        self.make_visible(&others).await?;
        if matching.is_empty() {
            return Err(QuarantineError::NotFound(webhook_id.to_owned()));
        }
        let outcome = self.release_all(&matching, fixed_body, ingest).await;
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
    ) -> Result<Released, QuarantineError> {
        let Some(first) = matching.iter().find_map(|h| h.delivery.as_ref().ok()) else {
            return Ok(Released { count: 0 });
        };
        let message = first.release(fixed_body)?;
        ingest.send(message.to_sqs_body()?, &message.sqs_attributes()).await?;
        for held in matching {
            self.sqs
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(&held.receipt_handle)
                .send()
                .await
                .map_err(|e| self.error("DeleteMessage", e))?;
        }
        Ok(Released { count: matching.len() })
    }
}
