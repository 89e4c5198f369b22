//! One delivery: method and size checks, verification, envelope parsing, enqueue, and the answer.
//! Every outcome is one [`Outcome`], logged once and answered once.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::clock::Clock;
use shared::event::{Event, EventError};
use shared::message::IngestMessage;
use shared::metrics;
use shared::signature::{Rejection, Verified, VerifyError};

use crate::queue::{EnqueueError, IngestQueue};
use crate::secrets::Verification;

/// Seconds Gemini is asked to wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// The receiver's dependencies, built once per container.
#[derive(Debug)]
pub struct Receiver<Q> {
    /// Signature verification with the current secrets and keys.
    pub verification: Verification,
    /// Where verified deliveries go.
    pub queue: Q,
    /// Bodies larger than this are refused before any crypto.
    pub max_body_bytes: usize,
    /// For `received_at`.
    pub clock: Arc<dyn Clock>,
}

/// Why a delivery was not accepted.
#[derive(Debug)]
enum Refusal {
    MethodNotAllowed,
    TooLarge { limit: usize },
    Verify(VerifyError),
    InvalidEvent(EventError),
    Enqueue(EnqueueError),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge { .. } | Self::Enqueue(EnqueueError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Verify(e) => match e.rejection() {
                Rejection::Malformed => StatusCode::BAD_REQUEST,
                Rejection::Unauthenticated => StatusCode::UNAUTHORIZED,
                Rejection::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            Self::Enqueue(EnqueueError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable machine-readable code in the response body, logs and the `reason` dimension.
    fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "body_too_large",
            Self::Verify(e) => e.code(),
            Self::InvalidEvent(_) => "invalid_event",
            Self::Enqueue(EnqueueError::TooLarge(_)) => "message_too_large",
            Self::Enqueue(EnqueueError::Unavailable(_)) => "enqueue_failed",
        }
    }

    /// A short explanation for the sender; never a secret, signature or body byte.
    fn message(&self) -> String {
        match self {
            Self::MethodNotAllowed => "only POST is accepted".into(),
            Self::TooLarge { limit } => format!("body is larger than {limit} bytes"),
            Self::Verify(e) => e.to_string(),
            Self::InvalidEvent(e) => e.to_string(),
            Self::Enqueue(EnqueueError::TooLarge(_)) => "event is too large to enqueue".into(),
            Self::Enqueue(EnqueueError::Unavailable(_)) => "temporarily unable to accept events".into(),
        }
    }
}

/// Handles one request. Never fails: every outcome, including a dependency being down, is an answer.
pub async fn handle<Q: IngestQueue>(receiver: &Receiver<Q>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = accept(receiver, &request).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let now_ms = receiver.clock.unix_now_ms();
    match outcome {
        Ok(verified) => {
            tracing::info!(
                webhook_id = %verified.webhook_id, scheme = %verified.scheme, outcome = "accepted",
                status = 200, latency_us, "delivery accepted"
            );
            metrics::emit("receiver", "Accepted", 1, &[], now_ms);
            json_response(StatusCode::OK, &json!({"status": "accepted", "webhook_id": verified.webhook_id}))
        }
        Err(refusal) => {
            let status = refusal.status();
            match &refusal {
                Refusal::Enqueue(EnqueueError::Unavailable(detail)) => {
                    tracing::error!(error = %detail, status = status.as_u16(), latency_us, "enqueue failed");
                    metrics::emit("receiver", "EnqueueFailed", 1, &[], now_ms);
                }
                _ => {
                    tracing::info!(
                        outcome = "rejected", reason = refusal.code(), detail = %refusal.message(),
                        status = status.as_u16(), latency_us, "delivery rejected"
                    );
                    metrics::emit("receiver", "Rejected", 1, &[("reason", refusal.code())], now_ms);
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

async fn accept<Q: IngestQueue>(receiver: &Receiver<Q>, request: &Request) -> Result<Verified, Refusal> {
    if request.method() != Method::POST {
        return Err(Refusal::MethodNotAllowed);
    }
    // lambda_http has already decoded a base64-encoded body: these are the bytes Gemini sent.
    let body: &[u8] = request.body().as_ref();
    if body.len() > receiver.max_body_bytes {
        return Err(Refusal::TooLarge { limit: receiver.max_body_bytes });
    }
    let verified = receiver.verification.verify(request.headers(), body).await.map_err(Refusal::Verify)?;
    let event = Event::parse(body).map_err(Refusal::InvalidEvent)?;
    let message = IngestMessage::new(verified.clone(), body, event, receiver.clock.unix_now_ms());
    let serialized = serde_json::to_string(&message)
        .map_err(|e| Refusal::Enqueue(EnqueueError::Unavailable(format!("serialising: {e}"))))?;
    receiver.queue.send(&message, serialized).await.map_err(Refusal::Enqueue)?;
    Ok(verified)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
