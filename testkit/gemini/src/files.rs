//! The Files API: the resumable upload the SDKs use (a `start` request answered with an
//! `x-goog-upload-url`, then the bytes in chunks, the last with `upload, finalize`), file metadata, and
//! downloads of what jobs generated (`/download/v1/files/{id}:download?alt=media`, and the same
//! without `/download`). An uploaded file cannot be downloaded, as Google documents. A download can be
//! cut off mid-stream on purpose ([`crate::Simulator::interrupt_downloads`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::API_VERSION;
use crate::store::rfc3339;

/// Where a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Uploaded by a user (a batch's input).
    Uploaded,
    /// Made by a job (batch results, a video).
    Generated,
}

/// One stored file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// `files/{id}`.
    pub name: String,
    /// Its display name.
    pub display_name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Uploaded or generated.
    pub source: Source,
    /// Unix seconds.
    pub created_at: i64,
}

impl StoredFile {
    /// The resource, camelCase as the Files API writes it.
    pub fn to_json(&self, base: &str) -> Value {
        let id = self.name.trim_start_matches("files/");
        json!({
            "name": self.name,
            "displayName": self.display_name,
            "mimeType": self.mime_type,
            "sizeBytes": self.bytes.len().to_string(),
            "createTime": rfc3339(self.created_at),
            "updateTime": rfc3339(self.created_at),
            "expirationTime": rfc3339(self.created_at + 48 * 3600),
            "uri": format!("{base}/{API_VERSION}/files/{id}"),
            "downloadUri": format!("{base}/download/{API_VERSION}/files/{id}:download?alt=media"),
            "state": "ACTIVE",
            "source": match self.source { Source::Uploaded => "UPLOADED", Source::Generated => "GENERATED" },
        })
    }
}

/// An upload begun with `start`.
#[derive(Debug, Clone)]
pub struct Session {
    /// The file's display name.
    pub display_name: String,
    /// Its MIME type, from `X-Goog-Upload-Header-Content-Type`.
    pub mime_type: String,
    /// The bytes received so far (the SDKs send 8 MiB chunks, each `upload` at its offset).
    pub received: Vec<u8>,
}

/// Every file and upload session.
#[derive(Debug, Default)]
pub struct Files {
    /// By name.
    pub files: BTreeMap<String, StoredFile>,
    /// By upload id.
    pub sessions: BTreeMap<String, Session>,
    /// Downloads still to cut off, and after how many bytes.
    pub interruptions: Vec<usize>,
}

/// The file id in a download path (`files/{id}:download`), if it is one.
pub fn download_id(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/download/v1beta/").or_else(|| path.strip_prefix("/download/v1/"));
    let rest = rest.or_else(|| path.strip_prefix("/v1beta/")).or_else(|| path.strip_prefix("/v1/"))?;
    rest.strip_prefix("files/")?.strip_suffix(":download")
}
