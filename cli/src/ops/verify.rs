//! Checking a captured delivery offline, with the receiver's own verifier: each signature entry on
//! its own (which one verified, or why it did not), then the delivery as the receiver would judge it.

use http::{HeaderMap, HeaderName, HeaderValue};
use shared::signature::{Scheme, Verified, Verifier, VerifyError, WEBHOOK_SIGNATURE};

/// A delivery as captured: its headers, its body, and the URL token its request line carried.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Its headers, repeated ones kept apart.
    pub headers: HeaderMap,
    /// Its body, byte for byte.
    pub body: Vec<u8>,
    /// `token=` from the request line's query, where there was one.
    pub url_token: Option<String>,
}

/// Why a captured delivery cannot be read. Names the line, never its content (it may hold a signature
/// or a token).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureError {
    /// A line of the header block without a colon.
    #[error("line {0} is not a `name: value` header")]
    NotAHeader(usize),
    /// A name or value HTTP does not allow.
    #[error("line {0}: not a valid header name or value")]
    InvalidHeader(usize),
    /// Nothing before the empty line.
    #[error("no webhook headers: expected `name: value` lines, an empty line, then the body")]
    NoHeaders,
}

impl Captured {
    /// Reads `text`: an optional request line (`POST /path?token=... HTTP/1.1`), `name: value` header
    /// lines, an empty line, then the body byte for byte. With `body` given, `text` holds the headers
    /// alone and the body is that.
    pub fn parse(text: &[u8], body: Option<Vec<u8>>) -> Result<Self, CaptureError> {
        let (head, rest) = match find_blank_line(text) {
            Some((end, body_start)) => (&text[..end], &text[body_start..]),
            None => (text, &b""[..]),
        };
        let mut headers = HeaderMap::new();
        let mut url_token = None;
        for (index, line) in head.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if index == 0
                && let Some(target) = request_target(line)
            {
                url_token = token_of(target);
                continue;
            }
            let colon = line.iter().position(|b| *b == b':').ok_or(CaptureError::NotAHeader(index + 1))?;
            let name = HeaderName::from_bytes(line[..colon].trim_ascii())
                .map_err(|_| CaptureError::InvalidHeader(index + 1))?;
            let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii())
                .map_err(|_| CaptureError::InvalidHeader(index + 1))?;
            headers.append(name, value);
        }
        if headers.is_empty() {
            return Err(CaptureError::NoHeaders);
        }
        Ok(Self { headers, body: body.unwrap_or_else(|| rest.to_vec()), url_token })
    }
}

/// Where the header block ends and the body starts: after the first empty line (`\n\n` or `\r\n\r\n`).
fn find_blank_line(text: &[u8]) -> Option<(usize, usize)> {
    let lf = text.windows(2).position(|w| w == b"\n\n").map(|at| (at, at + 2));
    let crlf = text.windows(4).position(|w| w == b"\r\n\r\n").map(|at| (at, at + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The target of an HTTP request line (`METHOD TARGET HTTP/x`), if `line` is one.
fn request_target(line: &[u8]) -> Option<&str> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (method.bytes().all(|b| b.is_ascii_uppercase()) && version.starts_with("HTTP/")).then_some(target)
}

fn token_of(target: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_owned)
}

/// One entry's verdict, judged alone.
#[derive(Debug)]
pub struct EntryVerdict {
    /// The entry, shortened to its version and first characters: enough to tell entries apart.
    pub entry: String,
    /// A `v1a` or JWT entry: one the URL's token binds to the endpoint.
    pub dynamic: bool,
    /// The scheme it verifies by, or why it does not.
    pub verdict: Result<Scheme, VerifyError>,
}

/// What `check` found.
#[derive(Debug)]
pub struct Report {
    /// Each `webhook-signature` entry, judged alone (in the order they came).
    pub entries: Vec<EntryVerdict>,
    /// The delivery, judged whole as the receiver judges it.
    pub overall: Result<Verified, VerifyError>,
}

/// Judges `captured` with `verifier`: each entry alone, then the whole.
pub async fn check(verifier: &Verifier, captured: &Captured) -> Report {
    let url_token = captured.url_token.as_deref();
    let overall = verifier.verify(&captured.headers, &captured.body, url_token).await;
    let mut entries = Vec::new();
    for entry in signature_entries(&captured.headers) {
        let mut alone = captured.headers.clone();
        let Ok(value) = HeaderValue::from_str(&entry) else { continue };
        alone.insert(WEBHOOK_SIGNATURE, value);
        let verdict = verifier.verify(&alone, &captured.body, url_token).await.map(|v| v.scheme);
        let dynamic = entry.starts_with("v1a,") || entry.contains('.');
        entries.push(EntryVerdict { entry: shortened(&entry), dynamic, verdict });
    }
    Report { entries, overall }
}

/// The entries of every `webhook-signature` value: whitespace-separated, a joining comma dropped.
fn signature_entries(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(WEBHOOK_SIGNATURE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(str::split_ascii_whitespace)
        .map(|entry| entry.strip_suffix(',').unwrap_or(entry).to_owned())
        .filter(|entry| !entry.is_empty())
        .collect()
}

fn shortened(entry: &str) -> String {
    let (version, value) = entry.split_once(',').map_or(("", entry), |(v, rest)| (v, rest));
    let start: String = value.chars().take(8).collect();
    let more = if value.chars().count() > 8 { "…" } else { "" };
    if version.is_empty() { format!("{start}{more}") } else { format!("{version},{start}{more}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_reads_with_or_without_its_request_line_and_in_crlf() {
        let text = b"POST /hook?x=1&token=tok_abc HTTP/1.1\r\nwebhook-id: msg_1\r\nWebhook-Timestamp: 5\r\n\r\n{\"a\":1}\n";
        let captured = Captured::parse(text, None).unwrap();
        assert_eq!(captured.url_token.as_deref(), Some("tok_abc"));
        assert_eq!(captured.headers["webhook-timestamp"], "5");
        assert_eq!(captured.body, b"{\"a\":1}\n", "the body byte for byte");

        let headers_only = Captured::parse(b"webhook-id: msg_1\n", Some(b"body".to_vec())).unwrap();
        assert_eq!((headers_only.body.as_slice(), headers_only.url_token), (&b"body"[..], None));
    }

    #[test]
    fn an_unreadable_capture_names_its_line_and_not_its_content() {
        assert_eq!(
            Captured::parse(b"webhook-id msg_1\n\nbody", None).unwrap_err(),
            CaptureError::NotAHeader(1)
        );
        assert_eq!(
            Captured::parse(b"ok: 1\nbad name: x\n", None).unwrap_err(),
            CaptureError::InvalidHeader(2)
        );
        assert_eq!(Captured::parse(b"\n\nbody", None).unwrap_err(), CaptureError::NoHeaders);
    }

    #[test]
    fn entries_are_shortened_to_tell_them_apart() {
        assert_eq!(shortened("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), "v1,g0hM9SsE…");
        assert_eq!(shortened("v1,abc"), "v1,abc");
        assert_eq!(shortened("eyJhbGciOiJSUzI1NiJ9.e30.sig"), "eyJhbGci…");
    }
}
