//! Google's JWKS as a [`Refreshing`] value: fetched over HTTPS on first use, kept fresh by the refresh
//! engine (TTL from `Cache-Control: max-age`, rate-limited refetch on a miss, at most 24 h stale).

use std::sync::Arc;
use std::time::Duration;

use super::fetch::fetch_jwks;
use super::jwks::{JwksError, KeySet};
use crate::clock::Clock;
use crate::refresh::{Fetched, Fetching, RefreshPolicy, Refreshing, Source};

/// The key set for `v1a` and JWT signatures, kept fresh.
pub type JwksCache = Refreshing<KeySet>;

/// Time limit on one fetch, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest JWKS document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// A JWKS URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksUrlError {
    /// Not a URL.
    #[error("JWKS URL is not a valid URL")]
    Invalid,
    /// Plain HTTP to a host other than loopback: keys must not travel where they can be swapped.
    #[error("JWKS URL must use https (plain http is allowed only for loopback hosts)")]
    NotHttps,
}

/// A JWKS document at a URL.
struct JwksSource {
    url: reqwest::Url,
    /// Built by the first fetch, not at start-up: building it loads and parses the system's root
    /// certificates (milliseconds of a cold start, on top of the AWS SDK's own load), which a receiver
    /// that only ever sees `v1` deliveries never needs.
    client: tokio::sync::OnceCell<reqwest::Client>,
}

impl Source<KeySet> for JwksSource {
    fn fetch(&self) -> Fetching<'_, KeySet> {
        Box::pin(async move {
            let client = self.client.get_or_try_init(|| async { http_client() }).await?;
            let fetched = fetch_jwks(client, &self.url, MAX_DOCUMENT_BYTES).await?;
            tracing::info!(keys = fetched.keys.len(), "JWKS fetched");
            Ok(Fetched { value: fetched.keys, max_age_secs: fetched.max_age_secs })
        })
    }

    fn describe(&self) -> String {
        self.url.to_string()
    }
}

/// The client for fetches: bounded in time, never following a redirect. A failure (no usable root
/// certificates) is a failed fetch, tried again at the next.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client could not be built: {e}"))
}

impl Refreshing<KeySet> {
    /// A fixed key set from inline configuration (a JWKS document or `whpk_` keys, as
    /// [`KeySet::from_inline`] reads): no network, ever.
    pub fn inline(text: &[u8], clock: Arc<dyn Clock>) -> Result<Self, JwksError> {
        Ok(Self::fixed(SIGNING_KEYS, KeySet::from_inline(text)?, clock))
    }

    /// A key set fetched from `url` on first use. Only `https`, or `http` to a loopback host (tests and
    /// the local demo), is accepted.
    pub fn remote(url: &str, clock: Arc<dyn Clock>, policy: RefreshPolicy) -> Result<Self, JwksUrlError> {
        let url = reqwest::Url::parse(url).map_err(|_| JwksUrlError::Invalid)?;
        let loopback = match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(JwksUrlError::Invalid),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(JwksUrlError::NotHttps),
        }
        let source = JwksSource { url, client: tokio::sync::OnceCell::new() };
        Ok(Self::from_source(SIGNING_KEYS, source, clock, policy))
    }
}

/// What the engine calls this value in errors and logs.
/// What the refresh engine calls the signing keys in errors, logs and its `RefreshFailed` metric.
pub const SIGNING_KEYS: &str = "signing keys";
