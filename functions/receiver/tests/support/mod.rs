//! Receiver test support: a receiver wired as `main` wires it (inline secrets and keys, a fixed clock),
//! signed requests in every payload format, and a queue that records or refuses.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use lambda_http::{Body, Request, Response};
use receiver::{Config, DeliveryQueues, EnqueueError, Receiver};
use serde_json::Value;
use shared::aws::queue::SendError;
use shared::clock::ManualClock;
use shared::config::FromVars;
use shared::keys::jwks_document;
use shared::message::{IngestMessage, QuarantinedDelivery};
use shared::signature::SigningSecret;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use testkit::{HttpRequest, PayloadFormat, http_event};

/// 2026-01-22T12:00:00Z.
pub const NOW: i64 = 1_769_083_200;
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The endpoint's URL token, which dynamic deliveries carry.
pub const URL_TOKEN: &str = "tok_0123456789abcdefghijklmn";
pub static ED25519: LazyLock<Ed25519Signer> = LazyLock::new(Ed25519Signer::generate);

pub const BODY: &[u8] = br#"{"type":"batch.succeeded","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/abc123","output_file_uri":"gs://bucket/out.jsonl"}}"#;

pub fn secret() -> SigningSecret {
    SigningSecret::parse(SECRET).unwrap()
}

/// Queues that record what they are sent (encoded as the SQS adapter encodes it), or are down when
/// told to.
#[derive(Default)]
pub struct RecordingQueue {
    pub sent: Mutex<Vec<(IngestMessage, String)>>,
    pub quarantined: Mutex<Vec<QuarantinedDelivery>>,
    /// The ingest queue is down.
    pub down: AtomicBool,
    /// The quarantine is down.
    pub quarantine_down: AtomicBool,
}

impl RecordingQueue {
    pub fn sent(&self) -> Vec<(IngestMessage, String)> {
        self.sent.lock().unwrap().clone()
    }

    pub fn quarantined(&self) -> Vec<QuarantinedDelivery> {
        self.quarantined.lock().unwrap().clone()
    }
}

impl DeliveryQueues for RecordingQueue {
    async fn enqueue(&self, message: &IngestMessage) -> Result<(), EnqueueError> {
        let body = message.to_sqs_body()?;
        if self.down.load(Ordering::SeqCst) {
            return Err(SendError::Transient("connection refused".into()).into());
        }
        self.sent.lock().unwrap().push((message.clone(), body));
        Ok(())
    }

    async fn quarantine(&self, delivery: &QuarantinedDelivery) -> Result<(), SendError> {
        if self.quarantine_down.load(Ordering::SeqCst) {
            return Err(SendError::Transient("connection refused".into()));
        }
        self.quarantined.lock().unwrap().push(delivery.clone());
        Ok(())
    }
}

/// The configuration a test deployment would have, with extra variables.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let jwks = jwks_document([ED25519.public_jwk(None)]).to_string();
    let mut vars: Vec<(String, String)> = vec![
        ("WEBHOOK_SECRETS".into(), SECRET.into()),
        ("WEBHOOK_URL_TOKEN".into(), URL_TOKEN.into()),
        ("JWKS_JSON".into(), jwks),
        ("INGEST_QUEUE_URL".into(), "http://127.0.0.1:1/000000000000/ingest".into()),
        ("QUARANTINE_QUEUE_URL".into(), "http://127.0.0.1:1/000000000000/quarantine".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

/// A receiver built from `config` as `main` builds it, around `queues`, at [`NOW`].
pub async fn receiver_with<Q: DeliveryQueues>(config: &Config, queues: Q) -> Receiver<Q> {
    receiver_on(config, queues, Arc::new(ManualClock::at(NOW))).await
}

/// As [`receiver_with`], on `clock`.
pub async fn receiver_on<Q: DeliveryQueues>(
    config: &Config,
    queues: Q,
    clock: Arc<ManualClock>,
) -> Receiver<Q> {
    let (verifier, _) =
        receiver::build_verifier(config, || panic!("no Secrets Manager in these tests"), clock.clone())
            .await
            .unwrap();
    Receiver::new(verifier, queues, config.max_body_bytes, clock)
}

pub fn v1_headers(id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    headers_of(&SignedHeaders::v1(&secret(), id, timestamp, body))
}

pub fn headers_of(signed: &SignedHeaders) -> Vec<(String, String)> {
    HttpRequest::signed(signed, b"").headers
}

/// A Lambda request as `format` delivers it.
pub fn request(
    format: PayloadFormat,
    method: &str,
    headers: Vec<(String, String)>,
    body: &[u8],
    base64: bool,
) -> Request {
    lambda_request(format, &HttpRequest { method, headers, body, base64, query: Vec::new() })
}

/// The Lambda request `format` delivers for `request`.
pub fn lambda_request(format: PayloadFormat, request: &HttpRequest<'_>) -> Request {
    lambda_http::request::from_str(&http_event(format, request).to_string()).unwrap()
}

/// A dynamic delivery signed `v1a` by [`ED25519`], posted to the URL carrying `token` (if any).
pub fn dynamic_post(format: PayloadFormat, id: &str, body: &[u8], token: Option<&str>) -> Request {
    let signed = SignedHeaders::v1a(&ED25519, id, NOW, body);
    let mut request = HttpRequest::signed(&signed, body);
    if let Some(token) = token {
        request = request.with_url_token(token);
    }
    lambda_request(format, &request)
}

/// A signed POST of `body` with id `id`, as a Function URL delivers it.
pub fn signed_post(id: &str, body: &[u8]) -> Request {
    request(PayloadFormat::FunctionUrl, "POST", v1_headers(id, NOW, body), body, false)
}

pub fn json_body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}
