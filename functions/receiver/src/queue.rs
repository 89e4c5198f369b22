//! Where verified deliveries go: the ingest queue, or, when one cannot become an ingest message, the
//! quarantine. The port, and its SQS adapter.

use std::future::Future;

use shared::aws::queue::{SendError, SqsQueue};
use shared::message::{EncodeError, IngestMessage, QuarantinedDelivery};

/// Why a message did not reach the ingest queue.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The message cannot be made (over the size budget, or not serialisable): a verdict on the
    /// delivery, never on the network.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// SQS did not take it.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// The receiver's two queues. A port, so the handler is tested against the real SQS adapter and
/// benchmarked without network.
pub trait DeliveryQueues: Send + Sync {
    /// Enqueues a verified delivery; `Ok` only once the queue has durably accepted it.
    fn enqueue(&self, message: &IngestMessage) -> impl Future<Output = Result<(), EnqueueError>> + Send;

    /// Keeps a verified delivery that cannot be enqueued; `Ok` only once it is durably kept.
    fn quarantine(
        &self,
        delivery: &QuarantinedDelivery,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// The ingest and quarantine queues in SQS.
#[derive(Debug, Clone)]
pub struct SqsDeliveryQueues {
    ingest: SqsQueue,
    quarantine: SqsQueue,
}

impl SqsDeliveryQueues {
    /// The queues at `ingest_url` and `quarantine_url`, through `client`.
    pub fn new(client: aws_sdk_sqs::Client, ingest_url: &str, quarantine_url: &str) -> Self {
        Self {
            ingest: SqsQueue::new(client.clone(), ingest_url),
            quarantine: SqsQueue::new(client, quarantine_url),
        }
    }
}

impl DeliveryQueues for SqsDeliveryQueues {
    async fn enqueue(&self, message: &IngestMessage) -> Result<(), EnqueueError> {
        let body = message.to_sqs_body()?;
        let trace = message.provenance.trace_header.as_ref();
        Ok(self.ingest.send(body, &message.sqs_attributes(), trace).await?)
    }

    async fn quarantine(&self, delivery: &QuarantinedDelivery) -> Result<(), SendError> {
        let body = delivery.to_sqs_body().map_err(|e| SendError::MessageRefused {
            code: "NotSerialisable".into(),
            detail: e.to_string(),
        })?;
        self.quarantine
            .send(body, &delivery.sqs_attributes(), delivery.provenance.trace_header.as_ref())
            .await
    }
}
