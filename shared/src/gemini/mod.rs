//! A small typed client for the Gemini API calls this project makes (feature `gemini`): the Files API
//! (upload a batch's input, download a job's results), starting batches, interactions and videos with a
//! dynamic webhook and reading them back; and, with `verify` too, the WebhookService, to register and
//! rotate the endpoint. Over `reqwest` with rustls. No crate covers what
//! this project calls in its current shape: `genai-rs` has the WebhookService but no batches or file
//! downloads, `gemini-rust` the reverse, `rust-genai` an older WebhookService (no `id`).
//!
//! The API has two JSON dialects on one host: the WebhookService is snake_case both ways. Every
//! response field is optional or defaulted where the reference marks it output-only or live responses
//! were seen without it, unknown enum values are kept, and unknown fields are ignored, so a field Google
//! adds never breaks a call. An error answer is [`ApiError::Api`] with Google's status and message, in
//! either of the two error shapes the API uses.

mod files;
mod jobs;
#[cfg(feature = "verify")]
mod webhooks;

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use crate::job::file_name;
pub use files::File;
pub use jobs::{
    DEFAULT_VEO_MODEL, DEFAULT_VIDEO_MODEL, Interaction, InteractionVideo, Operation, WebhookConfig,
    interaction_video,
};
#[cfg(feature = "verify")]
pub use webhooks::{
    NewWebhook, Revocation, SUBSCRIBABLE_EVENTS, SecretInfo, Webhook, WebhookPage, WebhookState,
    WebhookUpdate,
};

/// Google's endpoint.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// The API version called by default: `v1`, as google-genai 3.6 and @google/genai 3.3 do. Google's
/// reference still documents the WebhookService under `v1beta`, which serves the same calls and stays
/// one setting away (`--api-version`, `GEMINI_API_VERSION`).
pub const DEFAULT_API_VERSION: &str = "v1";

/// Where the API is: its base URL and version, from `GEMINI_API_BASE` and `GEMINI_API_VERSION`
/// (Google's and [`DEFAULT_API_VERSION`] when unset). The functions that call Gemini read it alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiLocation {
    /// The base URL.
    pub base: String,
    /// The version (`v1`, `v1beta`).
    pub version: String,
}

impl Default for ApiLocation {
    fn default() -> Self {
        Self { base: DEFAULT_BASE_URL.to_owned(), version: DEFAULT_API_VERSION.to_owned() }
    }
}

impl ApiLocation {
    /// The location `lookup` (an environment) gives; unset or empty variables keep the defaults.
    pub fn from_lookup(lookup: impl Fn(&'static str) -> Option<String>) -> Self {
        let given = |name| lookup(name).filter(|value: &String| !value.trim().is_empty());
        let default = Self::default();
        Self {
            base: given("GEMINI_API_BASE").unwrap_or(default.base),
            version: given("GEMINI_API_VERSION").unwrap_or(default.version),
        }
    }

    /// A client of the API here, calling it with `api_key`.
    pub fn client(&self, api_key: &str) -> Result<GeminiClient, ApiError> {
        GeminiClient::new(&self.base, &self.version, api_key)
    }
}

/// A call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Gemini answered with an error.
    #[error("Gemini answered {status} {code}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// Google's status (`NOT_FOUND`, `INVALID_ARGUMENT`) or error code (`invalid_request`).
        code: String,
        /// Google's message.
        message: String,
    },
    /// No answer (connection, TLS, timeout).
    #[error("could not reach Gemini at {base}")]
    Transport {
        /// The base URL.
        base: String,
        /// What failed.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not what the reference documents.
    #[error("Gemini's answer to {call} is not what the API reference documents: {detail}")]
    Unexpected {
        /// The call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An answer larger than this client reads whole.
    #[error("Gemini's answer to {call} is larger than the {limit} bytes read whole")]
    TooLarge {
        /// The call.
        call: &'static str,
        /// The most read.
        limit: usize,
    },
    /// A job name in none of the documented shapes: no call is made with it.
    #[error(transparent)]
    NotAJob(#[from] crate::job::NotAJobName),
    /// A base URL the API key may not be sent to.
    #[error("the Gemini API base {base} is refused: {reason}")]
    BaseRefused {
        /// The base URL given.
        base: String,
        /// Why.
        reason: &'static str,
    },
}

/// The most of a JSON answer read whole (an interaction, with its outputs, is the largest).
pub const MAX_ANSWER_BYTES: usize = 32 << 20;
/// The most of an error answer read (its first 200 characters are kept).
const MAX_ERROR_BYTES: usize = 64 << 10;

/// Whether `base` may be given the API key: HTTPS, or plain HTTP to this machine (a local simulator).
fn check_base(base: &str) -> Result<url::Url, ApiError> {
    let refused = |reason| ApiError::BaseRefused { base: base.to_owned(), reason };
    let url = url::Url::parse(base).map_err(|_| refused("not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(refused("the API key would travel unencrypted: use https (http only on loopback)")),
        _ => Err(refused("not an http(s) URL")),
    }
}

/// Reads `response`'s body, at most `limit` bytes (an announced or found larger one is refused).
async fn read_capped(
    mut response: reqwest::Response,
    call: &'static str,
    limit: usize,
) -> Result<Vec<u8>, Result<ApiError, reqwest::Error>> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(Ok(ApiError::TooLarge { call, limit }));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Err)? {
        if bytes.len() + chunk.len() > limit {
            return Err(Ok(ApiError::TooLarge { call, limit }));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

impl ApiError {
    /// The HTTP status Gemini answered, when it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Where the API is and how to authenticate.
#[derive(Clone)]
pub struct GeminiClient {
    http: reqwest::Client,
    base: String,
    version: String,
    api_key: String,
    /// Each download's limit (a call's is the client's).
    download_timeout: Duration,
}

impl std::fmt::Debug for GeminiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiClient").field("base", &self.base).field("version", &self.version).finish()
    }
}

/// The two error shapes: classic Google (`{"error": {"code": 404, "message", "status": "NOT_FOUND"}}`)
/// and the newer one (`{"error": {"code": "not_found", "message"}}`).
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: Option<String>,
}

impl GeminiClient {
    /// A client for `base` (`https://generativelanguage.googleapis.com`, or a local simulator) and API
    /// `version`, authenticating with `api_key` (sent in `x-goog-api-key`, never logged).
    pub fn new(base: &str, version: &str, api_key: &str) -> Result<Self, ApiError> {
        check_base(base)?;
        Ok(Self {
            http: Self::http(base, Duration::from_secs(30))?,
            base: base.trim_end_matches('/').to_owned(),
            version: version.trim_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            download_timeout: Duration::from_secs(300),
        })
    }

    /// The same client with each call limited to `call` and each download to `download`.
    pub fn with_timeouts(mut self, call: Duration, download: Duration) -> Result<Self, ApiError> {
        self.http = Self::http(&self.base, call)?;
        self.download_timeout = download;
        Ok(self)
    }

    /// The HTTP client under every call, each limited to `timeout`.
    fn http(base: &str, timeout: Duration) -> Result<reqwest::Client, ApiError> {
        // No redirects: one would carry the key in its header to wherever Gemini's answer points.
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("gemini-webhooks-aws/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ApiError::Transport { base: base.to_owned(), source })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base, self.version)
    }

    /// A transport failure, without the URL (it may carry a key as `?key=`).
    fn transport(&self, source: reqwest::Error) -> ApiError {
        ApiError::Transport { base: self.base.clone(), source: source.without_url() }
    }

    /// The [`ApiError`] a non-2xx `response` stands for, in either of Google's error shapes.
    async fn error_of(response: reqwest::Response) -> ApiError {
        let status = response.status();
        let bytes = read_capped(response, "an error", MAX_ERROR_BYTES).await.unwrap_or_default();
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(ErrorBody { error }) => ApiError::Api {
                status: status.as_u16(),
                code: error.status.unwrap_or_else(|| match error.code {
                    serde_json::Value::String(code) => code,
                    other => other.to_string(),
                }),
                message: error.message,
            },
            Err(_) => ApiError::Api {
                status: status.as_u16(),
                code: status.canonical_reason().unwrap_or("error").to_owned(),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            },
        }
    }

    /// Sends `request` with the API key; any answer but a 2xx is an [`ApiError`].
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        self.send_bare(request.header("x-goog-api-key", &self.api_key)).await
    }

    /// Sends `request` as it is: without the key, for a URL that is its own credential (an upload
    /// session's).
    async fn send_bare(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        if response.status().is_success() { Ok(response) } else { Err(Self::error_of(response).await) }
    }

    /// Decodes a 2xx answer to `call` as `T`, read whole up to [`MAX_ANSWER_BYTES`].
    async fn decode<T: DeserializeOwned>(
        &self,
        call: &'static str,
        response: reqwest::Response,
    ) -> Result<T, ApiError> {
        let bytes = read_capped(response, call, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| e.unwrap_or_else(|e| self.transport(e)))?;
        let bytes = if bytes.is_empty() { &b"{}"[..] } else { &bytes[..] };
        serde_json::from_slice(bytes).map_err(|e| ApiError::Unexpected { call, detail: e.to_string() })
    }

    /// Sends `request` and decodes a 2xx answer as `T`; any other answer is an [`ApiError`].
    async fn call<T: DeserializeOwned>(
        &self,
        call: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let response = self.send(request).await?;
        self.decode(call, response).await
    }
}
