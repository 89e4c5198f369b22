//! The messages between stages. Each is a JSON contract (see `design.md`): the receiver writes
//! [`IngestMessage`] to the ingest queue and the recorder reads it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::Event;
use crate::id::{WebhookId, WebhookTimestamp};
use crate::signature::{Scheme, Verified};

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
}

/// A verified delivery on its way from the receiver to the recorder (the ingest queue's body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestMessage {
    /// The `webhook-id` header: the idempotency key.
    pub webhook_id: WebhookId,
    /// The `webhook-timestamp` header, Unix seconds.
    pub webhook_timestamp: WebhookTimestamp,
    /// When the receiver accepted it, Unix milliseconds.
    pub received_at: i64,
    /// The scheme whose signature verified.
    pub scheme: Scheme,
    /// SHA-256 of the raw body.
    pub body_sha256: BodySha256,
    /// The body, as JSON.
    pub event: Event,
}

impl IngestMessage {
    /// The message for a verified delivery.
    pub fn new(verified: Verified, body: &[u8], event: Event, received_at_ms: i64) -> Self {
        Self {
            webhook_id: verified.webhook_id,
            webhook_timestamp: verified.timestamp,
            received_at: received_at_ms,
            scheme: verified.scheme,
            body_sha256: BodySha256::of(body),
            event,
        }
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
    fn body_hash_matches_a_known_digest() {
        assert_eq!(
            BodySha256::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
