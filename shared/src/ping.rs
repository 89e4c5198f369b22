//! Pings: the test delivery `webhooks/{id}:ping` asks Gemini for. Its body is undocumented, so a ping
//! is recognised by what no job's event can be, and answered without paging anyone: a ping is not a
//! job's end, so nothing downstream runs on it and nothing is kept.
//!
//! Only a registered webhook is pinged, so only a `v1` delivery is ever taken for one; the caller
//! checks the scheme.

use crate::event::{Event, EventError};

/// The longest text taken for a ping. Every Gemini event is a JSON object; a longer verified body that
/// is not JSON, or one that is JSON but no event, or bytes that are not text, are kept in the
/// quarantine, as any body that cannot be processed is.
pub const MAX_TEXT_PING_BYTES: usize = 1024;

/// How a verified delivery was recognised as a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    /// An event whose type's last dot-separated part is `ping` (`ping`, `webhook.ping`).
    Event,
    /// Short UTF-8 text that is not JSON at all (or nothing): no job's event is that.
    Text,
}

impl Ping {
    /// Its name in logs and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Text => "text",
        }
    }
}

/// Whether a verified `v1` body (`parsed`: its reading as an event) is a ping, and how it was seen to be.
pub fn recognise(body: &[u8], parsed: &Result<Event, EventError>) -> Option<Ping> {
    match parsed {
        Ok(event) => is_ping_type(event.event_type()).then_some(Ping::Event),
        Err(EventError::NotJson(_))
            if body.len() <= MAX_TEXT_PING_BYTES && std::str::from_utf8(body).is_ok() =>
        {
            Some(Ping::Text)
        }
        Err(_) => None,
    }
}

fn is_ping_type(event_type: &str) -> bool {
    event_type.rsplit('.').next().is_some_and(|last| last.eq_ignore_ascii_case("ping"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognised(body: &[u8]) -> Option<Ping> {
        recognise(body, &Event::parse(body))
    }

    #[test]
    fn a_ping_event_of_any_namespace_is_a_ping() {
        for body in [
            r#"{"type":"webhook.ping","data":{"id":"w"}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"Webhooks.PING"}"#,
        ] {
            assert_eq!(recognised(body.as_bytes()), Some(Ping::Event), "{body}");
        }
    }

    #[test]
    fn short_text_that_is_not_json_is_a_ping() {
        for body in [&b""[..], b"ping", b"Test delivery from the Gemini API", "ping \u{2713}".as_bytes()] {
            assert_eq!(recognised(body), Some(Ping::Text), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn events_and_what_must_be_kept_are_not_pings() {
        let long_text = vec![b'x'; MAX_TEXT_PING_BYTES + 1];
        for body in [
            &br#"{"type":"batch.succeeded","data":{"id":"batches/1"}}"#[..],
            br#"{"type":"pinged.batch"}"#,
            br#"{"type":"mapping"}"#,
            // JSON that is no event, and bytes that are not text: kept in the quarantine, alarmed.
            br#"{"data":{}}"#,
            br#""ping""#,
            b"[1,2]",
            b"\xff\x00binary",
            br#"{"type":"ping","type":"batch.succeeded"}"#,
            &long_text,
        ] {
            assert_eq!(recognised(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
