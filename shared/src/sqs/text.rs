//! SQS's allowed characters (`#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`) and a
//! JSON encoder whose output holds only those.
//!
//! JSON already escapes every control character, so the only characters serde_json writes raw that
//! SQS refuses are U+FFFE and U+FFFF (surrogates cannot occur in a Rust string). [`to_json`] writes
//! those as `\ufffe` / `\uffff` escapes: the text is the same JSON value, and any JSON parser reads
//! the original characters back.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// Whether SQS accepts `c` in a message body or attribute value.
pub fn is_allowed(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character SQS would refuse, with its byte offset: what the test harness checks on
/// every message it reads back (the emulator does not enforce the set).
pub fn first_disallowed(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|(_, c)| !is_allowed(*c))
}

/// `value` as compact JSON that SQS accepts as it is.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, SqsSafe))?;
    // Only UTF-8 was written: serde_json writes strings and ASCII, and the escapes are ASCII.
    String::from_utf8(out).map_err(|e| serde_json::Error::io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// The length in bytes of [`to_json`]'s output, without building it.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> Result<usize, serde_json::Error> {
    let mut counter = Counter(0);
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut counter, SqsSafe))?;
    Ok(counter.0)
}

/// A plain text value (a message attribute) with every refused character written as `\uXXXX`.
/// Attributes are informational copies; the message body is the authority.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if first_disallowed(text).is_none() {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 12);
    for c in text.chars() {
        if is_allowed(c) {
            escaped.push(c);
        } else {
            escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
        }
    }
    Cow::Owned(escaped)
}

/// serde_json's compact output (the trait's defaults), with refused characters inside strings escaped.
struct SqsSafe;

impl Formatter for SqsSafe {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if !is_allowed(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Counts bytes instead of keeping them.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn escapes_the_two_noncharacters_sqs_refuses_and_nothing_else() {
        let value = json!({"user_metadata": {"k\u{FFFF}": "a\u{FFFE}b\u{FFFF}"}, "ok": "é\u{1F600}\u{FFFD}"});
        let text = to_json(&value).unwrap();
        assert_eq!(first_disallowed(&text), None, "{text}");
        assert!(text.contains(r#""k\uffff":"a\ufffeb\uffff""#), "{text}");
        assert!(text.contains("é\u{1F600}\u{FFFD}"), "allowed characters stay raw: {text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        assert_eq!(json_len(&value).unwrap(), text.len());
    }

    #[test]
    fn plain_json_is_unchanged() {
        let value = json!({"type": "batch.succeeded", "n": [1, -2.5, 1e300], "s": "tab\tquote\""});
        assert_eq!(to_json(&value).unwrap(), serde_json::to_string(&value).unwrap());
    }

    #[test]
    fn the_allowed_set_is_the_documented_one() {
        for c in ['\u{0}', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!is_allowed(c), "{c:?}");
        }
        for c in ['\t', '\n', '\r', ' ', '\u{D7FF}', '\u{E000}', '\u{FFFD}', '\u{10000}', '\u{10FFFF}'] {
            assert!(is_allowed(c), "{c:?}");
        }
    }

    #[test]
    fn attribute_text_is_escaped_only_where_needed() {
        assert!(matches!(escape_text("batch.succeeded"), Cow::Borrowed(_)));
        assert_eq!(escape_text("a\u{FFFF}\u{1}b"), "a\\uffff\\u0001b");
    }
}
