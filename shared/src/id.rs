//! Newtypes for the two headers that identify a delivery: `webhook-id` and `webhook-timestamp`.
//!
//! Both are built only through `parse`, so a value of either type has passed the same bounds checks
//! wherever it came from (an HTTP header, an SQS message, a DynamoDB item).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest `webhook-id` accepted. Live ids are `msg_` + a UUID (40 bytes); Standard Webhooks sets
/// no limit, so leave generous room while bounding what reaches logs, keys and hashes.
pub const MAX_WEBHOOK_ID_LEN: usize = 256;

/// The largest `webhook-timestamp` accepted: 18 digits, so every value fits an `i64` with room for
/// window arithmetic.
pub const MAX_WEBHOOK_TIMESTAMP: i64 = 999_999_999_999_999_999;

/// Why a `webhook-id` or `webhook-timestamp` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id is empty.
    #[error("webhook-id is empty")]
    EmptyId,
    /// The id is longer than [`MAX_WEBHOOK_ID_LEN`].
    #[error("webhook-id is longer than {MAX_WEBHOOK_ID_LEN} bytes")]
    IdTooLong,
    /// The id holds a byte outside printable ASCII.
    #[error("webhook-id must be printable ASCII without spaces")]
    IdNotPrintable,
    /// The timestamp is not a plain base-10 integer.
    #[error("webhook-timestamp must be integer Unix seconds")]
    TimestampNotInteger,
    /// A timestamp read from a message or item is outside what `parse` accepts: negative, or
    /// beyond [`MAX_WEBHOOK_TIMESTAMP`].
    #[error("webhook-timestamp must be between 0 and {MAX_WEBHOOK_TIMESTAMP}")]
    TimestampOutOfRange,
}

/// The `webhook-id` header: unique per message and identical across retries, hence the idempotency key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookId(String);

impl WebhookId {
    /// Checks a raw header value: 1 to [`MAX_WEBHOOK_ID_LEN`] bytes of printable ASCII, no spaces.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.is_empty() {
            return Err(IdError::EmptyId);
        }
        if raw.len() > MAX_WEBHOOK_ID_LEN {
            return Err(IdError::IdTooLong);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdError::IdNotPrintable);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id this library derives (a reconciled end's `rec_` and hex), printable ASCII by construction.
    pub(crate) fn derived(id: String) -> Self {
        debug_assert!(Self::parse(&id).is_ok(), "{id}");
        Self(id)
    }

    /// The key a replay of this id made at `replayed_at` (Unix milliseconds) is handled once under:
    /// apart from the original's, since a replay is asked for to handle the event again. (Past
    /// [`MAX_WEBHOOK_ID_LEN`] by its suffix at most: a key, never a header.)
    pub fn replayed(&self, replayed_at: i64) -> Self {
        Self(format!("{}#replay-{replayed_at}", self.0))
    }
}

impl TryFrom<String> for WebhookId {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<WebhookId> for String {
    fn from(id: WebhookId) -> String {
        id.0
    }
}

impl AsRef<str> for WebhookId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The `webhook-timestamp` header: integer Unix seconds of the delivery attempt. In messages and items
/// it is a JSON number, read back through the same bounds as the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct WebhookTimestamp(i64);

impl WebhookTimestamp {
    /// Parses a header value: ASCII digits only (no sign, no spaces), at most 18 of them, so every
    /// accepted value fits an `i64` with room for window arithmetic.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::TimestampNotInteger);
        }
        raw.parse().map(Self).map_err(|_| IdError::TimestampNotInteger)
    }

    /// A timestamp from Unix seconds (for signing and tests).
    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Unix seconds.
    pub fn unix(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for WebhookTimestamp {
    type Error = IdError;
    /// The bounds `parse` applies: 0 to [`MAX_WEBHOOK_TIMESTAMP`].
    fn try_from(secs: i64) -> Result<Self, IdError> {
        if (0..=MAX_WEBHOOK_TIMESTAMP).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(IdError::TimestampOutOfRange)
        }
    }
}

impl From<WebhookTimestamp> for i64 {
    fn from(timestamp: WebhookTimestamp) -> i64 {
        timestamp.0
    }
}

impl fmt::Display for WebhookTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_accepts_the_live_form() {
        let id = WebhookId::parse("msg_2f1c8a2e-5d1b-4a8e-9b3a-0c2d4e6f8a1b").unwrap();
        assert_eq!(id.as_str(), "msg_2f1c8a2e-5d1b-4a8e-9b3a-0c2d4e6f8a1b");
    }

    #[test]
    fn id_refuses_empty_long_and_unprintable_values() {
        assert_eq!(WebhookId::parse(""), Err(IdError::EmptyId));
        assert_eq!(WebhookId::parse(&"a".repeat(257)), Err(IdError::IdTooLong));
        assert_eq!(WebhookId::parse("msg 1"), Err(IdError::IdNotPrintable));
        assert_eq!(WebhookId::parse("msg\u{e9}"), Err(IdError::IdNotPrintable));
        assert!(WebhookId::parse(&"a".repeat(256)).is_ok());
    }

    #[test]
    fn timestamp_accepts_only_plain_digits() {
        assert_eq!(WebhookTimestamp::parse("1649367553").unwrap().unix(), 1_649_367_553);
        for bad in ["", "-1", "+1", " 1", "1.5", "1e9", "0x10", "9999999999999999999"] {
            assert_eq!(WebhookTimestamp::parse(bad), Err(IdError::TimestampNotInteger), "{bad:?}");
        }
    }

    #[test]
    fn timestamp_from_a_message_meets_the_header_bounds() {
        // Found by the `envelope` fuzz target: a queue message carried a negative timestamp.
        assert_eq!(serde_json::from_str::<WebhookTimestamp>("1649367553").unwrap().unix(), 1_649_367_553);
        assert_eq!(serde_json::to_string(&WebhookTimestamp::from_unix(7)).unwrap(), "7");
        for bad in ["-1", "-795392397", "1000000000000000000", "9223372036854775807", "1.5", "\"1\""] {
            assert!(serde_json::from_str::<WebhookTimestamp>(bad).is_err(), "{bad}");
        }
        assert_eq!(WebhookTimestamp::try_from(-1), Err(IdError::TimestampOutOfRange));
        assert_eq!(
            WebhookTimestamp::try_from(MAX_WEBHOOK_TIMESTAMP).map(WebhookTimestamp::unix),
            Ok(MAX_WEBHOOK_TIMESTAMP)
        );
    }

    #[test]
    fn id_round_trips_through_serde_and_refuses_invalid_values() {
        let id: WebhookId = serde_json::from_str(r#""msg_1""#).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""msg_1""#);
        assert!(serde_json::from_str::<WebhookId>(r#""""#).is_err());
    }
}
