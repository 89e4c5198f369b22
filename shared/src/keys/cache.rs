//! A JWKS cache: fetched on first use, refreshed after its TTL, refetched early (rate-limited) when a
//! signature names a key we do not have, and serving the last good set while the source is down.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::KeysUnavailable;
use super::fetch::fetch_jwks;
use super::jwks::{JwksError, KeySet};
use crate::clock::Clock;

/// How the cache paces its fetches. The defaults suit Lambda: one fetch per hour per warm container
/// in steady state, at most one extra per minute on key rotation.
#[derive(Debug, Clone)]
pub struct CachePolicy {
    /// TTL when the response has no Cache-Control max-age.
    pub default_ttl_secs: u64,
    /// Bounds applied to a server's max-age, so `max-age=0` cannot cause a fetch per request.
    pub min_ttl_secs: u64,
    /// Upper bound on a server's max-age.
    pub max_ttl_secs: u64,
    /// Least time between early refetches caused by an unknown kid or a signature no key verifies.
    pub miss_refetch_interval_secs: u64,
    /// Least time between attempts after a failed fetch.
    pub retry_after_failure_secs: u64,
    /// Time limit on one fetch, connection included.
    pub fetch_timeout: Duration,
    /// Largest document accepted.
    pub max_document_bytes: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            default_ttl_secs: 3600,
            min_ttl_secs: 60,
            max_ttl_secs: 24 * 3600,
            miss_refetch_interval_secs: 60,
            retry_after_failure_secs: 10,
            fetch_timeout: Duration::from_secs(2),
            max_document_bytes: 64 * 1024,
        }
    }
}

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

enum Origin {
    /// Keys given at start-up; never fetched.
    Inline,
    Remote {
        url: reqwest::Url,
        /// Built by the first fetch, not at start-up: building it loads and parses the system's root
        /// certificates (milliseconds of a cold start, on top of the AWS SDK's own load), which a
        /// receiver that only ever sees `v1` deliveries never needs.
        client: tokio::sync::OnceCell<reqwest::Client>,
    },
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    fresh_until: i64,
    last_attempt: Option<i64>,
    last_attempt_failed: bool,
    last_error: String,
}

/// Why a fetch is being considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// No keys yet, or the TTL ran out.
    Stale,
    /// A signature named an unknown kid, or no key verified it.
    Miss,
}

/// A cached key set. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct JwksCache {
    origin: Origin,
    clock: Arc<dyn Clock>,
    policy: CachePolicy,
    state: RwLock<State>,
    /// Held while fetching, so concurrent requests wait for one fetch instead of each starting one.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = match &self.origin {
            Origin::Inline => "inline".to_owned(),
            Origin::Remote { url, .. } => url.to_string(),
        };
        f.debug_struct("JwksCache").field("origin", &origin).finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A fixed key set from an inline JWKS document: no network, ever.
    pub fn inline(document: &[u8], clock: Arc<dyn Clock>) -> Result<Self, JwksError> {
        let keys = KeySet::from_jwks(document)?;
        let state = State { keys: Some(Arc::new(keys)), fresh_until: i64::MAX, ..State::default() };
        Ok(Self::new(Origin::Inline, clock, CachePolicy::default(), state))
    }

    /// A key set fetched from `url` on first use, its HTTPS client built then too. Only `https`, or
    /// `http` to a loopback host (tests and the local demo), is accepted.
    pub fn remote(url: &str, clock: Arc<dyn Clock>, policy: CachePolicy) -> Result<Self, JwksUrlError> {
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
        let origin = Origin::Remote { url, client: tokio::sync::OnceCell::new() };
        Ok(Self::new(origin, clock, policy, State::default()))
    }

    fn new(origin: Origin, clock: Arc<dyn Clock>, policy: CachePolicy, state: State) -> Self {
        Self { origin, clock, policy, state: RwLock::new(state), fetching: tokio::sync::Mutex::new(()) }
    }

    /// The current key set, fetching it when there is none yet or its TTL has run out. When a refresh
    /// fails the previous set is served; only when there has never been one is the answer
    /// [`KeysUnavailable`].
    pub async fn keys(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        if let Some(keys) = self.fresh(self.clock.unix_now()) {
            return Ok(keys);
        }
        self.refresh(Trigger::Stale).await
    }

    /// Called when a signature named a kid not in the set, or no key verified it: the keys may have
    /// rotated. Refetches at most once per `miss_refetch_interval_secs`; returns the set to retry with
    /// when a refetch happened and succeeded, `None` when nothing new can be had now.
    pub async fn refresh_after_miss(&self) -> Option<Arc<KeySet>> {
        if matches!(self.origin, Origin::Inline) {
            return None;
        }
        let before = self.snapshot();
        let after = self.refresh(Trigger::Miss).await.ok()?;
        match before {
            Some(before) if Arc::ptr_eq(&before, &after) => None,
            _ => Some(after),
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.read(|s| s.keys.clone())
    }

    fn fresh(&self, now: i64) -> Option<Arc<KeySet>> {
        self.read(|s| s.keys.clone().filter(|_| now < s.fresh_until))
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; the state is still consistent
        // enough to serve (every write below is a whole-field assignment).
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    async fn refresh(&self, trigger: Trigger) -> Result<Arc<KeySet>, KeysUnavailable> {
        let Origin::Remote { url, client } = &self.origin else {
            return self.snapshot().ok_or_else(|| KeysUnavailable { reason: "no inline keys".into() });
        };
        let _fetching = self.fetching.lock().await;
        let now = self.clock.unix_now();
        if let Some(served) = self.without_fetch(trigger, now) {
            return served;
        }
        self.write(|s| s.last_attempt = Some(now));
        let fetched = match client.get_or_try_init(|| async { self.http_client() }).await {
            Ok(client) => fetch_jwks(client, url, self.policy.max_document_bytes).await,
            Err(error) => Err(error),
        };
        match fetched {
            Ok(fetched) => {
                let ttl = fetched
                    .max_age_secs
                    .unwrap_or(self.policy.default_ttl_secs)
                    .clamp(self.policy.min_ttl_secs, self.policy.max_ttl_secs);
                let keys = Arc::new(fetched.keys);
                tracing::info!(keys = keys.len(), ttl_secs = ttl, "JWKS fetched");
                self.write(|s| {
                    s.keys = Some(keys.clone());
                    s.fresh_until = now.saturating_add_unsigned(ttl);
                    s.last_attempt_failed = false;
                });
                Ok(keys)
            }
            Err(reason) => {
                let stale = self.write(|s| {
                    s.last_attempt_failed = true;
                    s.last_error.clone_from(&reason);
                    s.keys.clone()
                });
                tracing::warn!(error = %reason, serving_stale = stale.is_some(), "JWKS fetch failed");
                stale.ok_or(KeysUnavailable { reason })
            }
        }
    }

    /// The client for fetches: bounded in time, never following a redirect. A failure (no usable
    /// root certificates) is a failed fetch, tried again at the next.
    fn http_client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(self.policy.fetch_timeout)
            .connect_timeout(self.policy.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client could not be built: {e}"))
    }

    /// What to answer without fetching, when the pacing rules say not to fetch now.
    fn without_fetch(&self, trigger: Trigger, now: i64) -> Option<Result<Arc<KeySet>, KeysUnavailable>> {
        self.read(|s| {
            let since_attempt = s.last_attempt.map(|at| now.saturating_sub(at));
            let paced = match trigger {
                // Another task fetched while this one waited for the lock.
                Trigger::Stale if s.keys.is_some() && now < s.fresh_until => true,
                Trigger::Stale => {
                    s.last_attempt_failed
                        && since_attempt.is_some_and(|d| d < self.policy.retry_after_failure_secs as i64)
                }
                Trigger::Miss => {
                    since_attempt.is_some_and(|d| d < self.policy.miss_refetch_interval_secs as i64)
                }
            };
            paced.then(|| s.keys.clone().ok_or_else(|| KeysUnavailable { reason: s.last_error.clone() }))
        })
    }
}
