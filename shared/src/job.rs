//! A Gemini job's name, checked against the shapes the API documents before it goes into a URL path, an
//! S3 key or a table key: an event's `data.id` is the sender's text, and `batches/../files` would reach
//! another resource.

use std::fmt;

/// The kinds of job whose ends Gemini delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// `batches/{id}`.
    Batch,
    /// `interactions/{id}`, or the bare `{id}` events carry.
    Interaction,
    /// `models/{model}/operations/{id}`: a video generation.
    Video,
}

/// A job name in one of the documented shapes: `batches/{id}`, `interactions/{id}` or a bare interaction
/// id, `models/{model}/operations/{id}`; each segment letters, digits, `-` and `_` (a model also `.`),
/// at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobName {
    name: String,
    kind: JobKind,
}

/// A name in none of the documented shapes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Gemini job name (batches/ID, interactions/ID or ID, models/MODEL/operations/ID)")]
pub struct NotAJobName(pub String);

const MAX_SEGMENT: usize = 128;

fn is_id(segment: &str) -> bool {
    (1..=MAX_SEGMENT).contains(&segment.len())
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_model(segment: &str) -> bool {
    (1..=MAX_SEGMENT).contains(&segment.len())
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && segment.bytes().any(|b| b.is_ascii_alphanumeric())
}

impl JobName {
    /// Checks `name` against the documented shapes.
    pub fn parse(name: &str) -> Result<Self, NotAJobName> {
        let parts: Vec<&str> = name.split('/').collect();
        let kind = match parts.as_slice() {
            ["batches", id] if is_id(id) => JobKind::Batch,
            ["interactions", id] | [id] if is_id(id) => JobKind::Interaction,
            ["models", model, "operations", id] if is_model(model) && is_id(id) => JobKind::Video,
            _ => return Err(NotAJobName(name.chars().take(160).collect())),
        };
        Ok(Self { name: name.to_owned(), kind })
    }

    /// The name, as given.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// What kind of job it names.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// The id alone: the last segment.
    pub fn id(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The `files/{id}` name an event's `output_file_uri` refers to: `files/{id}` as it is, or any of the
/// URL forms (`https://.../v1beta/files/{id}`, with `:download?alt=media`, under `/download/`). `None`
/// for what the Files API does not serve (`gs://...`).
pub fn file_name(output_file_uri: &str) -> Option<String> {
    let path = output_file_uri.split('?').next().unwrap_or_default();
    let at = path.find("files/")?;
    if path.starts_with("gs://") {
        return None;
    }
    let id = path[at + "files/".len()..].split([':', '/']).next().filter(|id| {
        (1..=128).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })?;
    Some(format!("files/{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shapes_parse_with_their_kind() {
        for (name, kind) in [
            ("batches/abc123", JobKind::Batch),
            ("batches/8x-y_z", JobKind::Batch),
            ("interactions/v1_abc", JobKind::Interaction),
            ("v1_abc", JobKind::Interaction),
            ("models/veo-3.0-generate-001/operations/op123", JobKind::Video),
        ] {
            let parsed = JobName::parse(name).unwrap();
            assert_eq!((parsed.as_str(), parsed.kind()), (name, kind));
        }
        assert_eq!(JobName::parse("batches/abc123").unwrap().id(), "abc123");
    }

    #[test]
    fn anything_that_could_reach_another_resource_is_refused() {
        for name in [
            "",
            "batches/",
            "batches/..",
            "batches/../files",
            "batches/abc/../../webhooks",
            "batches/abc:cancel",
            "batches/abc?alt=media",
            "batches/a%2F..",
            "files/abc",
            "webhooks/abc",
            "models/../operations/x",
            "models/veo/operations/../x",
            "models/.../operations/x",
            "..",
            "interactions/a b",
            "/batches/abc",
            &format!("batches/{}", "a".repeat(129)),
        ] {
            assert!(JobName::parse(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn every_form_of_an_output_uri_names_its_file() {
        for uri in [
            "files/batch-abc123",
            "https://generativelanguage.googleapis.com/v1beta/files/batch-abc123",
            "https://generativelanguage.googleapis.com/v1beta/files/batch-abc123:download?alt=media",
            "https://generativelanguage.googleapis.com/download/v1beta/files/batch-abc123:download?alt=media",
        ] {
            assert_eq!(file_name(uri).as_deref(), Some("files/batch-abc123"), "{uri}");
        }
        assert_eq!(file_name("gs://my-bucket/results.jsonl"), None);
        for elsewhere in
            ["files/..", "files/a%2F..", "files/a b", "files/", "https://x/v1beta/files/../webhooks"]
        {
            assert_eq!(file_name(elsewhere), None, "{elsewhere}");
        }
        assert_eq!(file_name("https://example.com/x"), None);
    }
}
