//! The Files API: upload a batch's input (the resumable protocol the SDKs use), and download what a job
//! produced (batch results, videos), streamed. Classic proto-JSON: camelCase fields.

use serde::Deserialize;

use super::{ApiError, GeminiClient};

/// A file's metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// `files/{id}`.
    pub name: String,
    /// Its display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Its size (an int64, as a JSON string).
    #[serde(default)]
    pub size_bytes: Option<String>,
    /// `PROCESSING`, `ACTIVE` or `FAILED`.
    #[serde(default)]
    pub state: Option<String>,
    /// Its API URI.
    #[serde(default)]
    pub uri: Option<String>,
}

#[derive(Deserialize)]
struct Uploaded {
    file: File,
}

impl GeminiClient {
    /// Uploads `bytes` as a file (resumable protocol: start, then upload and finalize in one request).
    pub async fn upload_file(
        &self,
        bytes: Vec<u8>,
        display_name: &str,
        mime_type: &str,
    ) -> Result<File, ApiError> {
        let start = self
            .send(
                self.http
                    .post(format!("{}/upload/{}/files", self.base, self.version))
                    .header("X-Goog-Upload-Protocol", "resumable")
                    .header("X-Goog-Upload-Command", "start")
                    .header("X-Goog-Upload-Header-Content-Length", bytes.len().to_string())
                    .header("X-Goog-Upload-Header-Content-Type", mime_type)
                    .json(&serde_json::json!({"file": {"display_name": display_name}})),
            )
            .await?;
        let session = match start.headers().get("x-goog-upload-url").and_then(|v| v.to_str().ok()) {
            Some(url) => url.to_owned(),
            None => return Err(Self::error_of(start).await),
        };
        // The session URL is the upload's credential, so the key never goes with it; and it must be on
        // the API's own host, or the file itself would go elsewhere.
        let on_our_host = url::Url::parse(&session)
            .ok()
            .zip(url::Url::parse(&self.base).ok())
            .is_some_and(|(session, base)| session.origin() == base.origin());
        if !on_our_host {
            return Err(ApiError::Unexpected {
                call: "files.upload",
                detail: "the upload session URL is not on the API's host: nothing was sent there".into(),
            });
        }
        let length = bytes.len();
        let finish = self
            .http
            .post(session)
            .header("X-Goog-Upload-Command", "upload, finalize")
            .header("X-Goog-Upload-Offset", "0")
            .header("Content-Length", length.to_string())
            .body(bytes);
        let uploaded: Uploaded = self.decode("files.upload", self.send_bare(finish).await?).await?;
        Ok(uploaded.file)
    }

    /// `GET /files/{id}`.
    pub async fn get_file(&self, name: &str) -> Result<File, ApiError> {
        self.call("files.get", self.http.get(self.url(name))).await
    }

    /// Starts downloading the file `name` (`files/{id}`): the answer's body, to stream with
    /// `bytes_stream` or `chunk`. A non-2xx answer is an [`ApiError`].
    pub async fn download_file(&self, name: &str) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/download/{}/{name}:download?alt=media", self.base, self.version);
        self.send(self.http.get(url).timeout(self.download_timeout)).await
    }

    /// The first `limit` bytes of the file `name` at most (the rest is not read): for a file read whole
    /// that may be larger than is useful.
    pub async fn download_head(&self, name: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
        let mut response = self.download_file(name).await?;
        let mut bytes = Vec::new();
        while bytes.len() < limit {
            match response.chunk().await.map_err(|e| self.transport(e))? {
                Some(chunk) => bytes.extend_from_slice(&chunk[..chunk.len().min(limit - bytes.len())]),
                None => break,
            }
        }
        Ok(bytes)
    }
}
