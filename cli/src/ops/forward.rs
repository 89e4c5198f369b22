//! Forwarding a queue to a local endpoint (the `stripe listen --forward-to` habit): each message a
//! development route brings is POSTed to the user's consumer on their laptop, deleted once it answers
//! 2xx, and left in the queue otherwise, so SQS redelivers it after the queue's visibility timeout (and,
//! after `maxReceiveCount` attempts, moves it to the queue's dead-letter queue) exactly as it would for
//! a deployed consumer.

use std::time::Duration;

use aws_sdk_sqs::types::Message;
use serde::Serialize;
use shared::message::DownstreamMessage;

use crate::ops::queue::{QueueError, WatchedQueue};
use shared::fixtures::lambda_events::{sqs_event, sqs_record};

/// What is POSTed for each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The downstream message, as JSON, exactly as the queue holds it.
    Message,
    /// An SQS event holding the message as its one record, as Lambda's trigger would invoke a function
    /// (for `cargo lambda watch` or `sam local start-lambda`); a reported batch item failure, or a
    /// function error, leaves the message.
    SqsEvent,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forwarded {
    /// SQS's id for the message.
    pub message_id: String,
    /// The event's `webhook-id`, when the message is a downstream message.
    pub webhook_id: Option<String>,
    /// The event's type, likewise.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// The endpoint's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Delivered (and deleted), or left in the queue.
    pub delivered: bool,
    /// Why it was left, when it was.
    pub reason: Option<String>,
}

/// Reads a queue and POSTs what it holds to one endpoint.
#[derive(Debug, Clone)]
pub struct Forwarder {
    queue: WatchedQueue,
    http: reqwest::Client,
    target: String,
    format: Format,
}

impl Forwarder {
    /// Forwards `queue` to `target` as `format`, each POST allowed `timeout`.
    pub fn new(
        queue: WatchedQueue,
        target: impl Into<String>,
        format: Format,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("gemini-webhooks-forward/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { queue, http, target: target.into(), format })
    }

    /// One receive (long-polling up to `wait_secs`) and every message it brought, forwarded in order.
    pub async fn pass(&self, wait_secs: i32) -> Result<Vec<Forwarded>, QueueError> {
        let mut forwarded = Vec::new();
        for message in self.queue.receive(wait_secs, None).await? {
            let mut outcome = self.forward(&message).await;
            if outcome.delivered
                && let Err(e) = self.queue.delete(&message).await
            {
                // Delivered but still in the queue: it comes again, which idempotent consumers absorb.
                outcome.reason = Some(format!("delivered, but not deleted ({e}): it will come again"));
            }
            forwarded.push(outcome);
        }
        Ok(forwarded)
    }

    async fn forward(&self, message: &Message) -> Forwarded {
        let text = message.body().unwrap_or_default();
        let decoded = DownstreamMessage::from_sqs_body(text).ok();
        let mut outcome = Forwarded {
            message_id: message.message_id().unwrap_or_default().to_owned(),
            webhook_id: decoded.as_ref().map(|m| m.webhook_id().to_string()),
            event_type: decoded.as_ref().map(|m| m.event_type.clone()),
            status: None,
            delivered: false,
            reason: None,
        };
        let body = match self.format {
            Format::Message => text.to_owned(),
            Format::SqsEvent => {
                match serde_json::to_string(&sqs_event(vec![sqs_record(message, self.queue.url())])) {
                    Ok(body) => body,
                    Err(e) => {
                        outcome.reason = Some(format!("could not make an SQS event of it: {e}"));
                        return outcome;
                    }
                }
            }
        };
        let sent =
            self.http.post(&self.target).header("content-type", "application/json").body(body).send().await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                outcome.reason = Some(format!("could not reach {}: {}", self.target, reqwest_reason(&e)));
                return outcome;
            }
        };
        let status = response.status();
        outcome.status = Some(status.as_u16());
        let function_error = response.headers().contains_key("x-amz-function-error");
        let answer = response.bytes().await.unwrap_or_default();
        outcome.reason = if !status.is_success() {
            Some(format!("answered {status}"))
        } else if function_error {
            Some("the function failed (X-Amz-Function-Error)".into())
        } else if self.format == Format::SqsEvent && reports_failure(&answer, &outcome.message_id) {
            Some("the function reported it in batchItemFailures".into())
        } else {
            None
        };
        outcome.delivered = outcome.reason.is_none();
        outcome
    }
}

/// The cause of a failed request, without its URL (which may carry a token).
fn reqwest_reason(error: &reqwest::Error) -> String {
    let mut reason = if error.is_timeout() { "timed out".to_owned() } else { "no answer".to_owned() };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason = cause.to_string();
        source = cause.source();
    }
    reason
}

/// Whether an `SQSBatchResponse` lists `message_id` as failed.
fn reports_failure(answer: &[u8], message_id: &str) -> bool {
    let Ok(response) = serde_json::from_slice::<serde_json::Value>(answer) else { return false };
    response["batchItemFailures"]
        .as_array()
        .is_some_and(|failures| failures.iter().any(|f| f["itemIdentifier"] == message_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_response_naming_the_message_is_a_failure() {
        assert!(reports_failure(br#"{"batchItemFailures":[{"itemIdentifier":"m1"}]}"#, "m1"));
        assert!(!reports_failure(br#"{"batchItemFailures":[]}"#, "m1"));
        assert!(!reports_failure(b"null", "m1"));
    }
}
