//! The Gemini event envelope: a thin JSON object with a `type`, kept whole so nothing Google adds is
//! lost, with typed accessors for the fields the pipeline and its users act on.
//!
//! ```json
//! {"type": "batch.succeeded", "version": "v1", "timestamp": "2026-01-22T12:00:00Z",
//!  "data": {"id": "batch_123456", "output_file_uri": "gs://my-bucket/results.jsonl"}}
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body is not a Gemini event envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Not valid JSON.
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    /// Valid JSON, but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// No `type`, or a `type` that is not a non-empty string.
    #[error("body has no non-empty string `type`")]
    NoType,
}

/// The event types Gemini documents. Others are carried as [`EventKind::Other`] and routed like any
/// event: Google adds types, and an unknown one must never be rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `batch.succeeded`: `data.output_file_uri` holds the results.
    BatchSucceeded,
    /// `batch.cancelled`.
    BatchCancelled,
    /// `batch.expired`.
    BatchExpired,
    /// `batch.failed`: `data.error_code`, `data.error_message`.
    BatchFailed,
    /// `interaction.requires_action`.
    InteractionRequiresAction,
    /// `interaction.completed`.
    InteractionCompleted,
    /// `interaction.cancelled`.
    InteractionCancelled,
    /// `interaction.failed`: `data.error_code`, `data.error_message`.
    InteractionFailed,
    /// `video.generated`: `data.output_file_uri` (or `video_uri`), `data.file_name`.
    VideoGenerated,
    /// Any other type.
    Other,
}

impl EventKind {
    /// Every documented type with its wire name.
    pub const CATALOG: [(&'static str, EventKind); 9] = [
        ("batch.succeeded", Self::BatchSucceeded),
        ("batch.cancelled", Self::BatchCancelled),
        ("batch.expired", Self::BatchExpired),
        ("batch.failed", Self::BatchFailed),
        ("interaction.requires_action", Self::InteractionRequiresAction),
        ("interaction.completed", Self::InteractionCompleted),
        ("interaction.cancelled", Self::InteractionCancelled),
        ("interaction.failed", Self::InteractionFailed),
        ("video.generated", Self::VideoGenerated),
    ];

    /// The kind of a wire type name.
    pub fn of(event_type: &str) -> Self {
        Self::CATALOG.iter().find(|(name, _)| *name == event_type).map_or(Self::Other, |(_, kind)| *kind)
    }

    /// Whether the event reports a failed job.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::BatchFailed | Self::InteractionFailed)
    }
}

/// `data.error_code`: documented as a code, seen as both numbers and strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorCode<'a> {
    /// A numeric code.
    Number(&'a serde_json::Number),
    /// A textual code.
    Text(&'a str),
}

impl fmt::Display for ErrorCode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => fmt::Display::fmt(n, f),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// A Gemini event. Holds the whole JSON object it was parsed from and serialises back to it, unknown
/// fields included; accessors that meet a field of an unexpected type return `None` rather than fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>", into = "Map<String, Value>")]
pub struct Event {
    object: Map<String, Value>,
}

impl Event {
    /// Parses a body: it must be a JSON object with a non-empty string `type`; nothing else is required.
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => Self::try_from(object),
            Ok(_) => Err(EventError::NotAnObject),
            Err(e) => Err(EventError::NotJson(e.to_string())),
        }
    }

    /// The `type`, as sent.
    pub fn event_type(&self) -> &str {
        // Checked at construction.
        self.object.get("type").and_then(Value::as_str).unwrap_or_default()
    }

    /// The documented kind of the `type`, or [`EventKind::Other`].
    pub fn kind(&self) -> EventKind {
        EventKind::of(self.event_type())
    }

    /// The envelope `version`.
    pub fn version(&self) -> Option<&str> {
        self.str_field("version")
    }

    /// The envelope `timestamp` (RFC 3339, as sent).
    pub fn timestamp(&self) -> Option<&str> {
        self.str_field("timestamp")
    }

    /// The `data` object, if present and an object.
    pub fn data(&self) -> Option<&Map<String, Value>> {
        self.object.get("data").and_then(Value::as_object)
    }

    /// `data.id`: the job (`batches/abc`, `batch_123456`, an interaction or operation id).
    pub fn data_id(&self) -> Option<&str> {
        self.data_str("id")
    }

    /// `data.output_file_uri`, or for videos `data.video_uri` where a sender uses that name.
    pub fn output_uri(&self) -> Option<&str> {
        self.data_str("output_file_uri").or_else(|| self.data_str("video_uri"))
    }

    /// `data.file_name`.
    pub fn file_name(&self) -> Option<&str> {
        self.data_str("file_name")
    }

    /// `data.error_code`, a number or a string.
    pub fn error_code(&self) -> Option<ErrorCode<'_>> {
        match self.data()?.get("error_code")? {
            Value::Number(n) => Some(ErrorCode::Number(n)),
            Value::String(s) => Some(ErrorCode::Text(s)),
            _ => None,
        }
    }

    /// `data.error_message`.
    pub fn error_message(&self) -> Option<&str> {
        self.data_str("error_message")
    }

    /// The `user_metadata` given when the job was started, echoed back. Where Gemini puts it is
    /// undocumented: the top level is looked at first, then `data`.
    pub fn user_metadata(&self) -> Option<&Map<String, Value>> {
        self.object
            .get("user_metadata")
            .and_then(Value::as_object)
            .or_else(|| self.data()?.get("user_metadata")?.as_object())
    }

    /// The whole object, unknown fields included.
    pub fn as_object(&self) -> &Map<String, Value> {
        &self.object
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }

    fn data_str(&self, key: &str) -> Option<&str> {
        self.data()?.get(key)?.as_str()
    }
}

impl TryFrom<Map<String, Value>> for Event {
    type Error = EventError;
    fn try_from(object: Map<String, Value>) -> Result<Self, EventError> {
        if object.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(EventError::NoType);
        }
        Ok(Self { object })
    }
}

impl From<Event> for Map<String, Value> {
    fn from(event: Event) -> Self {
        event.object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_documented_batch_event() {
        let event = Event::parse(
            br#"{"type":"batch.succeeded","version":"v1","timestamp":"2026-01-22T12:00:00Z",
                 "data":{"id":"batch_123456","output_file_uri":"gs://my-bucket/results.jsonl"}}"#,
        )
        .unwrap();
        assert_eq!(event.kind(), EventKind::BatchSucceeded);
        assert_eq!(event.version(), Some("v1"));
        assert_eq!(event.timestamp(), Some("2026-01-22T12:00:00Z"));
        assert_eq!(event.data_id(), Some("batch_123456"));
        assert_eq!(event.output_uri(), Some("gs://my-bucket/results.jsonl"));
    }

    #[test]
    fn reads_error_codes_as_numbers_or_strings() {
        let numeric =
            Event::parse(br#"{"type":"batch.failed","data":{"error_code":13,"error_message":"x"}}"#).unwrap();
        assert_eq!(numeric.error_code().unwrap().to_string(), "13");
        assert!(numeric.kind().is_failure());
        let text =
            Event::parse(br#"{"type":"interaction.failed","data":{"error_code":"INTERNAL"}}"#).unwrap();
        assert_eq!(text.error_code(), Some(ErrorCode::Text("INTERNAL")));
    }

    #[test]
    fn finds_user_metadata_at_top_level_or_in_data() {
        let top = Event::parse(
            br#"{"type":"t","user_metadata":{"team":"a"},"data":{"user_metadata":{"team":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(top.user_metadata().unwrap()["team"], "a");
        let inner = Event::parse(br#"{"type":"t","data":{"user_metadata":{"team":"b"}}}"#).unwrap();
        assert_eq!(inner.user_metadata().unwrap()["team"], "b");
        assert!(Event::parse(br#"{"type":"t"}"#).unwrap().user_metadata().is_none());
    }

    #[test]
    fn reads_video_uri_where_output_file_uri_is_absent() {
        let event = Event::parse(br#"{"type":"video.generated","data":{"id":"op","video_uri":"gs://b/v.mp4","file_name":"v.mp4"}}"#).unwrap();
        assert_eq!(event.output_uri(), Some("gs://b/v.mp4"));
        assert_eq!(event.file_name(), Some("v.mp4"));
    }

    #[test]
    fn keeps_unknown_types_and_fields_through_a_round_trip() {
        let body = r#"{"type":"model.tuned","data":{"id":7,"new_field":[1,2]},"extra":true}"#;
        let event = Event::parse(body.as_bytes()).unwrap();
        assert_eq!(event.kind(), EventKind::Other);
        assert_eq!(event.event_type(), "model.tuned");
        assert_eq!(event.data_id(), None, "a non-string id is not reported as one");
        let again: Value = serde_json::to_value(&event).unwrap();
        assert_eq!(again, serde_json::from_str::<Value>(body).unwrap());
    }

    #[test]
    fn numbers_come_out_of_a_round_trip_unchanged() {
        // Found by the `envelope` and `stream_image` fuzz targets (their `regression-float-roundtrip`
        // seeds): without serde_json's exact float parsing these were read one ulp off, so every
        // stage's re-serialisation could change them.
        for (number, exact) in [
            ("72E70", 7.2e71),
            ("1795392953923100000000000000000097000", 1.7953929539231e36),
            ("218446744073609551616", 2.1844674407360954e20),
        ] {
            let body = format!(r#"{{"type":"t","data":{{"n":{number}}}}}"#);
            let event = Event::parse(body.as_bytes()).unwrap();
            assert_eq!(event.data().unwrap()["n"].as_f64(), Some(exact), "{number}");
            let again = Event::parse(&serde_json::to_vec(&event).unwrap()).unwrap();
            assert_eq!(again, event, "{number}");
        }
    }

    #[test]
    fn refuses_bodies_that_are_not_an_envelope() {
        assert!(matches!(Event::parse(b"not json"), Err(EventError::NotJson(_))));
        assert_eq!(Event::parse(b"[1]"), Err(EventError::NotAnObject));
        assert_eq!(Event::parse(br#"{"data":{}}"#), Err(EventError::NoType));
        assert_eq!(Event::parse(br#"{"type":5}"#), Err(EventError::NoType));
        assert_eq!(Event::parse(br#"{"type":""}"#), Err(EventError::NoType));
        assert!(serde_json::from_str::<Event>(r#"{"type":null}"#).is_err());
    }

    #[test]
    fn keys_leave_in_the_order_they_came_in() {
        let body = r#"{"type":"batch.succeeded","zeta":1,"data":{"output_file_uri":"gs://b/o","id":"b/1"},"alpha":2}"#;
        let event = Event::parse(body.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&event).unwrap(), body);
    }

    #[test]
    fn catalog_names_map_back_to_their_kinds() {
        for (name, kind) in EventKind::CATALOG {
            assert_eq!(EventKind::of(name), kind);
        }
    }
}
