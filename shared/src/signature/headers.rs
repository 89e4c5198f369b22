//! Reading the three Standard Webhooks headers into bounded, typed parts, before any crypto runs.

use base64::Engine as _;
use http::header::{GetAll, HeaderMap, HeaderName, HeaderValue};

use super::error::VerifyError;
use super::{Scheme, Schemes, b64};
use crate::id::{WebhookId, WebhookTimestamp};

/// Name of the header carrying the message id (identical across retries).
pub const WEBHOOK_ID: &str = "webhook-id";
/// Name of the header carrying the attempt's Unix timestamp.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header carrying the space-separated signature entries.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Longest `webhook-signature` value accepted: room for several HMAC and Ed25519 entries and an RS256
/// JWT with a 4096-bit signature, while bounding the work one request can ask for.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 8 * 1024;
/// Most entries (of any version) accepted in `webhook-signature`.
pub const MAX_SIGNATURE_ENTRIES: usize = 16;
/// Most asymmetric entries (`v1a`, JWT) accepted: each costs a public-key operation per key over the
/// whole body, so an unauthenticated request must not be able to ask for many. A rotation needs two.
pub const MAX_ASYMMETRIC_ENTRIES: usize = 3;

/// One signature entry of a scheme this verifier accepts, decoded; entries of the wrong length are
/// dropped when decoded, so they can never match.
#[derive(Debug)]
pub(crate) enum Entry<'a> {
    V1([u8; 32]),
    V1a([u8; 64]),
    Jwt(&'a str),
}

static ID_NAME: HeaderName = HeaderName::from_static(WEBHOOK_ID);
static TIMESTAMP_NAME: HeaderName = HeaderName::from_static(WEBHOOK_TIMESTAMP);
static SIGNATURE_NAME: HeaderName = HeaderName::from_static(WEBHOOK_SIGNATURE);

/// The three headers, checked and bounded. Signature entries are decoded lazily, per scheme, so a
/// `v1` delivery never pays for decoding entries of other schemes.
#[derive(Debug)]
pub(crate) struct WebhookHeaders<'a> {
    pub(crate) id: WebhookId,
    /// The timestamp exactly as received: the signed content uses the header string, not a re-rendering.
    pub(crate) timestamp_raw: &'a str,
    pub(crate) timestamp: WebhookTimestamp,
    /// The `webhook-signature` values, checked; almost always exactly one, so `more` rarely allocates.
    signature: &'a str,
    more_signatures: Vec<&'a str>,
    schemes: Schemes,
}

impl<'a> WebhookHeaders<'a> {
    pub(crate) fn parse(headers: &'a HeaderMap, schemes: Schemes) -> Result<Self, VerifyError> {
        let id_raw = single(headers, &ID_NAME, WEBHOOK_ID)?;
        if id_raw.contains(',') {
            // No sender's id has one: two ids a proxy joined, and which is the delivery's is unknowable.
            return Err(VerifyError::InvalidHeader {
                header: WEBHOOK_ID,
                reason: "holds a comma: two ids joined by a proxy?".into(),
            });
        }
        let id = WebhookId::parse(id_raw)
            .map_err(|e| VerifyError::InvalidHeader { header: WEBHOOK_ID, reason: e.to_string() })?;
        let timestamp_raw = single(headers, &TIMESTAMP_NAME, WEBHOOK_TIMESTAMP)?;
        let timestamp = WebhookTimestamp::parse(timestamp_raw)
            .map_err(|e| VerifyError::InvalidHeader { header: WEBHOOK_TIMESTAMP, reason: e.to_string() })?;
        let (signature, more_signatures) = signature_values(headers.get_all(&SIGNATURE_NAME))?;
        Ok(Self { id, timestamp_raw, timestamp, signature, more_signatures, schemes })
    }

    /// Every entry of an accepted scheme, from every `webhook-signature` value (a proxy may split one
    /// header into several), decoded as it is reached.
    pub(crate) fn entries(&self) -> impl Iterator<Item = Entry<'a>> + '_ {
        let schemes = self.schemes;
        raw_entries(std::iter::once(self.signature).chain(self.more_signatures.iter().copied()))
            .filter_map(move |raw| parse_entry(raw, schemes))
    }

    /// Whether any `v1` entry is present.
    pub(crate) fn has_symmetric(&self) -> bool {
        self.entries().any(|e| matches!(e, Entry::V1(_)))
    }

    /// Whether any `v1a` or JWT entry is present.
    pub(crate) fn has_asymmetric(&self) -> bool {
        self.entries().any(|e| matches!(e, Entry::V1a(_) | Entry::Jwt(_)))
    }
}

/// The entries of the header's values, as text. Entries are separated by runs of whitespace; a
/// Function URL or an HTTP API joins repeated header lines with `, `, which leaves a comma at the end of
/// every entry but the last, so one trailing comma is dropped (standard base64 and JWTs never end with
/// one; a bare `v1,` becomes `v1`, which is still no entry). A proxy that joins them with a bare `,`
/// leaves `v1,AAA=,v1,BBB=`: no signature holds a comma, so such a run is split back into its entries.
fn raw_entries<'a>(values: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    values
        .flat_map(str::split_ascii_whitespace)
        .map(|raw| raw.strip_suffix(',').unwrap_or(raw))
        .flat_map(split_joined)
}

/// `raw` split where a proxy joined entries with a bare comma: each `version,signature` pair (a version
/// is `v` and at most three letters or digits) and each bare token (a JWT) on its own. One comma, the
/// common case, is one entry as it is.
fn split_joined(raw: &str) -> Joined<'_> {
    if raw.bytes().filter(|b| *b == b',').count() <= 1 {
        return Joined::One(Some(raw));
    }
    Joined::Many(split_pairs(raw).into_iter())
}

/// The entries of one whitespace-separated token: itself (no allocation: the hot path), or the pairs a
/// proxy joined into it.
enum Joined<'a> {
    One(Option<&'a str>),
    Many(std::vec::IntoIter<&'a str>),
}

impl<'a> Iterator for Joined<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Self::One(one) => one.take(),
            Self::Many(many) => many.next(),
        }
    }
}

fn split_pairs(raw: &str) -> Vec<&str> {
    let is_version = |part: &str| {
        (2..=4).contains(&part.len())
            && part.starts_with('v')
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let mut entries = Vec::new();
    let mut parts = raw.split(',').peekable();
    let mut offset = 0;
    while let Some(part) = parts.next() {
        let start = offset;
        offset += part.len() + 1;
        match parts.peek() {
            Some(signature) if is_version(part) && !signature.is_empty() && !is_version(signature) => {
                offset += signature.len() + 1;
                parts.next();
                entries.push(&raw[start..offset - 1]);
            }
            // A bare JWT between joins.
            _ if part.contains('.') => entries.push(part),
            // Anything else (an empty part, a stray word): not a join of well-formed entries; the token
            // stays whole, and is no entry.
            _ => return vec![raw],
        }
    }
    entries
}

/// The one value of a header that must appear exactly once. Its bytes are checked by the newtype that
/// parses it (printable ASCII for the id, digits for the timestamp); here only that they are UTF-8.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    label: &'static str,
) -> Result<&'a str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyError::MissingHeader(label))?;
    if values.next().is_some() {
        return Err(VerifyError::InvalidHeader { header: label, reason: "appears more than once".into() });
    }
    std::str::from_utf8(value.as_bytes())
        .map_err(|_| VerifyError::InvalidHeader { header: label, reason: "is not ASCII".into() })
}

/// The `webhook-signature` values, each checked to be visible ASCII, together within the length and
/// entry limits.
fn signature_values(values: GetAll<'_, HeaderValue>) -> Result<(&str, Vec<&str>), VerifyError> {
    let invalid = |reason: String| VerifyError::InvalidHeader { header: WEBHOOK_SIGNATURE, reason };
    let mut first = None;
    let mut more = Vec::new();
    let mut total_len = 0;
    let mut count = 0;
    let mut asymmetric = 0;
    for value in values {
        total_len += value.len();
        if total_len > MAX_SIGNATURE_HEADER_LEN {
            return Err(invalid(format!("is longer than {MAX_SIGNATURE_HEADER_LEN} bytes")));
        }
        let value = value.to_str().map_err(|_| invalid("is not visible ASCII".into()))?;
        for raw in raw_entries(std::iter::once(value)) {
            count += 1;
            asymmetric += usize::from(raw.starts_with("v1a,") || raw.contains('.'));
        }
        if count > MAX_SIGNATURE_ENTRIES {
            return Err(invalid(format!("has more than {MAX_SIGNATURE_ENTRIES} entries")));
        }
        if asymmetric > MAX_ASYMMETRIC_ENTRIES {
            return Err(invalid(format!("has more than {MAX_ASYMMETRIC_ENTRIES} v1a or JWT entries")));
        }
        if first.is_none() { first = Some(value) } else { more.push(value) }
    }
    first.map(|first| (first, more)).ok_or(VerifyError::MissingHeader(WEBHOOK_SIGNATURE))
}

/// One `version,value` entry, or a bare JWT. `None` for versions we do not know (a future `v2`),
/// schemes not accepted, and values that cannot be a signature of their scheme.
fn parse_entry(raw: &str, schemes: Schemes) -> Option<Entry<'_>> {
    // Versions are a few bytes: a plain scan beats a substring searcher here, on the hot path.
    let (version, value) = match raw.bytes().position(|b| b == b',') {
        Some(comma) => (Some(&raw[..comma]), &raw[comma + 1..]),
        None => (None, raw),
    };
    // Standard base64 never contains '.', so a value with a dot can only be a compact JWT.
    if value.contains('.') {
        return (looks_like_jwt(value) && schemes.contains(Scheme::Jwt)).then_some(Entry::Jwt(value));
    }
    match version? {
        "v1" if schemes.contains(Scheme::V1) => decode_fixed(value).map(Entry::V1),
        "v1a" if schemes.contains(Scheme::V1a) => decode_fixed(value).map(Entry::V1a),
        _ => None,
    }
}

fn looks_like_jwt(value: &str) -> bool {
    value.bytes().filter(|&b| b == b'.').count() == 2
}

/// Standard base64 of exactly `N` bytes; anything else is not a signature of that scheme.
fn decode_fixed<const N: usize>(value: &str) -> Option<[u8; N]> {
    // Decoded length is at most 3/4 of the input: refuse long values before decoding them.
    if value.len() > N.div_ceil(3) * 4 {
        return None;
    }
    // Room for the decoder's length estimate (3 bytes per 4 characters, padding included).
    let mut buf = [0u8; 96];
    match b64::STANDARD_LENIENT.decode_slice(value, &mut buf) {
        Ok(n) if n == N => buf[..N].try_into().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("Webhook-Id", HeaderValue::from_static("msg_1"));
        h.insert("WEBHOOK-TIMESTAMP", HeaderValue::from_static("1700000000"));
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn reads_header_names_in_any_case() {
        let h = headers("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        let parsed = WebhookHeaders::parse(&h, Schemes::ALL).unwrap();
        assert_eq!(parsed.id.as_str(), "msg_1");
        assert_eq!(parsed.timestamp_raw, "1700000000");
        assert!(matches!(parsed.entries().collect::<Vec<_>>()[..], [Entry::V1(_)]));
    }

    #[test]
    fn drops_unknown_versions_wrong_lengths_and_bare_prefixes() {
        let h = headers("v2,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw= v1, v1,AAAA v1a,AAAA  junk");
        let parsed = WebhookHeaders::parse(&h, Schemes::ALL).unwrap();
        assert_eq!(parsed.entries().count(), 0);
    }

    #[test]
    fn accepts_a_v1_entry_without_padding() {
        let h = headers("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw");
        let parsed = WebhookHeaders::parse(&h, Schemes::ALL).unwrap();
        assert!(matches!(parsed.entries().collect::<Vec<_>>()[..], [Entry::V1(_)]));
    }

    #[test]
    fn recognises_a_jwt_bare_or_versioned() {
        let h = headers("a.b.c v1,d.e.f");
        let parsed = WebhookHeaders::parse(&h, Schemes::ALL).unwrap();
        assert!(matches!(
            parsed.entries().collect::<Vec<_>>()[..],
            [Entry::Jwt("a.b.c"), Entry::Jwt("d.e.f")]
        ));
    }

    #[test]
    fn ignores_entries_of_schemes_not_accepted() {
        let h = headers("a.b.c v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        let parsed = WebhookHeaders::parse(&h, Schemes::only(Scheme::V1a)).unwrap();
        assert_eq!(parsed.entries().count(), 0);
    }

    #[test]
    fn reads_entries_a_proxy_joined_with_a_bare_comma() {
        let good = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        let other = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let h = headers(&format!("v1,{other},v1,{good}"));
        let parsed = WebhookHeaders::parse(&h, Schemes::ALL).unwrap();
        assert!(matches!(parsed.entries().collect::<Vec<_>>()[..], [Entry::V1(_), Entry::V1(_)]));
        let split = |raw: &str| split_joined(raw).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(split(&format!("a.b.c,v1,{good}")), ["a.b.c".to_owned(), format!("v1,{good}")]);
        assert_eq!(split(&format!("v1,{good}")), [format!("v1,{good}")], "one entry stays whole");
        assert_eq!(split("v1,AAAA,v1a,BBBB,x.y.z"), ["v1,AAAA", "v1a,BBBB", "x.y.z"]);
    }

    #[test]
    fn a_webhook_id_with_a_comma_is_two_joined_and_refused() {
        let mut h = headers("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        h.insert("webhook-id", HeaderValue::from_static("msg_1,msg_1"));
        match WebhookHeaders::parse(&h, Schemes::ALL) {
            Err(VerifyError::InvalidHeader { header: WEBHOOK_ID, reason }) => {
                assert!(reason.contains("comma"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_entries_a_proxy_joined_with_commas_and_any_whitespace() {
        let good = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        for sig in [
            format!("v1,{good}, v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
            format!("v1,AAAA,  v1,{good}"),
            format!("  v1,{good}  "),
            format!("v2,x   \t v1,{good}"),
        ] {
            let map = headers(&sig);
            let parsed = WebhookHeaders::parse(&map, Schemes::ALL).unwrap();
            let macs: Vec<[u8; 32]> = parsed
                .entries()
                .filter_map(|e| if let Entry::V1(mac) = e { Some(mac) } else { None })
                .collect();
            assert!(macs.iter().any(|m| b64::STANDARD_LENIENT.encode(m) == good), "{sig:?}");
        }
    }

    #[test]
    fn still_refuses_bare_prefixes_and_trailing_characters() {
        let good = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        for sig in ["v1,".to_owned(), "v1,,".to_owned(), format!("v1,{good},,"), format!("v1,{good}x")] {
            let map = headers(&sig);
            let parsed = WebhookHeaders::parse(&map, Schemes::ALL).unwrap();
            assert_eq!(parsed.entries().count(), 0, "{sig:?}");
        }
    }

    #[test]
    fn refuses_more_than_three_asymmetric_entries_before_any_crypto() {
        let v1a = format!("v1a,{}", "A".repeat(86));
        let three = [v1a.as_str(); 3].join(" ");
        assert!(WebhookHeaders::parse(&headers(&three), Schemes::ALL).is_ok());
        for four in [[v1a.as_str(); 4].join(" "), format!("{three} a.b.c")] {
            let err = WebhookHeaders::parse(&headers(&four), Schemes::ALL).unwrap_err();
            assert!(matches!(err, VerifyError::InvalidHeader { header: WEBHOOK_SIGNATURE, .. }), "{err}");
        }
    }

    #[test]
    fn refuses_too_many_entries() {
        let sig = vec!["v1,AAAA"; MAX_SIGNATURE_ENTRIES + 1].join(" ");
        let err = WebhookHeaders::parse(&headers(&sig), Schemes::ALL).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidHeader { header: WEBHOOK_SIGNATURE, .. }));
    }

    #[test]
    fn refuses_an_oversized_signature_header() {
        let sig = "A".repeat(MAX_SIGNATURE_HEADER_LEN + 1);
        let err = WebhookHeaders::parse(&headers(&sig), Schemes::ALL).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidHeader { header: WEBHOOK_SIGNATURE, .. }));
    }

    #[test]
    fn reports_each_missing_header_by_name() {
        for name in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
            let mut h = headers("v1,AAAA");
            h.remove(name);
            let err = WebhookHeaders::parse(&h, Schemes::ALL).unwrap_err();
            assert_eq!(err, VerifyError::MissingHeader(name));
        }
    }

    #[test]
    fn refuses_a_repeated_id_header() {
        let mut h = headers("v1,AAAA");
        h.append("webhook-id", HeaderValue::from_static("msg_2"));
        let err = WebhookHeaders::parse(&h, Schemes::ALL).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidHeader { header: WEBHOOK_ID, .. }));
    }

    #[test]
    fn refuses_a_non_integer_timestamp() {
        let mut h = headers("v1,AAAA");
        h.insert("webhook-timestamp", HeaderValue::from_static("2026-01-01T00:00:00Z"));
        let err = WebhookHeaders::parse(&h, Schemes::ALL).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidHeader { header: WEBHOOK_TIMESTAMP, .. }));
    }
}
