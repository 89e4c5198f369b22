//! The results bucket: each job's follow-up stored under a key made from its id (`shared::results`),
//! so a redelivered event writes the same object again. Downloads are streamed in parts, never held
//! whole: a body up to [`PART_BYTES`] is one PutObject, a larger one a multipart upload (aborted if the
//! stream breaks, so no partial object is ever visible).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde_json::Value;

/// The size of each part of a multipart upload (S3 takes at least 5 MiB, but for the last).
pub const PART_BYTES: usize = 8 << 20;

/// Why storing failed. Each is transient (the record is redelivered) but [`StoreError::TooLarge`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// S3 refused or could not be reached.
    #[error("S3 {action} on s3://{bucket}/{key} failed: {detail}")]
    S3 {
        /// The S3 action.
        action: &'static str,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What S3 or the SDK said.
        detail: String,
    },
    /// The download is larger than the bucket takes: not stored (nothing partial is left).
    #[error("the download for {key} is larger than the {limit} bytes stored (announced: {announced:?})")]
    TooLarge {
        /// The key it was going to.
        key: String,
        /// Its `Content-Length`, when it announced one.
        announced: Option<u64>,
        /// The most stored.
        limit: u64,
    },
    /// The download stopped before its end.
    #[error("the download of {key} broke off after {received} bytes: {detail}")]
    Download {
        /// The key it was going to.
        key: String,
        /// Bytes received.
        received: u64,
        /// Why.
        detail: String,
    },
}

/// An S3 client from the function's clients: path-style addressing with a local emulator's endpoint
/// (its buckets are not DNS names).
pub fn s3_client(clients: &shared::aws::clients::Clients) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(clients.sdk_config());
    config.set_endpoint_url(clients.endpoint_url().map(str::to_owned));
    config.set_force_path_style(Some(clients.endpoint_url().is_some()));
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The bucket.
#[derive(Debug, Clone)]
pub struct ResultsBucket {
    s3: aws_sdk_s3::Client,
    bucket: String,
    max_bytes: u64,
}

impl ResultsBucket {
    /// The bucket `bucket`, taking downloads of up to `max_bytes`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>, max_bytes: u64) -> Self {
        Self { s3, bucket: bucket.into(), max_bytes }
    }

    fn too_large(&self, key: &str, announced: Option<u64>) -> StoreError {
        StoreError::TooLarge { key: key.to_owned(), announced, limit: self.max_bytes }
    }

    fn failed(&self, action: &'static str, key: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::S3 {
            action,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// Stores `value` as JSON at `key`.
    pub async fn put_json(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        let body = serde_json::to_vec_pretty(value).unwrap_or_default();
        self.put(key, "application/json", body).await
    }

    /// Stores `bytes` at `key`, unless they are over the bucket's limit.
    pub async fn put_bytes(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        if bytes.len() as u64 > self.max_bytes {
            return Err(self.too_large(key, Some(bytes.len() as u64)));
        }
        self.put(key, content_type, bytes).await
    }

    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.failed("PutObject", key, aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    /// Streams `download` to `key`: in parts of [`PART_BYTES`], complete or not at all. Returns its size.
    /// One announced, or found while streaming, to be over the bucket's limit is not stored.
    pub async fn put_download(
        &self,
        key: &str,
        content_type: &str,
        mut download: reqwest::Response,
    ) -> Result<u64, StoreError> {
        let expected = download.content_length();
        if expected.is_some_and(|size| size > self.max_bytes) {
            return Err(self.too_large(key, expected));
        }
        let broke =
            |received: u64, detail: String| StoreError::Download { key: key.to_owned(), received, detail };
        let first = read_part(&mut download).await.map_err(|(got, e)| broke(got, e))?;
        let mut received = first.len() as u64;
        if first.len() < PART_BYTES {
            check_length(key, received, expected)?;
            self.put(key, content_type, first).await?;
            return Ok(received);
        }

        let upload = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| {
                self.failed("CreateMultipartUpload", key, aws_sdk_s3::error::DisplayErrorContext(e))
            })?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let mut parts = Vec::new();
        let mut part = first;
        let outcome = loop {
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            let uploaded = self
                .s3
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(std::mem::take(&mut part)))
                .send()
                .await;
            match uploaded {
                Ok(done) => {
                    parts.push(CompletedPart::builder().part_number(number).set_e_tag(done.e_tag).build())
                }
                Err(e) => {
                    break Err(self.failed("UploadPart", key, aws_sdk_s3::error::DisplayErrorContext(e)));
                }
            }
            match read_part(&mut download).await {
                Ok(next) if next.is_empty() => break check_length(key, received, expected),
                Ok(next) => {
                    received += next.len() as u64;
                    if received > self.max_bytes {
                        break Err(self.too_large(key, expected));
                    }
                    part = next;
                }
                Err((got, e)) => break Err(broke(received + got, e)),
            }
        };
        if let Err(error) = outcome {
            // Nothing partial stays: the upload is dropped, the record redelivered.
            let abort = self.s3.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&upload_id);
            let _ = abort.send().await;
            return Err(error);
        }
        self.s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| {
                self.failed("CompleteMultipartUpload", key, aws_sdk_s3::error::DisplayErrorContext(e))
            })?;
        Ok(received)
    }
}

/// Up to [`PART_BYTES`] of `download`; fewer only at its end. On a broken stream, the bytes read of
/// this part and why.
async fn read_part(download: &mut reqwest::Response) -> Result<Vec<u8>, (u64, String)> {
    let mut part = Vec::new();
    while part.len() < PART_BYTES {
        match download.chunk().await {
            Ok(Some(chunk)) => part.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err((part.len() as u64, e.to_string())),
        }
    }
    Ok(part)
}

/// A body shorter than its `Content-Length` broke off, even if the connection closed cleanly.
fn check_length(key: &str, received: u64, expected: Option<u64>) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != received => Err(StoreError::Download {
            key: key.to_owned(),
            received,
            detail: format!("{expected} bytes were announced"),
        }),
        _ => Ok(()),
    }
}
