//! An example consumer of a routed queue: one call turns each SQS record into a
//! [`DownstreamMessage`], a claim on its `webhook_id` makes acting on it happen once however often it
//! is delivered, and the match on its kind is where your code goes (download the batch results,
//! resume the interaction, fetch the video). Copy this crate to start your own.

mod config;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::aws::batch::{self, UnreportableFailure};
use shared::aws::idempotency::{Claim, Idempotency};
use shared::event::EventKind;
use shared::message::DownstreamMessage;

pub use config::Config;

/// The consumer's dependencies, built once per container.
#[derive(Debug)]
pub struct Consumer {
    /// Claims on each `webhook_id`, so each event is acted on once.
    pub once: Idempotency,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acted on, for the first time.
    Acted,
    /// Acted on before: acknowledged, nothing done.
    Duplicate,
    /// Not done now (unparseable, being handled elsewhere, the claims table unreachable): SQS
    /// redelivers it, and after the queue's retries moves it to the DLQ.
    Failed(String),
}

/// Handles one batch: only the records that failed are reported, so SQS redelivers those alone.
pub async fn handle(
    consumer: &Consumer,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, UnreportableFailure> {
    let mut failed = Vec::new();
    for record in event.payload.records {
        if let Outcome::Failed(reason) = process(consumer, &record).await {
            tracing::warn!(message_id = record.message_id.as_deref(), %reason, "will be redelivered");
            failed.push(record.message_id);
        }
    }
    batch::sqs_response(failed)
}

/// One record: parse, claim, act, mark done.
pub async fn process(consumer: &Consumer, record: &SqsMessage) -> Outcome {
    let message = match DownstreamMessage::from_sqs_body(record.body.as_deref().unwrap_or_default()) {
        Ok(message) => message,
        Err(error) => return Outcome::Failed(format!("not a downstream message: {error}")),
    };
    match consumer.once.claim(&message.provenance.webhook_id).await {
        Ok(Claim::Acquired) => {}
        Ok(Claim::AlreadyDone) => return Outcome::Duplicate,
        Ok(Claim::InProgress) => return Outcome::Failed("another invocation is handling it".into()),
        Err(error) => return Outcome::Failed(error.to_string()),
    }
    act_on(&message);
    // Acting happened: if marking it fails, the lease still runs out and a redelivery (if any) acts
    // again, which your code must tolerate anyway; the record itself is done.
    if let Err(error) = consumer.once.done(&message.provenance.webhook_id).await {
        tracing::warn!(webhook_id = %message.provenance.webhook_id, %error, "acted, but could not mark it done");
    }
    Outcome::Acted
}

/// What a real consumer would act on.
fn act_on(message: &DownstreamMessage) {
    let id = message.provenance.webhook_id.as_str();
    let job = message.data_id.as_deref().unwrap_or("<no id>");
    match message.kind() {
        EventKind::BatchSucceeded | EventKind::VideoGenerated => tracing::info!(
            webhook_id = id,
            job,
            output = message.event.output_uri(),
            "job finished: fetch its output"
        ),
        kind if kind.is_failure() => tracing::warn!(
            webhook_id = id,
            job,
            error_code = message.event.error_code().map(|c| c.to_string()),
            error_message = message.event.error_message(),
            "job failed"
        ),
        _ => tracing::info!(webhook_id = id, job, event_type = %message.event_type, "job event"),
    }
}
