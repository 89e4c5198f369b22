//! One engine for everything verification fetches and caches: Google's JWKS and the signing secrets.
//!
//! A value is fetched on first use, served until its TTL runs out, refetched early (at most once per
//! interval) when a signature misses and the value may have rotated, and, while refreshes fail, the
//! last good copy keeps being served for at most [`RefreshPolicy::max_stale_secs`]. Past that it is
//! *unavailable* (the receiver answers 503 and Gemini retries), never trusted indefinitely: a key Google
//! revoked, or a secret you rotated out, stops verifying within that bound even while its source is down.
//!
//! Concurrent callers on a cold or expired value share one fetch. The engine decides *when* to fetch;
//! the [`Source`] only knows *how*.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::metrics::{self, Function, Metric};

/// A fetch in progress.
pub type Fetching<'a, V> = Pin<Box<dyn Future<Output = Result<Fetched<V>, String>> + Send + 'a>>;

/// Where a value comes from: one fetch, its error a short description for logs (never secret material).
pub trait Source<V>: Send + Sync {
    /// Fetches the current value.
    fn fetch(&self) -> Fetching<'_, V>;
    /// What this source is, for logs and `Debug` (a URL or an ARN, never a secret).
    fn describe(&self) -> String;
}

/// A fetched value, and how long its source said it may be cached.
#[derive(Debug)]
pub struct Fetched<V> {
    /// The value.
    pub value: V,
    /// `Cache-Control: max-age`, when the source has one.
    pub max_age_secs: Option<u64>,
}

/// How the engine paces its fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// TTL when the source gives none.
    pub default_ttl_secs: u64,
    /// Bounds on a source's max-age, so `max-age=0` cannot cause a fetch per request.
    pub min_ttl_secs: u64,
    /// Upper bound on a source's max-age.
    pub max_ttl_secs: u64,
    /// Least time between early refetches caused by a miss.
    pub miss_refetch_interval_secs: u64,
    /// Least time between attempts after a failed fetch.
    pub retry_after_failure_secs: u64,
    /// How long after its fetch the last good copy may still be served while refreshes fail.
    pub max_stale_secs: u64,
}

impl RefreshPolicy {
    /// Google's JWKS: one fetch per hour per warm container in steady state (or what its max-age says),
    /// at most one extra per minute on key rotation, never trusted more than 24 hours after a fetch.
    pub const JWKS: RefreshPolicy = RefreshPolicy {
        default_ttl_secs: 3600,
        min_ttl_secs: 60,
        max_ttl_secs: 24 * 3600,
        miss_refetch_interval_secs: 60,
        retry_after_failure_secs: 10,
        max_stale_secs: 24 * 3600,
    };

    /// The signing secrets: re-read every five minutes, and at once (at most once a minute) when a `v1`
    /// signature matches none of them, so a rotation needs no redeploy.
    pub const SECRETS: RefreshPolicy = RefreshPolicy {
        default_ttl_secs: 300,
        min_ttl_secs: 300,
        max_ttl_secs: 300,
        miss_refetch_interval_secs: 60,
        retry_after_failure_secs: 10,
        max_stale_secs: 24 * 3600,
    };
}

/// A value cannot be had now: never fetched, or its last good copy is too old to trust. Answer 503, so
/// Gemini retries; never 401: the delivery may well be genuine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} unavailable: {reason}")]
pub struct Unavailable {
    /// What was being fetched ("signing keys", "signing secrets").
    pub what: &'static str,
    /// What went wrong on the last attempt (no key material, no secret values).
    pub reason: String,
}

enum Origin<V> {
    /// Given at start-up; never fetched.
    Fixed,
    Source(Box<dyn Source<V>>),
}

struct State<V> {
    value: Option<Arc<V>>,
    fetched_at: i64,
    fresh_until: i64,
    last_attempt: Option<i64>,
    last_attempt_failed: bool,
    last_error: String,
}

/// Why a fetch is being considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// No value yet, or its TTL ran out.
    Stale,
    /// A signature missed: the value may have rotated.
    Miss,
}

/// A value kept fresh from its source. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Refreshing<V> {
    what: &'static str,
    origin: Origin<V>,
    clock: Arc<dyn Clock>,
    policy: RefreshPolicy,
    state: RwLock<State<V>>,
    /// Held while fetching, so concurrent callers wait for one fetch instead of each starting one.
    fetching: tokio::sync::Mutex<()>,
}

impl<V> fmt::Debug for Refreshing<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match &self.origin {
            Origin::Fixed => "fixed".to_owned(),
            Origin::Source(source) => source.describe(),
        };
        f.debug_struct("Refreshing")
            .field("what", &self.what)
            .field("origin", &origin)
            .finish_non_exhaustive()
    }
}

impl<V: PartialEq + Send + Sync> Refreshing<V> {
    /// A value given at start-up, never fetched.
    pub fn fixed(what: &'static str, value: V, clock: Arc<dyn Clock>) -> Self {
        let state = State {
            value: Some(Arc::new(value)),
            fetched_at: i64::MAX,
            fresh_until: i64::MAX,
            last_attempt: None,
            last_attempt_failed: false,
            last_error: String::new(),
        };
        Self::new(what, Origin::Fixed, clock, RefreshPolicy::JWKS, state)
    }

    /// A value fetched from `source` on first use.
    pub fn from_source(
        what: &'static str,
        source: impl Source<V> + 'static,
        clock: Arc<dyn Clock>,
        policy: RefreshPolicy,
    ) -> Self {
        let state = State {
            value: None,
            fetched_at: 0,
            fresh_until: i64::MIN,
            last_attempt: None,
            last_attempt_failed: false,
            last_error: "not fetched yet".into(),
        };
        Self::new(what, Origin::Source(Box::new(source)), clock, policy, state)
    }

    fn new(
        what: &'static str,
        origin: Origin<V>,
        clock: Arc<dyn Clock>,
        policy: RefreshPolicy,
        state: State<V>,
    ) -> Self {
        Self { what, origin, clock, policy, state: RwLock::new(state), fetching: tokio::sync::Mutex::new(()) }
    }

    /// The last value fetched (or the fixed one), however old, without fetching: for pure callers.
    pub fn cached(&self) -> Option<Arc<V>> {
        self.read(|s| s.value.clone())
    }

    /// Whether the value is fetched from a source (and so may change), rather than fixed.
    pub fn is_fetched(&self) -> bool {
        matches!(self.origin, Origin::Source(_))
    }

    /// The current value, fetching it when there is none yet or its TTL has run out. While a refresh
    /// fails, the last good copy is served until it is [`RefreshPolicy::max_stale_secs`] old.
    pub async fn current(&self) -> Result<Arc<V>, Unavailable> {
        let now = self.clock.unix_now();
        if let Some(value) = self.read(|s| s.value.clone().filter(|_| now < s.fresh_until)) {
            return Ok(value);
        }
        self.refresh(Trigger::Stale).await
    }

    /// Called when a signature missed with the current value: it may have rotated. Refetches at most
    /// once per [`RefreshPolicy::miss_refetch_interval_secs`]; returns the value to retry with only when
    /// a refetch happened and brought a different value, so a miss is retried only when the answer can
    /// change.
    pub async fn refresh_after_miss(&self) -> Option<Arc<V>> {
        if !self.is_fetched() {
            return None;
        }
        let before = self.read(|s| s.value.clone());
        let after = self.refresh(Trigger::Miss).await.ok()?;
        match before {
            Some(before) if *before == *after => None,
            _ => Some(after),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State<V>) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; every write below assigns whole
        // fields, so the state is still consistent.
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    fn write<T>(&self, f: impl FnOnce(&mut State<V>) -> T) -> T {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// The last good copy, if it may still be served at `now`.
    fn servable(&self, state: &State<V>, now: i64) -> Result<Arc<V>, Unavailable> {
        let unavailable = |reason: String| Unavailable { what: self.what, reason };
        match &state.value {
            None => Err(unavailable(state.last_error.clone())),
            Some(value) if now.saturating_sub(state.fetched_at) <= self.policy.max_stale_secs as i64 => {
                Ok(value.clone())
            }
            Some(_) => Err(unavailable(format!(
                "the last good copy is over {} s old and refreshing it fails: {}",
                self.policy.max_stale_secs, state.last_error
            ))),
        }
    }

    async fn refresh(&self, trigger: Trigger) -> Result<Arc<V>, Unavailable> {
        let Origin::Source(source) = &self.origin else {
            return self.read(|s| self.servable(s, self.clock.unix_now()));
        };
        let _fetching = self.fetching.lock().await;
        let now = self.clock.unix_now();
        if let Some(served) = self.without_fetch(trigger, now) {
            return served;
        }
        self.write(|s| s.last_attempt = Some(now));
        match source.fetch().await {
            Ok(fetched) => {
                let ttl = fetched
                    .max_age_secs
                    .unwrap_or(self.policy.default_ttl_secs)
                    .clamp(self.policy.min_ttl_secs, self.policy.max_ttl_secs);
                let value = Arc::new(fetched.value);
                tracing::debug!(what = self.what, ttl_secs = ttl, "fetched");
                self.write(|s| {
                    s.value = Some(value.clone());
                    s.fetched_at = now;
                    s.fresh_until = now.saturating_add_unsigned(ttl);
                    s.last_attempt_failed = false;
                });
                Ok(value)
            }
            Err(reason) => {
                tracing::warn!(what = self.what, error = %reason, "refresh failed");
                // Counted, so a bad value written to a secret (or a source down) is alarmed rather than
                // seen only as scattered 503s. Only the receiver refreshes anything.
                let what = self.what.replace(' ', "_");
                metrics::emit(
                    Function::Receiver,
                    Metric::RefreshFailed,
                    1,
                    &[("what", &what)],
                    self.clock.unix_now_ms(),
                );
                self.write(|s| {
                    s.last_attempt_failed = true;
                    s.last_error = reason;
                    self.servable(s, now)
                })
            }
        }
    }

    /// What to answer without fetching, when the pacing rules say not to fetch now.
    fn without_fetch(&self, trigger: Trigger, now: i64) -> Option<Result<Arc<V>, Unavailable>> {
        self.read(|s| {
            let since_attempt = s.last_attempt.map(|at| now.saturating_sub(at));
            let paced = match trigger {
                // Another caller fetched while this one waited for the lock.
                Trigger::Stale if s.value.is_some() && now < s.fresh_until => true,
                Trigger::Stale => {
                    s.last_attempt_failed
                        && since_attempt.is_some_and(|d| d < self.policy.retry_after_failure_secs as i64)
                }
                Trigger::Miss => {
                    since_attempt.is_some_and(|d| d < self.policy.miss_refetch_interval_secs as i64)
                }
            };
            paced.then(|| self.servable(s, now))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source whose next answers the test sets, counting fetches.
    struct Scripted {
        answer: Mutex<Result<u32, String>>,
        fetches: AtomicUsize,
    }

    impl Source<u32> for Arc<Scripted> {
        fn fetch(&self) -> Fetching<'_, u32> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.lock().unwrap().clone();
            Box::pin(async move { answer.map(|value| Fetched { value, max_age_secs: None }) })
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    fn engine(answer: Result<u32, String>) -> (Arc<Scripted>, Arc<ManualClock>, Refreshing<u32>) {
        let source = Arc::new(Scripted { answer: Mutex::new(answer), fetches: AtomicUsize::new(0) });
        let clock = Arc::new(ManualClock::at(1_000_000));
        let engine =
            Refreshing::from_source("test value", source.clone(), clock.clone(), RefreshPolicy::SECRETS);
        (source, clock, engine)
    }

    #[tokio::test]
    async fn the_last_good_copy_is_served_until_it_is_too_old_to_trust() {
        let (source, clock, engine) = engine(Ok(7));
        assert_eq!(*engine.current().await.unwrap(), 7);
        *source.answer.lock().unwrap() = Err("source down".into());

        clock.advance(301);
        assert_eq!(*engine.current().await.unwrap(), 7, "stale, but served");
        clock.advance(24 * 3600 - 301);
        assert_eq!(*engine.current().await.unwrap(), 7, "exactly 24 h after the fetch: still served");
        clock.advance(11);
        let error = engine.current().await.unwrap_err();
        assert_eq!(error.what, "test value");
        assert!(error.reason.contains("source down"), "{error}");

        *source.answer.lock().unwrap() = Ok(8);
        clock.advance(11);
        assert_eq!(*engine.current().await.unwrap(), 8, "recovered");
    }

    #[tokio::test]
    async fn a_miss_refetches_at_most_once_a_minute_and_retries_only_on_a_new_value() {
        let (source, clock, engine) = engine(Ok(1));
        engine.current().await.unwrap();
        assert_eq!(engine.refresh_after_miss().await, None, "refetched within the minute: no");
        assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
        clock.advance(60);
        assert_eq!(
            engine.refresh_after_miss().await,
            None,
            "refetched, but the same value: nothing to retry"
        );
        assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
        *source.answer.lock().unwrap() = Ok(2);
        clock.advance(60);
        assert_eq!(engine.refresh_after_miss().await.as_deref(), Some(&2));
    }

    #[tokio::test]
    async fn a_fixed_value_is_never_fetched_and_never_goes_stale() {
        let clock = Arc::new(ManualClock::at(0));
        let engine = Refreshing::fixed("fixed", 5u32, clock.clone());
        clock.advance(365 * 24 * 3600);
        assert_eq!(*engine.current().await.unwrap(), 5);
        assert_eq!(engine.refresh_after_miss().await, None);
    }
}
