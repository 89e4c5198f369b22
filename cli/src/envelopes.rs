//! Realistic Gemini event bodies: the envelope Gemini posts when a job ends, for each of the nine
//! documented types, with ids, output URIs and error codes in the shapes Gemini uses (spec: "Body: a
//! thin envelope"; batch names `batches/...`, video operations `models/.../operations/...`, numeric
//! and textual error codes both seen).

use aws_sdk_sqs::primitives::{DateTime, DateTimeFormat};
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value, json};
use shared::EventKind;

/// A fresh lower-case hexadecimal token of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// A job id in the shape Gemini gives jobs of `event_type`'s family.
pub fn fresh_job_id(event_type: &str) -> String {
    match event_type.split('.').next() {
        Some("batch") => format!("batches/{}", random_hex(8)),
        Some("interaction") => format!("v1_{}", random_hex(12)),
        Some("video") => format!("models/veo-3.0-generate-001/operations/{}", random_hex(6)),
        _ => format!("jobs/{}", random_hex(8)),
    }
}

/// An event body as Gemini sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    event_type: String,
    timestamp: i64,
    data: Map<String, Value>,
    user_metadata: Map<String, Value>,
}

impl Envelope {
    /// The envelope of a job `job_id` that ended with `event_type` at `timestamp` (Unix seconds), with
    /// the fields Gemini's event catalogue gives that type.
    pub fn realistic(event_type: &str, job_id: &str, timestamp: i64) -> Self {
        let mut data = Map::new();
        data.insert("id".into(), json!(job_id));
        let leaf = job_id.rsplit('/').next().unwrap_or(job_id);
        match EventKind::of(event_type) {
            EventKind::BatchSucceeded => {
                data.insert("output_file_uri".into(), json!(format!("files/batch-{leaf}-results")));
            }
            EventKind::BatchFailed => {
                data.insert("error_code".into(), json!(3));
                data.insert(
                    "error_message".into(),
                    json!("Request 17 of the input file has no contents; nothing was processed"),
                );
            }
            EventKind::InteractionFailed => {
                data.insert("error_code".into(), json!("RESOURCE_EXHAUSTED"));
                data.insert("error_message".into(), json!("Quota exceeded for the model; retry later"));
            }
            EventKind::VideoGenerated => {
                data.insert("output_file_uri".into(), json!(format!("files/{leaf}")));
                data.insert("file_name".into(), json!(format!("files/{leaf}")));
            }
            _ => {}
        }
        Self { event_type: event_type.to_owned(), timestamp, data, user_metadata: Map::new() }
    }

    /// Adds one `user_metadata` entry: what the job was started with, echoed back.
    pub fn metadata(mut self, key: impl Into<String>, value: Value) -> Self {
        self.user_metadata.insert(key.into(), value);
        self
    }

    /// The body's bytes, fields in Gemini's order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let timestamp = DateTime::from_secs(self.timestamp)
            .fmt(DateTimeFormat::DateTime)
            .unwrap_or_else(|_| self.timestamp.to_string());
        let mut body = json!({
            "type": self.event_type,
            "version": "v1",
            "timestamp": timestamp,
            "data": self.data,
        });
        if !self.user_metadata.is_empty() {
            body["user_metadata"] = Value::Object(self.user_metadata.clone());
        }
        body.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::event::Event;

    #[test]
    fn every_known_type_parses_as_its_kind_with_the_fields_its_consumers_read() {
        for (name, kind) in EventKind::CATALOG {
            let job = fresh_job_id(name);
            let body =
                Envelope::realistic(name, &job, 1_769_083_200).metadata("team", json!("ml")).to_bytes();
            let event = Event::parse(&body).unwrap();
            assert_eq!(event.kind(), kind, "{name}");
            assert_eq!(event.data_id(), Some(job.as_str()), "{name}");
            assert_eq!(
                event.output_uri().is_some(),
                matches!(kind, EventKind::BatchSucceeded | EventKind::VideoGenerated),
                "{name}"
            );
            assert_eq!(event.error_code().is_some(), kind.is_failure(), "{name}");
            assert_eq!(event.user_metadata().and_then(|m| m.get("team")), Some(&json!("ml")), "{name}");
        }
        let body =
            String::from_utf8(Envelope::realistic("batch.expired", "batches/x", 1_769_083_200).to_bytes())
                .unwrap();
        assert_eq!(
            body,
            r#"{"type":"batch.expired","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/x"}}"#
        );
    }
}
