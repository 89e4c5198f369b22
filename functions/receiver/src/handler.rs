//! One delivery: method and size checks, verification, envelope parsing, enqueue, and the answer.
//! Every outcome is one [`Outcome`], logged once, counted once and answered once.
//!
//! Once a signature verifies, the event is the user's: nothing after that point answers 4xx. A
//! delivery that cannot become an ingest message (not an event, over the size budget, refused by SQS
//! for its content) is quarantined and answered 202, so Gemini stops retrying and the user has it;
//! only a dependency that is down (the queue, the quarantine, the signing keys) answers 503. A verified
//! ping (`shared::ping`) is answered 200 and counted, and goes no further: it is no job's event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use shared::aws::clients::Clients;
use shared::aws::queue::SendError;
use shared::clock::Clock;
use shared::event::Event;
use shared::message::{BodySha256, EncodeError, IngestMessage, QuarantineReason, QuarantinedDelivery};
use shared::metrics::{self, Function, Metric};
use shared::ping::{self, Ping};
use shared::signature::{Rejection, Scheme, Verified, Verifier, VerifyError};
use shared::trace::{self, TraceHeader};
use tracing::Instrument;

use crate::config::Config;
use crate::jwt_tokens::{JwtTokens, TokenError};
use crate::queue::{DeliveryQueues, EnqueueError, SqsDeliveryQueues};

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
    /// Where each verified JWT is held to its first delivery (when JWT is accepted).
    jwt_tokens: Option<JwtTokens>,
    /// Which refusals are logged at info.
    refusal_log: RefusalLog,
}

impl<Q> Receiver<Q> {
    /// The receiver `main` and the local stack serve: `verifier` and `queues`, refusing bodies over
    /// `max_body_bytes`, on `clock`.
    pub fn new(verifier: Verifier, queues: Q, max_body_bytes: usize, clock: Arc<dyn Clock>) -> Self {
        Self { verifier, queues, max_body_bytes, clock, jwt_tokens: None, refusal_log: RefusalLog::default() }
    }

    /// The same receiver, holding each JWT it verifies to its first delivery in `tokens`. Without it a
    /// verified JWT is refused: it signs no body.
    pub fn with_jwt_tokens(mut self, tokens: JwtTokens) -> Self {
        self.jwt_tokens = Some(tokens);
        self
    }
}

impl Receiver<SqsDeliveryQueues> {
    /// The receiver `config` describes, around `verifier`, on `aws`'s clients: what `main` serves and
    /// the local stack runs.
    pub fn from_config(config: &Config, verifier: Verifier, aws: &Clients, clock: Arc<dyn Clock>) -> Self {
        let queues =
            SqsDeliveryQueues::new(aws.sqs(), &config.ingest_queue_url, &config.quarantine_queue_url);
        let receiver = Self::new(verifier, queues, config.max_body_bytes, clock);
        match &config.jwt_tokens_table {
            Some(table) => receiver.with_jwt_tokens(JwtTokens::new(aws.dynamodb(), table)),
            None => receiver,
        }
    }
}

/// Seconds between two info lines for refusals of one reason; the others are logged at debug.
pub const REFUSAL_LOG_WINDOW_SECS: i64 = 60;

/// Refusals are anyone's to cause, so a flood of junk must not become a flood of log lines (CloudWatch
/// Logs bills each byte): per reason, the first refusal of each [`REFUSAL_LOG_WINDOW_SECS`] is logged at
/// info with how many were logged at debug since, and the rest at debug. The `Rejected` metric still
/// counts every one.
#[derive(Debug, Default)]
struct RefusalLog {
    /// By reason: when its last info line was written (Unix seconds), and refusals since.
    last: Mutex<HashMap<&'static str, (i64, u64)>>,
}

impl RefusalLog {
    /// `Some(refusals logged at debug since the last info line)` when this one is logged at info.
    fn at_info(&self, reason: &'static str, now_secs: i64) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get_mut(reason) {
            Some((at, since)) if now_secs - *at < REFUSAL_LOG_WINDOW_SECS => {
                *since += 1;
                None
            }
            Some(entry) => {
                let quieted = entry.1;
                *entry = (now_secs, 0);
                Some(quieted)
            }
            None => {
                last.insert(reason, (now_secs, 0));
                Some(0)
            }
        }
    }
}

/// What a refusal says about who sent it: the dimension alarms are set on, so that what a stranger can
/// cause with one request never pages anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalClass {
    /// No webhook headers, a method other than POST, a body over the limit: scanners and noise.
    Unsigned,
    /// Webhook headers that do not parse, or no entry of an accepted scheme: a sender changing its
    /// format, or noise.
    Malformed,
    /// A timestamp outside the window: a clock off, or a replay.
    Stale,
    /// Entries that do not verify: a wrong or rotated-away secret, or a forgery.
    Signature,
    /// Refused before any crypto because it cannot be for this endpoint: a dynamic delivery without the
    /// endpoint's token (anyone can have Google sign one), or `v1` before any signing secret exists.
    Stranger,
    /// Could not be checked now (503): counted, and alarmed through the 5xx alarms.
    Unavailable,
}

impl RefusalClass {
    /// Every class, in the order the dashboard shows them.
    pub const ALL: [Self; 6] =
        [Self::Unsigned, Self::Malformed, Self::Stale, Self::Signature, Self::Stranger, Self::Unavailable];

    /// The `class` dimension's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::Malformed => "malformed",
            Self::Stale => "stale",
            Self::Signature => "signature",
            Self::Stranger => "stranger",
            Self::Unavailable => "unavailable",
        }
    }

    /// The class of a verification failure.
    pub fn of(error: &VerifyError) -> Self {
        match error {
            VerifyError::MissingHeader(_) => Self::Unsigned,
            VerifyError::InvalidHeader { .. } | VerifyError::NoUsableSignature => Self::Malformed,
            VerifyError::TimestampTooOld { .. } | VerifyError::TimestampInFuture { .. } => Self::Stale,
            VerifyError::DynamicTokenMismatch | VerifyError::NoSigningSecret => Self::Stranger,
            VerifyError::KeysUnavailable(_) | VerifyError::SecretsUnavailable(_) => Self::Unavailable,
            _ => Self::Signature,
        }
    }
}

/// What became of a request.
#[derive(Debug)]
enum Outcome {
    /// Verified and enqueued.
    Accepted(Verified),
    /// Verified, and kept in the quarantine.
    Quarantined(Verified, QuarantineReason),
    /// A verified ping: answered, not enqueued (no job's event; see `shared::ping`).
    Ping(Verified, Ping),
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
    /// A verified JWT that came before with another delivery (or with no ledger to hold it).
    JwtReplayed,
    /// A dependency is down: the ingest queue, or the quarantine when a delivery had to go there.
    Unavailable(SendError),
    /// The JWT ledger is down: the token cannot be checked for a replay now.
    JwtLedgerUnavailable(String),
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
            Self::JwtReplayed => StatusCode::UNAUTHORIZED,
            Self::Unavailable(_) | Self::JwtLedgerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable machine-readable code in the response body, logs and the `reason` dimension.
    fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "body_too_large",
            Self::Verify(e) => e.code(),
            Self::JwtReplayed => "jwt_replayed",
            Self::Unavailable(_) => "enqueue_failed",
            Self::JwtLedgerUnavailable(_) => "jwt_ledger_unavailable",
        }
    }

    fn class(&self) -> RefusalClass {
        match self {
            Self::MethodNotAllowed | Self::TooLarge { .. } => RefusalClass::Unsigned,
            Self::Verify(e) => RefusalClass::of(e),
            Self::JwtReplayed => RefusalClass::Stale,
            Self::Unavailable(_) | Self::JwtLedgerUnavailable(_) => RefusalClass::Unavailable,
        }
    }

    /// A short explanation for the sender; never a secret, signature or body byte.
    fn message(&self) -> String {
        match self {
            Self::MethodNotAllowed => "only POST is accepted".into(),
            Self::TooLarge { limit } => format!("body is larger than {limit} bytes"),
            Self::Verify(e) => e.to_string(),
            Self::JwtReplayed => {
                "this JWT already came with another delivery: a token is good for one".into()
            }
            Self::Unavailable(_) | Self::JwtLedgerUnavailable(_) => {
                "temporarily unable to accept events".into()
            }
        }
    }
}

/// Handles one request. Never fails: every outcome, including a dependency being down, is an answer.
/// `OPTIONS` is answered for what it is (204, `Allow: POST`), not refused; any other method but `POST`
/// is 405, with no body for `HEAD`.
pub async fn handle<Q: DeliveryQueues>(receiver: &Receiver<Q>, request: Request) -> Response<Body> {
    if request.method() == Method::OPTIONS {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let head = request.method() == Method::HEAD;
    // Lambda's trace for this invocation is the delivery's, carried to every later stage.
    let trace = trace::of_invocation(request.lambda_context_ref().and_then(|c| c.xray_trace_id.as_deref()));
    let span = trace::delivery_span(trace.as_ref());
    let mut response = answer(receiver, request, trace).instrument(span).await;
    if head {
        *response.body_mut() = Body::Empty;
    }
    response
}

async fn answer<Q: DeliveryQueues>(
    receiver: &Receiver<Q>,
    request: Request,
    trace: Option<TraceHeader>,
) -> Response<Body> {
    let started = Instant::now();
    let outcome = accept(receiver, &request, trace).await;
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
        Outcome::Ping(verified, ping) => {
            tracing::info!(
                webhook_id = %verified.webhook_id, scheme = %verified.scheme, outcome = "ping",
                shape = ping.as_str(), status = 200, latency_us,
                "verified ping: Gemini reaches this endpoint with its secret (nothing is enqueued)"
            );
            metrics::emit(Function::Receiver, Metric::Pings, 1, &[], now_ms);
            json_response(StatusCode::OK, &json!({"status": "ping", "webhook_id": verified.webhook_id}))
        }
        Outcome::Refused(refusal) => {
            let status = refusal.status();
            match &refusal {
                Refusal::Unavailable(error) => {
                    tracing::error!(%error, status = status.as_u16(), latency_us, "enqueue failed");
                    metrics::emit(Function::Receiver, Metric::EnqueueFailed, 1, &[], now_ms);
                }
                Refusal::JwtLedgerUnavailable(error) => {
                    tracing::error!(%error, status = status.as_u16(), latency_us, "JWT ledger unavailable");
                    metrics::emit(Function::Receiver, Metric::EnqueueFailed, 1, &[], now_ms);
                }
                _ => {
                    let (reason, class) = (refusal.code(), refusal.class().as_str());
                    match receiver.refusal_log.at_info(reason, now_ms.div_euclid(1000)) {
                        Some(quieted) => tracing::info!(
                            outcome = "rejected", reason, class, detail = %refusal.message(),
                            status = status.as_u16(), latency_us, quieted,
                            "delivery rejected (further ones of this reason at debug for a minute)"
                        ),
                        None => tracing::debug!(
                            outcome = "rejected", reason, class, detail = %refusal.message(),
                            status = status.as_u16(), latency_us, "delivery rejected"
                        ),
                    }
                    metrics::emit(
                        Function::Receiver,
                        Metric::Rejected,
                        1,
                        &[("reason", reason), ("class", class)],
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

async fn accept<Q: DeliveryQueues>(
    receiver: &Receiver<Q>,
    request: &Request,
    trace: Option<TraceHeader>,
) -> Outcome {
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
    // A JWT signs no body: it is good for the first delivery it came with, and that delivery's retries.
    if let Some(token) = &verified.jwt {
        let Some(tokens) = &receiver.jwt_tokens else { return Outcome::Refused(Refusal::JwtReplayed) };
        match tokens.take(token, &verified.webhook_id, &BodySha256::of(body)).await {
            Ok(()) => {}
            Err(TokenError::Replayed) => return Outcome::Refused(Refusal::JwtReplayed),
            Err(error) => return Outcome::Refused(Refusal::JwtLedgerUnavailable(error.to_string())),
        }
    }
    // From here on the event is the user's: enqueued, or kept in the quarantine, or a 503.
    let received_at = receiver.clock.unix_now_ms();
    let parsed = Event::parse(body);
    // Only a registered webhook is pinged, and it signs with `v1`.
    if verified.scheme == Scheme::V1
        && let Some(ping) = ping::recognise(body, &parsed)
    {
        return Outcome::Ping(verified, ping);
    }
    let event = match parsed {
        Ok(event) => event,
        Err(error) => {
            let kept = Kept { verified, body, trace };
            return quarantine(receiver, kept, QuarantineReason::InvalidEvent, error).await;
        }
    };
    let message = IngestMessage::new(verified.clone(), body, event, received_at).with_trace(trace);
    let enqueued = receiver.queues.enqueue(&message).await;
    let kept = Kept { verified, body, trace: message.provenance.trace_header };
    match enqueued {
        Ok(()) => Outcome::Accepted(kept.verified),
        Err(EnqueueError::Encode(error @ EncodeError::OverBudget { .. })) => {
            quarantine(receiver, kept, QuarantineReason::OverBudget, error).await
        }
        Err(EnqueueError::Encode(error)) => {
            quarantine(receiver, kept, QuarantineReason::Refused, error).await
        }
        Err(EnqueueError::Send(error @ SendError::MessageRefused { .. })) => {
            quarantine(receiver, kept, QuarantineReason::Refused, error).await
        }
        // The queue is down or refuses everything: Gemini retries, the alarm fires.
        Err(EnqueueError::Send(error)) => Outcome::Refused(Refusal::Unavailable(error)),
    }
}

/// A verified delivery on its way to the quarantine.
struct Kept<'a> {
    verified: Verified,
    body: &'a [u8],
    trace: Option<TraceHeader>,
}

async fn quarantine<Q: DeliveryQueues>(
    receiver: &Receiver<Q>,
    kept: Kept<'_>,
    reason: QuarantineReason,
    detail: impl std::fmt::Display,
) -> Outcome {
    let Kept { verified, body, trace } = kept;
    let mut delivery =
        QuarantinedDelivery::new(&verified, body, reason, detail, receiver.clock.unix_now_ms());
    delivery.provenance.trace_header = trace;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_delivery_before_any_signing_secret_is_a_strangers_401_not_an_outage() {
        // Nobody registered the endpoint: a 503 would page whoever is on call for anyone's request.
        let refusal = Refusal::Verify(VerifyError::NoSigningSecret);
        assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        assert_eq!((refusal.code(), refusal.class()), ("no_signing_secret", RefusalClass::Stranger));
        let dynamic = Refusal::Verify(VerifyError::DynamicTokenMismatch);
        assert_eq!(dynamic.class(), RefusalClass::Stranger);
    }

    #[test]
    fn the_refusal_log_writes_one_info_line_per_reason_a_window() {
        let log = RefusalLog::default();
        assert_eq!(log.at_info("signature_mismatch", 100), Some(0));
        assert_eq!(log.at_info("signature_mismatch", 101), None);
        assert_eq!(log.at_info("missing_header", 101), Some(0), "each reason has its own window");
        assert_eq!(log.at_info("signature_mismatch", 100 + REFUSAL_LOG_WINDOW_SECS - 1), None);
        assert_eq!(log.at_info("signature_mismatch", 100 + REFUSAL_LOG_WINDOW_SECS), Some(2));
        assert_eq!(log.at_info("signature_mismatch", 100 + REFUSAL_LOG_WINDOW_SECS + 1), None);
    }
}
