//! One trace per delivery: the X-Ray trace header Lambda gives the receiver's invocation, carried with
//! the delivery through every stage, so a user follows one `webhook-id` across the functions in one
//! view (its trace id is on each of their log lines) and X-Ray links the hops (each SQS send carries it
//! as `AWSTraceHeader`, each bus entry as its `TraceHeader`).
//!
//! The header is kept in its canonical form, `Root=...;Parent=...;Sampled=...`: the three fields X-Ray
//! documents for propagation. Anything else Lambda adds (`Lineage`, for its loop detection) is dropped,
//! so what goes out is always a header SQS's `AWSTraceHeader` accepts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An X-Ray trace header, parsed and canonical.
///
/// Held as its canonical text, built once when parsed: every SQS send and bus entry of the delivery
/// sends it, and every stage's span names its trace id, a slice of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceHeader {
    /// `Root=<trace id>`, then `;Parent=<16 hex digits>` and `;Sampled=0|1` where known.
    canonical: String,
    /// Whether the trace is recorded: `Some(true)` for `Sampled=1`; `None` when the decision is
    /// not made (`Sampled=?`, or absent), which X-Ray leaves to the next hop.
    sampled: Option<bool>,
}

/// A header that is not an X-Ray trace header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an X-Ray trace header: {0}")]
pub struct TraceHeaderError(&'static str);

/// `Root=`: the canonical text's start.
const ROOT: &str = "Root=";
/// A trace id: `1-`, 8 hex digits (the trace's start, Unix seconds), `-`, 24 hex digits.
const TRACE_ID_LEN: usize = 35;

impl TraceHeader {
    /// The trace id (`Root`), what X-Ray's console and a log search take: `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn trace_id(&self) -> &str {
        &self.canonical[ROOT.len()..ROOT.len() + TRACE_ID_LEN]
    }

    /// Whether X-Ray records this trace, if decided.
    pub fn sampled(&self) -> Option<bool> {
        self.sampled
    }

    /// The canonical header, as SQS's `AWSTraceHeader` and a bus entry's `TraceHeader` take it.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_trace_id(root: &str) -> bool {
    let mut parts = root.splitn(3, '-');
    let (Some("1"), Some(time), Some(id)) = (parts.next(), parts.next(), parts.next()) else { return false };
    is_hex(time, 8) && is_hex(id, 24)
}

impl FromStr for TraceHeader {
    type Err = TraceHeaderError;

    /// Reads `Root=...;Parent=...;Sampled=...` in any order, fields other than those three ignored.
    fn from_str(header: &str) -> Result<Self, Self::Err> {
        let (mut root, mut parent, mut sampled) = (None, None, None);
        for field in header.split(';').map(str::trim).filter(|f| !f.is_empty()) {
            match field.split_once('=') {
                Some(("Root", value)) if is_trace_id(value) => root = Some(value),
                Some(("Root", _)) => return Err(TraceHeaderError("Root is not 1-<8 hex>-<24 hex>")),
                Some(("Parent", value)) if is_hex(value, 16) => parent = Some(value),
                Some(("Parent", _)) => return Err(TraceHeaderError("Parent is not 16 hex digits")),
                Some(("Sampled", "1")) => sampled = Some(true),
                Some(("Sampled", "0")) => sampled = Some(false),
                Some(("Sampled", _)) => sampled = None,
                _ => {}
            }
        }
        let root = root.ok_or(TraceHeaderError("no Root"))?;
        // Root, then Parent and Sampled where known: at most 5 + 35 + 8 + 16 + 10 bytes.
        let mut canonical = String::with_capacity(74);
        canonical.push_str(ROOT);
        canonical.push_str(root);
        if let Some(parent) = parent {
            canonical.push_str(";Parent=");
            canonical.push_str(parent);
        }
        match sampled {
            Some(true) => canonical.push_str(";Sampled=1"),
            Some(false) => canonical.push_str(";Sampled=0"),
            None => {}
        }
        Ok(Self { canonical, sampled })
    }
}

impl fmt::Display for TraceHeader {
    /// The canonical header: `Root`, then `Parent` and `Sampled` where known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl Serialize for TraceHeader {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical)
    }
}

impl<'de> Deserialize<'de> for TraceHeader {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The trace Lambda gives an invocation (`Context::xray_trace_id`, sampled or not): a header that does
/// not parse is no trace, never a failure of the delivery.
pub fn of_invocation(xray_trace_id: Option<&str>) -> Option<TraceHeader> {
    xray_trace_id.and_then(|header| header.parse().ok())
}

/// The span a stage logs one delivery's lines in: each line written inside it carries the delivery's
/// `trace_id` (logging keeps the span list on every line), whichever function writes it.
pub fn delivery_span(trace: Option<&TraceHeader>) -> tracing::Span {
    tracing::info_span!("delivery", trace_id = trace.map(TraceHeader::trace_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0";

    #[test]
    fn lambda_s_header_is_read_and_written_canonical_without_its_lineage() {
        let header: TraceHeader = LAMBDA.parse().unwrap();
        assert_eq!(header.trace_id(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(header.sampled(), Some(true));
        assert_eq!(
            header.to_string(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        let reordered: TraceHeader =
            "Sampled=0; Parent=53995c3f42cd8ad8; Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap();
        assert_eq!(reordered.to_string(), header.to_string().replace("Sampled=1", "Sampled=0"));
    }

    #[test]
    fn an_undecided_sample_and_a_root_alone_stay_undecided() {
        let header: TraceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?".parse().unwrap();
        assert_eq!(header.sampled(), None);
        assert_eq!(header.to_string(), "Root=1-5759e988-bd862e3fe1be46a994272793");
    }

    #[test]
    fn anything_but_x_ray_s_format_is_refused() {
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a99427279z",
            "Root=1-5759e988-bd862e3fe1be46a994272793-00",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8\nX",
        ] {
            assert!(bad.parse::<TraceHeader>().is_err(), "{bad:?} was read");
        }
    }

    #[test]
    fn it_travels_in_json_as_its_canonical_text() {
        let header: TraceHeader = LAMBDA.parse().unwrap();
        let json = serde_json::to_string(&header).unwrap();
        assert_eq!(json, format!("\"{header}\""));
        assert_eq!(serde_json::from_str::<TraceHeader>(&json).unwrap(), header);
        assert!(serde_json::from_str::<TraceHeader>("\"Root=nope\"").is_err());
    }
}
