//! The messages between stages, each a JSON contract: the receiver writes an [`IngestMessage`] to the
//! ingest queue and the recorder reads it; the recorder writes an [`EventRecord`] to the events table,
//! whose stream the fanout turns into [`DownstreamMessage`]s on the routed queues; what the receiver
//! verified but could not turn into an ingest message is kept as a [`QuarantinedDelivery`]; what a
//! stage can never pass on is kept in its dead-letter queue as a [`DeadLetter`].
//!
//! Every field, per stage (`P` marks the [`Provenance`] fields, flattened into each, so they are
//! written once and carried by value, never copied field by field):
//!
//! | field | ingest | table item | downstream | quarantine | what |
//! | --- | :-: | :-: | :-: | :-: | --- |
//! | `webhook_id` (P) | yes | key | yes | yes | the `webhook-id` header: the idempotency key |
//! | `webhook_timestamp` (P) | yes | yes | yes | yes | the `webhook-timestamp` header, Unix seconds |
//! | `received_at` (P) | yes | yes | yes | yes | when the receiver accepted it, Unix milliseconds |
//! | `scheme` (P) | yes | yes | yes | yes | `v1`, `v1a` or `jwt`: the signature that verified; `reconciled`: read from the API ([`crate::ledger`]) |
//! | `body_sha256` | yes | yes | | yes | SHA-256 of the raw body: a retry from a reuse of the id |
//! | `event` | object | JSON string | object | | the whole event, unknown fields kept |
//! | `type` | | yes | yes | | the event type, copied for routing |
//! | `data_id` | | if any | yes | | `data.id`, the job |
//! | `user_metadata` | | | yes | | the job's `user_metadata`, copied for consumers |
//! | `recorded_at` | | yes | yes | | when the recorder recorded it, Unix milliseconds |
//! | `replayed_at` | | | if replayed | | when `gemini-webhooks replay` sent it again, Unix milliseconds |
//! | `released_at` (P) | if released | if released | if released | | when it was released from the quarantine, Unix milliseconds |
//! | `body_edited` (P) | if edited | if edited | if edited | | the body was replaced before the release (not what the signature covered) |
//! | `trace_header` (P) | if traced | if traced | if traced | if traced | the X-Ray trace header of the receiver's invocation ([`crate::trace`]): the stream hop carries it here, SQS sends also as `AWSTraceHeader` |
//! | `expires_at` | | yes | | | when DynamoDB's TTL may delete it, Unix seconds |
//! | `superseded_by` | | if superseded | | | a tracked job's second end: the first end's id (recorded, not routed) |
//! | `reason`, `detail` | | | | yes | why it was quarantined |
//! | `body_base64` | | | | yes | the raw body, as received |
//!
//! Every message body goes out through `to_sqs_body`: SQS-safe JSON ([`crate::sqs::to_json`]), and for
//! the ingest message, within the pipeline's size budget ([`crate::limits`]).

use std::fmt::Display;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::{Event, EventError};
use crate::id::{WebhookId, WebhookTimestamp};
use crate::limits::{DOWNSTREAM_BUDGET_BYTES, EVENT_BUDGET_BYTES};
use crate::signature::{Scheme, Verified};
use crate::sqs;
use crate::trace::TraceHeader;

/// An ingest message that cannot be sent: never because of the network, always because of the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message plus the fields later stages copy out of its event exceed the size budget.
    #[error(
        "the event and the fields copied from it take {size} bytes, over the pipeline's {limit}-byte budget"
    )]
    OverBudget {
        /// Bytes the message and its copies take, as SQS-safe JSON.
        size: usize,
        /// [`EVENT_BUDGET_BYTES`].
        limit: usize,
    },
    /// Not serialisable (cannot happen for values parsed from JSON; kept typed rather than panicking).
    #[error("the message could not be serialised: {0}")]
    Json(#[from] serde_json::Error),
}

/// Lowercase hex SHA-256 of the body bytes exactly as received: how the recorder tells a retry (same
/// hash) from a conflicting reuse of a `webhook-id` (different hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BodySha256(String);

impl BodySha256 {
    /// Hashes a body.
    pub fn of(body: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(body)))
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A digest as stored (read back from the table).
    pub fn from_hex(hex: &str) -> Self {
        Self(hex.to_owned())
    }
}

/// Where a delivery came from and when: what every stage carries, flattened into each message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The `webhook-id` header: unique per event and identical across retries, so the idempotency key.
    pub webhook_id: WebhookId,
    /// The `webhook-timestamp` header, Unix seconds.
    pub webhook_timestamp: WebhookTimestamp,
    /// When the receiver accepted it, Unix milliseconds.
    pub received_at: i64,
    /// The scheme whose signature verified.
    pub scheme: Scheme,
    /// Set when the delivery was kept in the quarantine and later released into the pipeline
    /// (`gemini-webhooks quarantine release`): when, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<i64>,
    /// With `released_at`: the body was replaced before the release, so the event is not the bytes the
    /// signature covered (the original's hash is in the quarantine's record).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_edited: bool,
    /// The X-Ray trace header of the invocation that accepted the delivery (the receiver's, or the
    /// reconciler's for an end it read): one trace per delivery, across every stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<TraceHeader>,
}

impl Provenance {
    /// The provenance of a delivery verified as `verified` and accepted at `received_at_ms`.
    pub fn new(verified: Verified, received_at_ms: i64) -> Self {
        Self {
            webhook_id: verified.webhook_id,
            webhook_timestamp: verified.timestamp,
            received_at: received_at_ms,
            scheme: verified.scheme,
            released_at: None,
            body_edited: false,
            trace_header: None,
        }
    }
}

/// A verified delivery on its way from the receiver to the recorder (the ingest queue's body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestMessage {
    /// Where and when it was delivered.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// SHA-256 of the raw body.
    pub body_sha256: BodySha256,
    /// The body, as JSON.
    pub event: Event,
}

impl IngestMessage {
    /// The message for a verified delivery.
    pub fn new(verified: Verified, body: &[u8], event: Event, received_at_ms: i64) -> Self {
        Self {
            provenance: Provenance::new(verified, received_at_ms),
            body_sha256: BodySha256::of(body),
            event,
        }
    }

    /// The same message, carrying `trace`: the delivery's trace from here on.
    pub fn with_trace(mut self, trace: Option<TraceHeader>) -> Self {
        self.provenance.trace_header = trace;
        self
    }

    /// The `webhook-id`.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.provenance.webhook_id
    }

    /// The ingest queue's message body: SQS-safe JSON, checked against both size budgets, so that the
    /// table item and the downstream message made from it fit too.
    pub fn to_sqs_body(&self) -> Result<String, EncodeError> {
        let body = sqs::to_json(self)?;
        let item_copies =
            sqs::json_len(self.event.event_type())? + self.event.data_id().map_or(Ok(0), sqs::json_len)?;
        let item = body.len() + item_copies;
        if item > EVENT_BUDGET_BYTES {
            return Err(EncodeError::OverBudget { size: item, limit: EVENT_BUDGET_BYTES });
        }
        let downstream = item + self.event.user_metadata().map_or(Ok(0), sqs::json_len)?;
        if downstream > DOWNSTREAM_BUDGET_BYTES {
            return Err(EncodeError::OverBudget { size: downstream, limit: DOWNSTREAM_BUDGET_BYTES });
        }
        Ok(body)
    }

    /// Parses an ingest queue message body.
    pub fn from_sqs_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The message's SQS attributes.
    pub fn sqs_attributes(&self) -> [(&'static str, &str); 2] {
        [
            (attributes::WEBHOOK_ID, self.webhook_id().as_str()),
            (attributes::EVENT_TYPE, self.event.event_type()),
        ]
    }
}

/// The SQS message attributes this project writes: copies of fields for filtering and display, never
/// the authority (the body is). The one place their names are spelled.
pub mod attributes {
    /// The `webhook-id` (every message).
    pub const WEBHOOK_ID: &str = "webhook_id";
    /// The event `type` (ingest, downstream and dead-lettered messages).
    pub const EVENT_TYPE: &str = "event_type";
    /// Why a message was kept instead of processed (quarantine and DLQs).
    pub const FAILURE_REASON: &str = "failure_reason";
    /// What exactly was wrong (DLQs).
    pub const FAILURE_DETAIL: &str = "failure_detail";
    /// The queue that refused a dead-lettered downstream message (fanout DLQ).
    pub const DESTINATION_QUEUE: &str = "destination_queue";
    /// When a replayed downstream message was sent again, Unix milliseconds (replays only).
    pub const REPLAYED_AT: &str = "replayed_at";
    /// `true` on a tracked job's end that a reconciliation read from the API (its scheme is
    /// `reconciled`), absent otherwise.
    pub const RECONCILED: &str = "reconciled";
}

/// The events table's attribute names: the one place they are spelled. [`EventRecord`]'s serde names
/// are these (a test holds them together); the recorder's conditional write, the test harness's table
/// and the template test use these constants.
pub mod table {
    /// The partition key: the `webhook-id`.
    pub const KEY: &str = "webhook_id";
    /// The body's hash, read back from a conflicting write to tell a retry from a reuse.
    pub const BODY_SHA256: &str = "body_sha256";
    /// The TTL attribute (Unix seconds).
    pub const EXPIRES_AT: &str = "expires_at";
    /// What the stream carries of each new item.
    pub const STREAM_VIEW: &str = "NEW_IMAGE";
}

/// One recorded delivery: the events table's item, keyed by `webhook_id`. Written once, by the first
/// delivery of an id; its stream INSERT is what the fanout routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Where and when it was delivered (`webhook_id` is the partition key).
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The event `type`, for routing without parsing `event`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `data.id`, the job the event is about, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_id: Option<String>,
    /// The event, as a JSON string attribute (every field kept; no DynamoDB type mapping of numbers).
    #[serde(with = "json_string")]
    pub event: Event,
    /// SHA-256 of the raw body: tells a retry from a conflicting reuse of the id.
    pub body_sha256: BodySha256,
    /// When the recorder recorded it, Unix milliseconds.
    pub recorded_at: i64,
    /// When DynamoDB's TTL may delete it, Unix **seconds** (the unit TTL requires).
    pub expires_at: i64,
    /// A tracked job's end that came after another end of the same job (a late webhook after a
    /// reconciliation, or the other way round): that end's `webhook-id`. Recorded, not routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<WebhookId>,
    /// The Step Functions task its job's workflow waits on (copied from the jobs ledger when this end
    /// closed the job): the fanout completes it. Never in a downstream message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<crate::ledger::TaskToken>,
}

impl EventRecord {
    /// Decodes an INSERT's new image, as the table's stream delivers it: the fanout's only parse of
    /// stream data, here beside the item's definition (and fuzzed: `fuzz/fuzz_targets/stream_image.rs`).
    pub fn from_stream_image(image: serde_dynamo::Item) -> Result<Self, serde_dynamo::Error> {
        serde_dynamo::from_item(image)
    }

    /// The item for an ingest message recorded at `recorded_at_ms`, kept for `ttl_secs`.
    pub fn new(message: IngestMessage, recorded_at_ms: i64, ttl_secs: u64) -> Self {
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
        Self {
            provenance: message.provenance,
            event_type: message.event.event_type().to_owned(),
            data_id: message.event.data_id().map(str::to_owned),
            body_sha256: message.body_sha256,
            recorded_at: recorded_at_ms,
            expires_at: recorded_at_ms.div_euclid(1000).saturating_add(ttl),
            event: message.event,
            superseded_by: None,
            task_token: None,
        }
    }

    /// The `webhook-id`.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.provenance.webhook_id
    }
}

/// What your Lambdas receive on a routed queue: one recorded event, as the SQS message body.
///
/// ```
/// # let body = r#"{"webhook_id":"msg_1","type":"batch.succeeded","data_id":"batches/1","user_metadata":null,
/// #   "event":{"type":"batch.succeeded","data":{"id":"batches/1","output_file_uri":"gs://b/o.jsonl"}},
/// #   "scheme":"v1","webhook_timestamp":1769083200,"received_at":1769083200100,"recorded_at":1769083200200}"#;
/// use gemini_webhooks_aws::message::DownstreamMessage;
/// let message = DownstreamMessage::from_sqs_body(body)?; // record.body in an SQS-triggered Lambda
/// assert_eq!(message.event.output_uri(), Some("gs://b/o.jsonl"));
/// assert_eq!(message.webhook_id().as_str(), "msg_1");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamMessage {
    /// Where and when it was delivered; `webhook_id` is unique per event: make your handling
    /// idempotent on it.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The event `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `data.id`: the job the event is about.
    pub data_id: Option<String>,
    /// The `user_metadata` you set when starting the job.
    pub user_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The whole event.
    pub event: Event,
    /// When the recorder recorded it, Unix milliseconds.
    pub recorded_at: i64,
    /// Set when the event was sent again from the events table (`gemini-webhooks replay`) rather than
    /// routed when it arrived: when, Unix milliseconds. A replay keeps its `webhook_id`; handling
    /// idempotent on [`DownstreamMessage::idempotency_key`] does it once more, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_at: Option<i64>,
}

impl DownstreamMessage {
    /// Parses an SQS message body, in one call.
    pub fn from_sqs_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The routed queue's message body: SQS-safe JSON.
    pub fn to_sqs_body(&self) -> Result<String, serde_json::Error> {
        sqs::to_json(self)
    }

    /// The documented kind of the event.
    pub fn kind(&self) -> crate::event::EventKind {
        self.event.kind()
    }

    /// The `webhook-id`: the key to make your handling idempotent on.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.provenance.webhook_id
    }

    /// The key to make handling idempotent on: the `webhook-id`, the same on every copy of a delivery
    /// (Gemini's retries, SQS's redeliveries, a stream retry), so each is handled once; on a replay,
    /// the `webhook-id` and its `replayed_at`, so a replay (asked for after a consumer bug, say) is
    /// handled again, once, however often SQS delivers it.
    pub fn idempotency_key(&self) -> WebhookId {
        match self.replayed_at {
            Some(at) => self.webhook_id().replayed(at),
            None => self.webhook_id().clone(),
        }
    }

    /// Whether the job ended with nothing to fetch: failed, expired or cancelled, or (read by a
    /// reconciliation) a failed video or an interaction that stopped short (`incomplete`, ...).
    pub fn ended_without_result(&self) -> bool {
        self.kind().is_failure()
            || [".expired", ".cancelled"].iter().any(|end| self.event_type.ends_with(end))
            || [crate::ledger::VIDEO_FAILED, crate::ledger::INTERACTION_ENDED]
                .contains(&self.event_type.as_str())
    }

    /// Whether this is a replay (see [`DownstreamMessage::replayed_at`]).
    pub fn is_replay(&self) -> bool {
        self.replayed_at.is_some()
    }

    /// The message's SQS attributes: `webhook_id` and `event_type`, and `replayed_at` on a replay.
    pub fn sqs_attributes(&self) -> Vec<(&'static str, String)> {
        let mut attributes = vec![
            (attributes::WEBHOOK_ID, self.webhook_id().to_string()),
            (attributes::EVENT_TYPE, self.event_type.clone()),
        ];
        if let Some(at) = self.replayed_at {
            attributes.push((attributes::REPLAYED_AT, at.to_string()));
        }
        if self.is_reconciled() {
            attributes.push((attributes::RECONCILED, "true".into()));
        }
        attributes
    }

    /// Whether this is a tracked job's end read from the API after its webhook did not come (see
    /// [`crate::ledger`]): its `scheme` is `reconciled`, its `webhook_id` starts `rec_`.
    pub fn is_reconciled(&self) -> bool {
        self.provenance.scheme == Scheme::Reconciled
    }
}

impl From<EventRecord> for DownstreamMessage {
    fn from(record: EventRecord) -> Self {
        Self {
            user_metadata: record.event.user_metadata().cloned(),
            provenance: record.provenance,
            event_type: record.event_type,
            data_id: record.data_id,
            recorded_at: record.recorded_at,
            event: record.event,
            replayed_at: None,
        }
    }
}

/// Why a verified delivery was quarantined instead of enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// The body is not a Gemini event envelope: not JSON, not an object, or no string `type`.
    InvalidEvent,
    /// The event and the fields copied from it exceed the pipeline's size budget.
    OverBudget,
    /// The ingest queue refused the message for its content.
    Refused,
}

impl QuarantineReason {
    /// The stable name used in the message, logs, metrics and the receiver's answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEvent => "invalid_event",
            Self::OverBudget => "over_budget",
            Self::Refused => "refused",
        }
    }
}

/// Longest `detail` kept with a quarantined delivery or a dead letter: enough to act on, never a
/// whole SDK error dump.
pub const MAX_DETAIL_CHARS: usize = 512;

fn detail_of(detail: impl Display) -> String {
    detail.to_string().chars().take(MAX_DETAIL_CHARS).collect()
}

/// A delivery whose signature verified but which could not become an ingest message: kept whole in
/// the quarantine queue (the raw body, base64), alarmed, and released into the ingest queue once fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedDelivery {
    /// Where and when it was delivered.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Why it was quarantined.
    pub reason: QuarantineReason,
    /// What exactly was wrong, for people (never secret material).
    pub detail: String,
    /// SHA-256 of the raw body.
    pub body_sha256: BodySha256,
    /// The body bytes exactly as received.
    #[serde(rename = "body_base64", with = "base64_bytes")]
    pub body: Vec<u8>,
}

impl QuarantinedDelivery {
    /// Keeps a verified delivery for `reason`.
    pub fn new(
        verified: &Verified,
        body: &[u8],
        reason: QuarantineReason,
        detail: impl Display,
        received_at_ms: i64,
    ) -> Self {
        Self {
            provenance: Provenance::new(verified.clone(), received_at_ms),
            reason,
            detail: detail_of(detail),
            body_sha256: BodySha256::of(body),
            body: body.to_vec(),
        }
    }

    /// The quarantine queue's message body: SQS-safe JSON (the body is base64, so it always fits:
    /// see [`crate::limits::MAX_BODY_BYTES_CEILING`]).
    pub fn to_sqs_body(&self) -> Result<String, serde_json::Error> {
        sqs::to_json(self)
    }

    /// Parses a quarantine queue message body.
    pub fn from_sqs_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The message's SQS attributes.
    pub fn sqs_attributes(&self) -> [(&'static str, &str); 2] {
        [
            (attributes::WEBHOOK_ID, self.provenance.webhook_id.as_str()),
            (attributes::FAILURE_REASON, self.reason.as_str()),
        ]
    }

    /// The ingest message that releases this delivery at `released_at_ms`, with `fixed_body` in place
    /// of the original when given. Provenance (id, timestamp, scheme, receipt time) is the original
    /// delivery's, the signature having been checked when it arrived, marked released (and edited, with
    /// a fixed body) so every later stage and consumer can tell.
    pub fn release(
        &self,
        fixed_body: Option<&[u8]>,
        released_at_ms: i64,
    ) -> Result<IngestMessage, EventError> {
        let body = fixed_body.unwrap_or(&self.body);
        let edited = fixed_body.is_some_and(|fixed| fixed != self.body.as_slice());
        Ok(IngestMessage {
            provenance: Provenance {
                released_at: Some(released_at_ms),
                body_edited: edited,
                ..self.provenance.clone()
            },
            body_sha256: BodySha256::of(body),
            event: Event::parse(body)?,
        })
    }
}

/// A message a stage can never pass on, kept in that stage's dead-letter queue: the message itself
/// as the body, and why, where it was going and what it was as attributes ([`attributes`]), which
/// people and `gemini-webhooks redrive` read. The recorder keeps ingest messages it cannot record; the
/// fanout keeps downstream messages a routed queue refuses for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message as it was (or, for a stream record that did not decode, its image as JSON).
    pub body: String,
    /// A stable code: SQS's or DynamoDB's error code, or ours (`not_an_ingest_message`, ...).
    pub reason: String,
    /// What was wrong, for people, at most [`MAX_DETAIL_CHARS`].
    pub detail: String,
    /// The queue that refused it (the fanout's), when one did.
    pub destination: Option<String>,
    /// The event's `webhook-id`, when known.
    pub webhook_id: Option<WebhookId>,
    /// The event's type, when known.
    pub event_type: Option<String>,
}

impl DeadLetter {
    /// `body` kept for `reason`; SQS refuses an empty body, so a message without one keeps a visible
    /// placeholder.
    pub fn new(body: impl Into<String>, reason: impl Into<String>, detail: impl Display) -> Self {
        let body = body.into();
        Self {
            body: if body.is_empty() { "(no body)".into() } else { body },
            reason: reason.into(),
            detail: detail_of(detail),
            destination: None,
            webhook_id: None,
            event_type: None,
        }
    }

    /// The dead letter of an event, with what is known of it.
    pub fn of_event(self, webhook_id: WebhookId, event_type: impl Into<String>) -> Self {
        Self { webhook_id: Some(webhook_id), event_type: Some(event_type.into()), ..self }
    }

    /// Refused by the queue `destination`.
    pub fn refused_by(self, destination: impl Into<String>) -> Self {
        Self { destination: Some(destination.into()), ..self }
    }

    /// The message's SQS attributes: those known and not empty.
    pub fn sqs_attributes(&self) -> Vec<(&'static str, &str)> {
        let mut tags = vec![(attributes::FAILURE_REASON, self.reason.as_str())];
        if !self.detail.is_empty() {
            tags.push((attributes::FAILURE_DETAIL, self.detail.as_str()));
        }
        let known = [
            (attributes::DESTINATION_QUEUE, self.destination.as_deref()),
            (attributes::WEBHOOK_ID, self.webhook_id.as_ref().map(WebhookId::as_str)),
            (attributes::EVENT_TYPE, self.event_type.as_deref()),
        ];
        tags.extend(
            known.into_iter().filter_map(|(name, value)| Some((name, value.filter(|v| !v.is_empty())?))),
        );
        tags
    }

    /// The attributes that describe the failure, not the message: dropped when it is sent back.
    pub const FAILURE_ATTRIBUTES: [&'static str; 3] =
        [attributes::FAILURE_REASON, attributes::FAILURE_DETAIL, attributes::DESTINATION_QUEUE];
}

/// (De)serialises bytes as standard base64.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        BASE64.decode(String::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// (De)serialises an [`Event`] as a JSON string attribute.
mod json_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::Error as _};

    use crate::event::Event;

    pub(super) fn serialize<S: Serializer>(event: &Event, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&serde_json::to_string(event).map_err(S::Error::custom)?)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        let text = String::deserialize(deserializer)?;
        Event::parse(text.as_bytes()).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_to_the_documented_contract() {
        let body = br#"{"type":"batch.succeeded","data":{"id":"batches/1"}}"#;
        let verified = Verified {
            webhook_id: WebhookId::parse("msg_1").unwrap(),
            timestamp: WebhookTimestamp::from_unix(1_769_083_200),
            scheme: Scheme::V1a,
            jwt: None,
        };
        let message = IngestMessage::new(verified, body, Event::parse(body).unwrap(), 1_769_083_200_123);
        let json = serde_json::to_value(&message).unwrap();
        let expected = json!({
            "webhook_id": "msg_1",
            "webhook_timestamp": 1_769_083_200,
            "received_at": 1_769_083_200_123_i64,
            "scheme": "v1a",
            "body_sha256": BodySha256::of(body).as_str(),
            "event": {"type": "batch.succeeded", "data": {"id": "batches/1"}},
        });
        assert_eq!(json, expected);
        assert_eq!(message.body_sha256, BodySha256::of(body));
        assert_eq!(message.body_sha256.as_str().len(), 64);
        let back: IngestMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn a_record_expires_ttl_seconds_after_it_was_recorded() {
        let body = br#"{"type":"batch.failed","data":{"id":"batches/9","error_code":13}}"#;
        let verified = Verified {
            webhook_id: WebhookId::parse("msg_ttl").unwrap(),
            timestamp: WebhookTimestamp::from_unix(1_769_083_200),
            scheme: Scheme::V1,
            jwt: None,
        };
        let message = IngestMessage::new(verified, body, Event::parse(body).unwrap(), 1_769_083_200_500);
        let record = EventRecord::new(message, 1_769_083_201_999, 7 * 24 * 3600);
        assert_eq!(record.expires_at, 1_769_083_201 + 604_800, "seconds, from the recording time");
        assert_eq!(record.event_type, "batch.failed");
        assert_eq!(record.data_id.as_deref(), Some("batches/9"));
        let json = serde_json::to_value(&record).unwrap();
        let stored: serde_json::Value = serde_json::from_str(json["event"].as_str().unwrap()).unwrap();
        assert_eq!(
            stored,
            serde_json::from_slice::<serde_json::Value>(body).unwrap(),
            "a JSON string of the event"
        );
        assert_eq!(serde_json::from_value::<EventRecord>(json).unwrap(), record);
    }

    #[test]
    fn refuses_a_message_whose_timestamp_no_header_could_carry() {
        // Found by the `envelope` fuzz target (`fuzz/seeds/envelope/regression-negative-timestamp.json`).
        let body = r#"{"webhook_id":"msg_1","webhook_timestamp":-795392397,"received_at":1,"scheme":"v1",
            "body_sha256":"00","event":{"type":"batch.succeeded"}}"#;
        assert!(serde_json::from_str::<IngestMessage>(body).is_err());
        let ok = body.replace("-795392397", "795392397");
        assert_eq!(
            serde_json::from_str::<IngestMessage>(&ok).unwrap().provenance.webhook_timestamp.unix(),
            795_392_397
        );
    }

    fn verified(id: &str) -> Verified {
        Verified {
            webhook_id: WebhookId::parse(id).unwrap(),
            timestamp: WebhookTimestamp::from_unix(1_769_083_200),
            scheme: Scheme::V1,
            jwt: None,
        }
    }

    #[test]
    fn an_ingest_body_with_noncharacters_is_sqs_safe_and_reads_back_equal() {
        let body = "{\"type\":\"batch.failed\",\"data\":{\"error_message\":\"\u{FFFF}\u{FFFE}\"}}";
        let message = IngestMessage::new(
            verified("msg_nc"),
            body.as_bytes(),
            Event::parse(body.as_bytes()).unwrap(),
            1,
        );
        let text = message.to_sqs_body().unwrap();
        assert_eq!(sqs::first_disallowed(&text), None);
        assert_eq!(IngestMessage::from_sqs_body(&text).unwrap(), message);
    }

    fn message_of(body: &str) -> IngestMessage {
        IngestMessage::new(verified("msg_size"), body.as_bytes(), Event::parse(body.as_bytes()).unwrap(), 1)
    }

    #[test]
    fn each_budget_counts_the_fields_its_own_stage_copies() {
        // 300 KB of user_metadata: the item holds the event (once) and its type and id, and fits; the
        // downstream message holds the metadata twice, within SQS's 1 MiB. It must go through, not be
        // quarantined as it was when the metadata's copy was counted against the item.
        let metadata = "m".repeat(300_000);
        let fits = json!({"type": "batch.succeeded", "user_metadata": {"a": metadata}}).to_string();
        assert!(message_of(&fits).to_sqs_body().is_ok());
        // A 410 KB event: over the item's budget whatever it copies.
        let big = json!({"type": "batch.succeeded", "data": {"blob": "x".repeat(410_000)}}).to_string();
        match message_of(&big).to_sqs_body() {
            Err(EncodeError::OverBudget { size, limit }) => {
                assert!(size > 410_000 && limit == EVENT_BUDGET_BYTES)
            }
            other => panic!("{:?}", other.map(|body| body.len())),
        }
        // A 50 KB `data.id`, copied into the item beside the event: the item's budget counts it.
        let long_id = json!({"type": "batch.succeeded", "data": {"id": "i".repeat(50_000), "pad": "p".repeat(320_000)}});
        match message_of(&long_id.to_string()).to_sqs_body() {
            Err(EncodeError::OverBudget { limit, .. }) => assert_eq!(limit, EVENT_BUDGET_BYTES),
            other => panic!("{:?}", other.map(|body| body.len())),
        }
    }

    #[test]
    fn a_quarantined_delivery_keeps_the_raw_bytes_and_releases_with_its_provenance() {
        let raw = b"\xff\xfe not json at all";
        let kept =
            QuarantinedDelivery::new(&verified("msg_q"), raw, QuarantineReason::InvalidEvent, "not JSON", 42);
        let text = kept.to_sqs_body().unwrap();
        let back = QuarantinedDelivery::from_sqs_body(&text).unwrap();
        assert_eq!(back, kept);
        assert_eq!(back.body, raw);
        assert!(matches!(back.release(None, 99), Err(EventError::NotJson(_))));
        let fixed = br#"{"type":"batch.succeeded","data":{"id":"batches/q"}}"#;
        let released = back.release(Some(fixed), 99).unwrap();
        assert_eq!((released.provenance.released_at, released.provenance.body_edited), (Some(99), true));
        let json = serde_json::to_value(&released).unwrap();
        assert_eq!(
            (&json["released_at"], &json["body_edited"]),
            (&json!(99), &json!(true)),
            "in the contract"
        );
        let plain = serde_json::to_value(IngestMessage::new(
            verified("msg_p"),
            fixed,
            Event::parse(fixed).unwrap(),
            1,
        ))
        .unwrap();
        assert!(
            plain.get("released_at").is_none() && plain.get("body_edited").is_none(),
            "absent unless released"
        );
        assert_eq!(released.webhook_id().as_str(), "msg_q");
        assert_eq!((released.provenance.received_at, released.provenance.scheme), (42, Scheme::V1));
        assert_eq!(released.body_sha256, BodySha256::of(fixed));
        assert_eq!(released.event.data_id(), Some("batches/q"));
    }

    #[test]
    fn the_items_attribute_names_are_the_tables_constants() {
        let body = br#"{"type":"batch.succeeded"}"#;
        let message = IngestMessage::new(verified("msg_item"), body, Event::parse(body).unwrap(), 1);
        let item = serde_json::to_value(EventRecord::new(message, 2, 86_400)).unwrap();
        for name in [table::KEY, table::BODY_SHA256, table::EXPIRES_AT] {
            assert!(item.get(name).is_some(), "the item has no {name}");
        }
    }

    #[test]
    fn body_hash_matches_a_known_digest() {
        assert_eq!(
            BodySha256::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
