//! Deliveries as Gemini makes them: the envelope POSTed with the Standard Webhooks headers, re-signed at
//! each attempt (a fresh `webhook-timestamp`, the same `webhook-id`), retried with exponential backoff
//! on any non-2xx answer or timeout, and the webhook disabled after too many failures in a row.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use shared::signature::sign::{SignedHeaders, fresh_webhook_id, v1_entry};

use crate::Shared;
use crate::store::{State, rfc3339};

/// One attempt at one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The delivery's `webhook-id`.
    pub webhook_id: String,
    /// Where it went.
    pub uri: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The answer's status; `None` when there was none (refused, timed out).
    pub status: Option<u16>,
    /// How many `v1` entries the signature held (two during a rotation's overlap); 0 for `v1a`.
    pub v1_entries: usize,
}

/// Who a delivery goes to and how it is signed.
#[derive(Debug, Clone)]
enum Target {
    /// A registered webhook, signed `v1` with its live secrets.
    Registered(String),
    /// A URI from a job's `webhook_config`, signed `v1a`.
    Dynamic(String),
}

/// The envelope Gemini posts.
pub(crate) fn envelope(event_type: &str, data: Value, user_metadata: Option<Value>, now: i64) -> Vec<u8> {
    let mut body = json!({"type": event_type, "version": "v1", "timestamp": rfc3339(now), "data": data});
    if let Some(metadata) = user_metadata {
        body["user_metadata"] = metadata;
    }
    body.to_string().into_bytes()
}

pub(crate) fn emit(
    shared: &Arc<Shared>,
    event_type: &str,
    data: Value,
    metadata: Option<Value>,
) -> Vec<String> {
    let targets: Vec<String> = shared
        .webhooks()
        .values()
        .filter(|w| w.state == State::Enabled && w.subscribed_events.iter().any(|e| e == event_type))
        .map(|w| w.id.clone())
        .collect();
    let body = envelope(event_type, data, metadata, Shared::wall());
    targets.into_iter().map(|id| spawn(shared, Target::Registered(id), body.clone())).collect()
}

pub(crate) fn emit_dynamic(
    shared: &Arc<Shared>,
    uris: &[String],
    event_type: &str,
    data: Value,
    metadata: Option<Value>,
) -> Vec<String> {
    let body = envelope(event_type, data, metadata, Shared::wall());
    uris.iter().map(|uri| spawn(shared, Target::Dynamic(uri.clone()), body.clone())).collect()
}

/// A ping: a test delivery to one webhook, whatever it subscribes to (its body is undocumented: the
/// one [`crate::Settings::ping_body`] says).
pub(crate) fn ping(shared: &Arc<Shared>, id: &str) -> String {
    let body = match &shared.settings.ping_body {
        crate::PingBody::Event => envelope("webhook.ping", json!({"id": id}), None, Shared::wall()),
        crate::PingBody::Raw(bytes) => bytes.clone(),
    };
    spawn(shared, Target::Registered(id.to_owned()), body)
}

fn spawn(shared: &Arc<Shared>, target: Target, body: Vec<u8>) -> String {
    let id = fresh_webhook_id();
    shared.emitted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id.clone());
    tokio::spawn(deliver(shared.clone(), target, id.clone(), body));
    id
}

/// Attempts until a 2xx, the attempt limit, or the webhook is gone or disabled.
async fn deliver(shared: Arc<Shared>, target: Target, id: String, body: Vec<u8>) {
    let settings = shared.settings.clone();
    for attempt in 1..=settings.max_attempts {
        let (now, stamp) = (shared.now(), Shared::wall());
        let (uri, signed, v1_entries) = match &target {
            Target::Registered(webhook) => {
                let (uri, secrets) = {
                    let webhooks = shared.webhooks();
                    match webhooks.get(webhook) {
                        Some(w) if w.state == State::Enabled => (w.uri.clone(), w.live_secrets(now)),
                        _ => return,
                    }
                };
                let entries: Vec<String> =
                    secrets.iter().map(|s| v1_entry(s, &id, &stamp.to_string(), &body)).collect();
                let count = entries.len();
                (uri, SignedHeaders::new(&id, stamp, &entries), count)
            }
            Target::Dynamic(uri) => (uri.clone(), SignedHeaders::v1a(&shared.key, &id, stamp, &body), 0),
        };
        // An id no header can carry is never sent: every attempt fails, as it would at Google.
        let status = match signed.to_header_map() {
            Ok(headers) => {
                let request =
                    shared.http.post(&uri).header("content-type", "application/json").headers(headers);
                request.body(body.clone()).send().await.ok().map(|r| r.status().as_u16())
            }
            Err(_) => None,
        };
        // An answer lost on the way back: the receiver had it, Gemini saw a timeout.
        let lost = status.is_some()
            && shared
                .answers_to_lose
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
        let status = if lost { None } else { status };
        shared.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Attempt {
            webhook_id: id.clone(),
            uri,
            attempt,
            status,
            v1_entries,
        });
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        if let Target::Registered(webhook) = &target {
            let mut webhooks = shared.webhooks();
            if let Some(w) = webhooks.get_mut(webhook) {
                if delivered {
                    w.failures_in_a_row = 0;
                } else {
                    w.failures_in_a_row += 1;
                    if w.failures_in_a_row >= settings.disable_after {
                        w.state = State::DisabledDueToFailedDeliveries;
                        return;
                    }
                }
            }
        }
        if delivered {
            return;
        }
        let wait = settings.first_retry.saturating_mul(1 << (attempt - 1).min(20));
        tokio::time::sleep(wait.min(settings.max_retry).max(Duration::from_millis(1))).await;
    }
}
