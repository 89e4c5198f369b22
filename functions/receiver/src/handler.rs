//! One delivery: method and size checks, verification, envelope parsing, enqueue, and the answer.
//! Every outcome is one [`Outcome`], logged once, counted once and answered once.
//!
//! Once a signature verifies, the event is the user's: nothing after that point answers 4xx. A
//! delivery that cannot become an ingest message (not an event, over the size budget, refused by SQS
//! for its content) is quarantined and answered 202, so Gemini stops retrying and the user has it;
//! only a dependency that is down (the queue, the quarantine, the signing keys) answers 503.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use shared::aws::sqs::SendError;
use shared::clock::Clock;
use shared::event::Event;
use shared::message::{EncodeError, IngestMessage, QuarantineReason, QuarantinedDelivery};
use shared::metrics::{self, Function, Metric};
use shared::signature::{Rejection, Verified, Verifier, VerifyError};

use crate::queue::{DeliveryQueues, EnqueueError};

/// Seconds Gemini is asked to wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// The receiver's dependencies, built once per container.
#[derive(Debug)]
pub struct Receiver<Q> {
    /// Signature verification, with the endpoint's secrets and Google's keys kept fresh.
    pub verifier: Verifier,
    /// Where verified deliveries go.
    pub queues: Q,
    /// Bodies larger than this are refused before any crypto.
    pub max_body_bytes: usize,
    /// For `received_at`.
    pub clock: Arc<dyn Clock>,
}

/// What became of a request.
#[derive(Debug)]
enum Outcome {
    /// Verified and enqueued.
    Accepted(Verified),
    /// Verified, and kept in the quarantine.
    Quarantined(Verified, QuarantineReason),
    /// Not accepted.
    Refused(Refusal),
}

/// Why a request was not accepted.
#[derive(Debug)]
enum Refusal {
    MethodNotAllowed,
    TooLarge {
        limit: usize,
    },
    Verify(VerifyError),
    /// A dependency is down: the ingest queue, or the quarantine when a delivery had to go there.
    Unavailable(SendError),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Verify(e) => match e.rejection() {
                Rejection::Malformed => StatusCode::BAD_REQUEST,
                Rejection::Unauthenticated => StatusCode::UNAUTHORIZED,
                Rejection::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable machine-readable code in the response body, logs and the `reason` dimension.
    fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "body_too_large",
            Self::Verify(e) => e.code(),
            Self::Unavailable(_) => "enqueue_failed",
        }
    }

    /// A short explanation for the sender; never a secret, signature or body byte.
    fn message(&self) -> String {
        match self {
            Self::MethodNotAllowed => "only POST is accepted".into(),
            Self::TooLarge { limit } => format!("body is larger than {limit} bytes"),
            Self::Verify(e) => e.to_string(),
            Self::Unavailable(_) => "temporarily unable to accept events".into(),
        }
    }
}

/// Handles one request. Never fails: every outcome, including a dependency being down, is an answer.
pub async fn handle<Q: DeliveryQueues>(receiver: &Receiver<Q>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = accept(receiver, &request).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let now_ms = receiver.clock.unix_now_ms();
    match outcome {
        Outcome::Accepted(verified) => {
            tracing::info!(
                webhook_id = %verified.webhook_id, scheme = %verified.scheme, outcome = "accepted",
                status = 200, latency_us, "delivery accepted"
            );
            metrics::emit(Function::Receiver, Metric::Accepted, 1, &[], now_ms);
            json_response(StatusCode::OK, &json!({"status": "accepted", "webhook_id": verified.webhook_id}))
        }
        Outcome::Quarantined(verified, reason) => {
            tracing::error!(
                webhook_id = %verified.webhook_id, scheme = %verified.scheme, outcome = "quarantined",
                reason = reason.as_str(), status = 202, latency_us,
                "verified delivery quarantined: list it with `gemini-webhooks quarantine list`"
            );
            metrics::emit(Function::Receiver, Metric::Quarantined, 1, &[], now_ms);
            json_response(
                StatusCode::ACCEPTED,
                &json!({"status": "quarantined", "webhook_id": verified.webhook_id, "reason": reason.as_str()}),
            )
        }
        Outcome::Refused(refusal) => {
            let status = refusal.status();
            match &refusal {
                Refusal::Unavailable(error) => {
                    tracing::error!(%error, status = status.as_u16(), latency_us, "enqueue failed");
                    metrics::emit(Function::Receiver, Metric::EnqueueFailed, 1, &[], now_ms);
                }
                _ => {
                    tracing::info!(
                        outcome = "rejected", reason = refusal.code(), detail = %refusal.message(),
                        status = status.as_u16(), latency_us, "delivery rejected"
                    );
                    metrics::emit(
                        Function::Receiver,
                        Metric::Rejected,
                        1,
                        &[("reason", refusal.code())],
                        now_ms,
                    );
                }
            }
            let mut response =
                json_response(status, &json!({"error": refusal.code(), "message": refusal.message()}));
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            if status == StatusCode::METHOD_NOT_ALLOWED {
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            response
        }
    }
}

async fn accept<Q: DeliveryQueues>(receiver: &Receiver<Q>, request: &Request) -> Outcome {
    if request.method() != Method::POST {
        return Outcome::Refused(Refusal::MethodNotAllowed);
    }
    // lambda_http has already decoded a base64-encoded body: these are the bytes Gemini sent.
    let body: &[u8] = request.body().as_ref();
    if body.len() > receiver.max_body_bytes {
        return Outcome::Refused(Refusal::TooLarge { limit: receiver.max_body_bytes });
    }
    // Dynamic deliveries carry the endpoint's token in the URL Gemini was given for the job.
    let url_token = request.query_string_parameters_ref().and_then(|query| query.first("token"));
    let verified = match receiver.verifier.verify(request.headers(), body, url_token).await {
        Ok(verified) => verified,
        Err(error) => return Outcome::Refused(Refusal::Verify(error)),
    };
    // From here on the event is the user's: enqueued, or kept in the quarantine, or a 503.
    let received_at = receiver.clock.unix_now_ms();
    let event = match Event::parse(body) {
        Ok(event) => event,
        Err(error) => {
            return quarantine(receiver, verified, body, QuarantineReason::InvalidEvent, error).await;
        }
    };
    let message = IngestMessage::new(verified.clone(), body, event, received_at);
    match receiver.queues.enqueue(&message).await {
        Ok(()) => Outcome::Accepted(verified),
        Err(EnqueueError::Encode(error @ EncodeError::OverBudget { .. })) => {
            quarantine(receiver, verified, body, QuarantineReason::OverBudget, error).await
        }
        Err(EnqueueError::Encode(error)) => {
            quarantine(receiver, verified, body, QuarantineReason::Refused, error).await
        }
        Err(EnqueueError::Send(error @ SendError::MessageRefused { .. })) => {
            quarantine(receiver, verified, body, QuarantineReason::Refused, error).await
        }
        // The queue is down or refuses everything: Gemini retries, the alarm fires.
        Err(EnqueueError::Send(error)) => Outcome::Refused(Refusal::Unavailable(error)),
    }
}

async fn quarantine<Q: DeliveryQueues>(
    receiver: &Receiver<Q>,
    verified: Verified,
    body: &[u8],
    reason: QuarantineReason,
    detail: impl std::fmt::Display,
) -> Outcome {
    let delivery = QuarantinedDelivery::new(&verified, body, reason, detail, receiver.clock.unix_now_ms());
    match receiver.queues.quarantine(&delivery).await {
        Ok(()) => Outcome::Quarantined(verified, reason),
        Err(error) => Outcome::Refused(Refusal::Unavailable(error)),
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
