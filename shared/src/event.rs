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
    /// An object holds one key twice: parsers disagree on which value counts (one body could route two
    /// ways), so it is not taken for an event.
    #[error("body holds the key {0:?} twice in one object, so its meaning is ambiguous")]
    DuplicateKey(String),
    /// An integer beyond 64 bits: it could not go through the pipeline as written (it would come out as
    /// a float).
    #[error("body holds an integer beyond 64 bits, which could not be carried as written")]
    IntegerTooLarge,
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
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "Map<String, Value>")]
pub struct Event {
    object: Map<String, Value>,
}

impl Event {
    /// Parses a body: it must be a JSON object with a non-empty string `type`; nothing else is required.
    /// What the pipeline could not carry as sent is refused: a key twice in one object (which value
    /// counts differs between parsers), an integer beyond 64 bits.
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        let value = match serde_json::from_slice::<strict::Strict>(body) {
            Ok(strict::Strict(value)) => value,
            Err(e) => {
                let message = e.to_string();
                return Err(match message.strip_prefix(strict::DUPLICATE) {
                    Some(rest) => {
                        EventError::DuplicateKey(rest.split(" at line").next().unwrap_or(rest).to_owned())
                    }
                    None => EventError::NotJson(message),
                });
            }
        };
        if strict::has_wide_integer(body) {
            return Err(EventError::IntegerTooLarge);
        }
        match value {
            Value::Object(object) => Self::try_from(object),
            _ => Err(EventError::NotAnObject),
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

/// Inside the messages between stages: the object read strictly too (a key twice is refused), and a
/// `type` required. (An integer beyond 64 bits can only be seen in raw bytes: [`Event::parse`] refuses
/// it at the receiver, so no message carries one.)
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match strict::Strict::deserialize(deserializer)?.0 {
            Value::Object(object) => Self::try_from(object).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(EventError::NotAnObject)),
        }
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
    use serde_json::json;
    #[test]
    fn a_key_twice_in_one_object_makes_the_body_ambiguous_not_an_event() {
        // The last `type` would win here and the first in another parser: one body, two routes.
        let twice = br#"{"type":"batch.succeeded","type":"batch.failed","data":{"id":"batches/1"}}"#;
        assert_eq!(Event::parse(twice), Err(EventError::DuplicateKey("type".into())));
        let nested = br#"{"type":"batch.failed","data":{"id":"batches/1","id":"batches/2"}}"#;
        assert_eq!(Event::parse(nested), Err(EventError::DuplicateKey("id".into())));
        let in_a_list = br#"{"type":"x","data":{"items":[{"a":1,"a":2}]}}"#;
        assert!(matches!(Event::parse(in_a_list), Err(EventError::DuplicateKey(_))));
        let distinct = br#"{"type":"x","data":{"a":{"id":1},"b":{"id":2}}}"#;
        assert!(Event::parse(distinct).is_ok(), "the same key in two objects is fine");
    }

    #[test]
    fn an_integer_beyond_64_bits_is_refused_and_everything_64_bits_holds_comes_through_as_written() {
        for wide in [&b"18446744073709551616"[..], b"-9223372036854775809", b"123456789012345678901234567890"]
        {
            let body = [&br#"{"type":"batch.failed","data":{"error_code":"#[..], wide, b"}}"].concat();
            assert_eq!(
                Event::parse(&body),
                Err(EventError::IntegerTooLarge),
                "{}",
                String::from_utf8_lossy(wide)
            );
        }
        let body = br#"{"type":"x","data":{"max":18446744073709551615,"min":-9223372036854775808,"f":1e300,
            "g":123456789012345678901234567890.5,"s":"99999999999999999999999 in a \"string\"","n":-0.0}}"#;
        let event = Event::parse(body).unwrap();
        let data = &event.as_object()["data"];
        assert_eq!(data["max"], json!(u64::MAX));
        assert_eq!(data["min"], json!(i64::MIN));
        assert_eq!(data["s"], "99999999999999999999999 in a \"string\"");
        let reparsed: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(Value::Object(event.as_object().clone()), reparsed, "the value serde_json itself reads");
    }

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
        // (The same digits written as integers are refused now: see the test of wide integers.)
        for (number, exact) in [
            ("72E70", 7.2e71),
            ("1795392953923100000000000000000097000.0", 1.7953929539231e36),
            ("218446744073609551616e0", 2.1844674407360954e20),
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

/// A JSON value read strictly: the same value `serde_json` makes, refusing a key met twice in one
/// object; and a scan for integers wider than 64 bits, which `serde_json` would read as floats.
mod strict {
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    /// How a duplicate key's error message begins (the key follows).
    pub(super) const DUPLICATE: &str = "duplicate key ";

    pub(super) struct Strict(pub(super) Value);

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(StrictVisitor).map(Strict)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(Strict(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut object = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                if object.contains_key(&key) {
                    let shown: String = key.chars().take(64).collect();
                    return Err(de::Error::custom(format_args!("{DUPLICATE}{shown}")));
                }
                let Strict(value) = map.next_value()?;
                object.insert(key, value);
            }
            Ok(Value::Object(object))
        }
    }

    /// Whether `body` (valid JSON) writes an integer outside `i64::MIN..=u64::MAX`: a run of digits
    /// outside strings, with no fraction or exponent, too long or too large for 64 bits.
    pub(super) fn has_wide_integer(body: &[u8]) -> bool {
        let mut i = 0;
        let mut in_string = false;
        while i < body.len() {
            let b = body[i];
            if in_string {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    i += 1;
                    while i < body.len() && matches!(body[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                    {
                        i += 1;
                    }
                    let number = &body[start..i];
                    let integer = !number.iter().any(|c| matches!(c, b'.' | b'e' | b'E'));
                    if integer && too_wide(number) {
                        return true;
                    }
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        false
    }

    fn too_wide(integer: &[u8]) -> bool {
        let text = std::str::from_utf8(integer).unwrap_or_default();
        match text.strip_prefix('-') {
            Some(_) => text.parse::<i64>().is_err(),
            None => text.parse::<u64>().is_err(),
        }
    }
}
