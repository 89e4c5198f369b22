//! The ingest queue port, and its SQS adapter.

use std::future::Future;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;
use shared::message::IngestMessage;

/// The largest SQS message body (256 KiB), counting the message attributes.
pub const SQS_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Why a message was not enqueued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The message is larger than the queue accepts; retrying cannot help.
    #[error("message of {0} bytes is larger than the queue accepts")]
    TooLarge(usize),
    /// The queue could not be reached or refused the call; a retry may succeed.
    #[error("enqueue failed: {0}")]
    Unavailable(String),
}

/// Where verified deliveries go. A port, so the handler is tested against the real SQS adapter and
/// benchmarked without network.
pub trait IngestQueue: Send + Sync {
    /// Enqueues one message; `Ok` only once the queue has durably accepted it.
    fn send(
        &self,
        message: &IngestMessage,
        body: String,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send;
}

/// The ingest queue in SQS.
#[derive(Debug, Clone)]
pub struct SqsIngestQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsIngestQueue {
    /// The queue at `url`, through `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }
}

fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().ok()
}

impl IngestQueue for SqsIngestQueue {
    async fn send(&self, message: &IngestMessage, body: String) -> Result<(), EnqueueError> {
        let size = body.len() + message.webhook_id.as_str().len() + message.event.event_type().len() + 64;
        if size > SQS_MAX_MESSAGE_BYTES {
            return Err(EnqueueError::TooLarge(size));
        }
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .set_message_attributes(Some(
                [("webhook_id", message.webhook_id.as_str()), ("event_type", message.event.event_type())]
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_owned(), string_attribute(v)?)))
                    .collect(),
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| EnqueueError::Unavailable(DisplayErrorContext(e).to_string()))
    }
}
