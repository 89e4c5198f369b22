//! One event a line, as `tail`, `events list` and `replay --dry-run` print it: when it arrived, its
//! type, scheme, `webhook-id` and job, its output or error, its `user_metadata`, and whether it was a
//! replay or a tracked job's second end.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use shared::message::{DownstreamMessage, EventRecord};

use crate::ui::output::{dim, styled};
use crate::ui::time::date_time;

/// One event.
#[derive(Debug, Serialize)]
pub(crate) struct EventLine {
    /// When the receiver accepted it, Unix milliseconds.
    received_at: i64,
    webhook_id: String,
    #[serde(rename = "type")]
    event_type: String,
    scheme: String,
    data_id: Option<String>,
    output_uri: Option<String>,
    error_code: Option<String>,
    user_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replayed_at: Option<i64>,
    /// A tracked job's second end: the first end's id (recorded, not routed).
    #[serde(skip_serializing_if = "Option::is_none")]
    superseded_by: Option<String>,
}

impl From<&EventRecord> for EventLine {
    fn from(record: &EventRecord) -> Self {
        let superseded_by = record.superseded_by.as_ref().map(ToString::to_string);
        Self { superseded_by, ..Self::from(&DownstreamMessage::from(record.clone())) }
    }
}

impl From<&DownstreamMessage> for EventLine {
    fn from(m: &DownstreamMessage) -> Self {
        Self {
            received_at: m.provenance.received_at,
            webhook_id: m.provenance.webhook_id.to_string(),
            event_type: m.event_type.clone(),
            scheme: m.provenance.scheme.to_string(),
            data_id: m.data_id.clone(),
            output_uri: m.event.output_uri().map(str::to_owned),
            error_code: m.event.error_code().map(|c| c.to_string()),
            user_metadata: m.user_metadata.clone(),
            replayed_at: m.replayed_at,
            superseded_by: None,
        }
    }
}

impl fmt::Display for EventLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {:<28} {:<4} {}  {}",
            date_time(self.received_at),
            self.event_type,
            self.scheme,
            self.webhook_id,
            self.data_id.as_deref().unwrap_or("-")
        )?;
        if let Some(uri) = &self.output_uri {
            write!(f, "  output={uri}")?;
        }
        if let Some(code) = &self.error_code {
            write!(f, "  error={code}")?;
        }
        if let Some(metadata) = &self.user_metadata {
            write!(f, "  {}", styled(dim(), Value::Object(metadata.clone())))?;
        }
        if self.replayed_at.is_some() {
            write!(f, "  {}", styled(dim(), "(replay)"))?;
        }
        if let Some(first) = &self.superseded_by {
            write!(f, "  {}", styled(dim(), format!("(not routed: its job ended with {first})")))?;
        }
        Ok(())
    }
}
