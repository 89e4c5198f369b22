//! A signed delivery posted to a receiver, as Gemini posts one.

use serde_json::Value;
use shared::signature::sign::SignedHeaders;

/// The receiver's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Its HTTP status.
    pub status: u16,
    /// Its body: JSON, or the text as a string when it was not JSON.
    pub body: Value,
}

/// A delivery failed before any answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The headers cannot be sent (an id with characters no header carries).
    #[error("the webhook headers cannot be sent: {0}")]
    Headers(#[from] http::header::InvalidHeaderValue),
    /// No answer: the URL (which may carry the endpoint's token) left out of the message.
    #[error(transparent)]
    Unreachable(reqwest::Error),
}

/// POSTs `body` with `signed`'s headers to `url`.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    signed: &SignedHeaders,
    body: Vec<u8>,
) -> Result<Reply, SendError> {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .headers(signed.to_header_map()?)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::Unreachable(e.without_url()))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Ok(Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}
