//! A local Gemini that sends real webhooks.
//!
//! [`Simulator::start`] serves, on a free loopback port, the WebhookService as Google's API reference
//! documents it (`/v1beta/webhooks` and the same under `/v1/`, which SDK 3.x calls): create (the only
//! answer holding `new_signing_secret`), list with `page_size`/`page_token`, get, update with
//! `update_mask`, delete, `:ping` and `:rotateSigningSecret` with `revocation_behavior`; an API key in
//! `x-goog-api-key` (or `?key=`), refused as Google refuses it. Errors have Google's shape,
//! `{"error": {"code", "message", "status"}}`.
//!
//! And it delivers as Gemini does: a ping, or an event ([`Simulator::emit`], or `POST /_sim/events`,
//! the one path that is the simulator's own), goes to every enabled webhook subscribed to it, signed
//! `v1` with every secret not yet expired (two entries during a rotation), with the Standard Webhooks
//! headers and the same `webhook-id` on every attempt. A non-2xx answer or a timeout is retried with
//! exponential backoff ([`Settings`], compressed for tests), and a webhook whose deliveries keep failing
//! is set `disabled_due_to_failed_deliveries`. Dynamic deliveries ([`Simulator::emit_to`]) are signed
//! `v1a` with the simulator's own Ed25519 key, published at `/.well-known/jwks.json`.
//!
//! Its clock can be moved forward ([`Simulator::advance`]) so a rotation's 24-hour overlap ends in a test.

mod api;
mod deliver;
pub mod files;
pub mod jobs;
pub mod store;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use shared::clock::{Clock, SystemClock};
use shared::keys::jwks_document;
use shared::signature::sign::Ed25519Signer;
use tokio::net::TcpListener;

pub use deliver::Attempt;
use files::Files;
use jobs::Job;
pub use jobs::Outcome;
use store::Webhook;

/// The version in the URLs the simulator writes (files, uploads, videos): the SDKs' default. It
/// answers under `/v1/` and `/v1beta/` alike.
pub const API_VERSION: &str = shared::gemini::DEFAULT_API_VERSION;

/// How deliveries are retried, and when a webhook is given up on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The wait before the first retry; each later one doubles it.
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Failed attempts in a row after which a webhook is disabled.
    pub disable_after: u32,
    /// How long a delivery may take before it counts as failed.
    pub timeout: Duration,
    /// Jobs succeed on their own this long after they start; `None`: only when told
    /// ([`Simulator::finish`]).
    pub finish_jobs_after: Option<Duration>,
    /// The size of a generated video.
    pub video_bytes: usize,
    /// What a ping carries (Gemini does not document it).
    pub ping_body: PingBody,
}

/// The body of a ping. Google documents none, so both kinds a receiver could meet are offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PingBody {
    /// An event envelope of type `webhook.ping`, `data.id` the webhook's id.
    #[default]
    Event,
    /// These bytes as they are: text that is not JSON, say.
    Raw(Vec<u8>),
}

impl Default for Settings {
    /// Gemini's behaviour, time-compressed: seconds instead of hours.
    fn default() -> Self {
        Self {
            first_retry: Duration::from_millis(500),
            max_retry: Duration::from_secs(30),
            max_attempts: 12,
            disable_after: 20,
            timeout: Duration::from_secs(10),
            finish_jobs_after: Some(Duration::from_secs(2)),
            video_bytes: 1 << 20,
            ping_body: PingBody::Event,
        }
    }
}

/// The shared state behind the server and the delivery tasks.
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) settings: Settings,
    pub(crate) webhooks: Mutex<BTreeMap<String, Webhook>>,
    pub(crate) jobs: Mutex<BTreeMap<String, Job>>,
    pub(crate) files: Mutex<Files>,
    /// Delivery attempts still to treat as unanswered (sent, but their answer lost).
    pub(crate) answers_to_lose: AtomicU32,
    /// The base URL, for URIs in answers.
    pub(crate) base_url: String,
    pub(crate) attempts: Mutex<Vec<Attempt>>,
    /// The `webhook-id` of every delivery begun, as it begins.
    pub(crate) emitted: Mutex<Vec<String>>,
    pub(crate) key: Ed25519Signer,
    pub(crate) http: reqwest::Client,
    /// Called after each create, before its answer: lets a test break something in between.
    pub(crate) on_create: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// Called with a webhook's id and new state after each update that sets its state.
    pub(crate) on_state: Mutex<Option<StateHook>>,
    /// Jobs whose end is not delivered, by stored name: the end, once it came.
    pub(crate) withheld: Mutex<BTreeMap<String, Option<jobs::HeldEnd>>>,
    /// Seconds added to the system clock.
    offset_secs: AtomicI64,
}

impl Shared {
    /// The simulator's time, Unix seconds: what secrets expire by, moved by [`Simulator::advance`].
    pub(crate) fn now(&self) -> i64 {
        Self::wall() + self.offset_secs.load(Ordering::Relaxed)
    }

    /// The real time, Unix seconds: what deliveries are stamped with (a receiver checks it against its
    /// own clock).
    pub(crate) fn wall() -> i64 {
        SystemClock.unix_now()
    }

    /// The webhooks, locked (a poisoned lock still holds consistent data: every change is one insert).
    pub(crate) fn webhooks(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Webhook>> {
        self.webhooks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The jobs, locked.
    pub(crate) fn jobs(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The jobs whose ends are withheld, locked.
    pub(crate) fn withheld(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<jobs::HeldEnd>>> {
        self.withheld.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The files, locked.
    pub(crate) fn files(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The JWKS of the simulator's key.
    pub(crate) fn jwks(&self) -> Value {
        jwks_document([self.key.public_jwk(Some("gemini-sim-1"))])
    }
}

/// What [`Simulator::on_state`] calls.
pub(crate) type StateHook = Box<dyn Fn(&str, &str) + Send + Sync>;

/// A running simulator; stops when dropped.
pub struct Simulator {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The simulator could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl Simulator {
    /// Starts on a free loopback port, accepting `api_key`.
    pub async fn start(api_key: &str, settings: Settings) -> Result<Self, StartError> {
        Self::start_on("127.0.0.1:0", api_key, settings).await
    }

    /// Starts on `address`.
    pub async fn start_on(address: &str, api_key: &str, settings: Settings) -> Result<Self, StartError> {
        let listener =
            TcpListener::bind(address).await.map_err(|e| StartError(format!("binding {address}: {e}")))?;
        let local = listener.local_addr().map_err(|e| StartError(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent("Gemini-Webhooks-Simulator")
            .build()
            .map_err(|e| StartError(e.to_string()))?;
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            settings,
            webhooks: Mutex::new(BTreeMap::new()),
            jobs: Mutex::new(BTreeMap::new()),
            files: Mutex::new(Files::default()),
            answers_to_lose: AtomicU32::new(0),
            base_url: format!("http://{local}"),
            attempts: Mutex::new(Vec::new()),
            emitted: Mutex::new(Vec::new()),
            key: Ed25519Signer::generate(),
            http,
            on_create: Mutex::new(None),
            on_state: Mutex::new(None),
            withheld: Mutex::new(BTreeMap::new()),
            offset_secs: AtomicI64::new(0),
        });
        let server = tokio::spawn(api::serve(listener, shared.clone()));
        Ok(Self { shared, server })
    }

    /// The base URL (`http://127.0.0.1:PORT`): give it to a client as Google's
    /// `https://generativelanguage.googleapis.com`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The API key it accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// The JWKS URL of its key, for a receiver's `JWKS_URL`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.shared.base_url)
    }

    /// The JWKS of its key (what `/.well-known/jwks.json` serves).
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// Moves its clock forward, e.g. past a rotation's 24-hour overlap (deliveries stay stamped with
    /// the real time).
    pub fn advance(&self, secs: i64) {
        self.shared.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }

    /// Waits (polling, up to `within`) until a delivery of `webhook_id` has been answered 200; whether
    /// one was.
    pub async fn answered(&self, webhook_id: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.attempts().iter().any(|a| a.webhook_id == webhook_id && a.status == Some(200)) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Calls `hook` after each webhook is created, before the answer goes out (a test's way to make
    /// what follows a create fail).
    pub fn on_create(&self, hook: impl Fn() + Send + Sync + 'static) {
        *self.shared.on_create.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Box::new(hook));
    }

    /// Calls `hook` with a webhook's id and its new state (`enabled`, `disabled`) after each update that
    /// sets it, before the answer goes out: how a test sees the order a client turns webhooks on and off,
    /// or moves another clock when one is turned on.
    pub fn on_state(&self, hook: impl Fn(&str, &str) + Send + Sync + 'static) {
        *self.shared.on_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Box::new(hook));
    }

    /// Every delivery attempt so far, in order.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The `webhook-id` of every delivery begun so far (each event, to each target), in order: known as
    /// soon as the call that caused it answers, unlike its attempts.
    pub fn emitted(&self) -> Vec<String> {
        self.shared.emitted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The ids of every webhook, oldest first.
    pub fn webhook_ids(&self) -> Vec<String> {
        let webhooks = self.shared.webhooks();
        let mut all: Vec<&Webhook> = webhooks.values().collect();
        all.sort_by_key(|w| w.created_at);
        all.iter().map(|w| w.id.clone()).collect()
    }

    /// A webhook's resource, as `GET` answers it.
    pub fn webhook(&self, id: &str) -> Option<Value> {
        let now = self.shared.now();
        self.shared.webhooks().get(id).map(|w| w.to_json(now))
    }

    /// The full secrets a webhook signs with now (what a test compares against; never shown by the API).
    pub fn live_secrets(&self, id: &str) -> Vec<String> {
        let now = self.shared.now();
        let webhooks = self.shared.webhooks();
        webhooks
            .get(id)
            .map(|w| w.live_secrets(now).iter().map(|s| s.expose_whsec()).collect())
            .unwrap_or_default()
    }

    /// Ends the job `name` (`batches/...`, an interaction's id, `models/.../operations/...`) with
    /// `outcome`, delivering its event. Returns the deliveries' `webhook-id`s (none when there is no
    /// such job, or it already ended).
    pub fn finish(&self, name: &str, outcome: Outcome) -> Vec<String> {
        jobs::finish(&self.shared, name, outcome).unwrap_or_default()
    }

    /// Loses job `name`'s end: when it ends, nothing is delivered (a webhook that never came), until
    /// [`Simulator::deliver_withheld`] delivers it late.
    pub fn withhold_end(&self, name: &str) {
        let name = jobs::stored_name(&self.shared, name);
        self.shared.withheld().insert(name, None);
    }

    /// Delivers job `name`'s withheld end now, late, as Gemini would after a long outage. Returns the
    /// deliveries' `webhook-id`s: none when the job has not ended, or its end was not withheld.
    pub fn deliver_withheld(&self, name: &str) -> Vec<String> {
        let name = jobs::stored_name(&self.shared, name);
        let held = self.shared.withheld().remove(&name).flatten();
        held.map(|end| jobs::deliver_end(&self.shared, end)).unwrap_or_default()
    }

    /// The names of every job started, oldest first.
    pub fn jobs(&self) -> Vec<String> {
        let jobs = self.shared.jobs();
        let mut all: Vec<&Job> = jobs.values().collect();
        all.sort_by_key(|j| j.created_at);
        all.iter().map(|j| j.name.clone()).collect()
    }

    /// A job's `webhook_config`, as the simulator read it from the request.
    pub fn job_webhook(&self, name: &str) -> Option<Value> {
        self.shared.jobs().get(name).and_then(|j| j.webhook.clone())
    }

    /// The bytes of a stored file (`files/...`).
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        self.shared.files().files.get(name).map(|f| f.bytes.clone())
    }

    /// Cuts off each of the next downloads after `after_bytes` bytes, as a dropped connection would.
    pub fn interrupt_downloads(&self, count: usize, after_bytes: usize) {
        self.shared.files().interruptions.extend(std::iter::repeat_n(after_bytes, count));
    }

    /// Treats the answers to the next `count` delivery attempts as lost (a timeout on Gemini's side):
    /// the receiver got them, and they are retried with the same `webhook-id`.
    pub fn lose_next_answers(&self, count: u32) {
        self.shared.answers_to_lose.fetch_add(count, Ordering::Relaxed);
    }

    /// An event happening: delivered to every enabled webhook subscribed to its type, as Gemini does
    /// for static webhooks. Returns the `webhook-id`s given to the deliveries.
    pub fn emit(&self, event_type: &str, data: Value, user_metadata: Option<Value>) -> Vec<String> {
        deliver::emit(&self.shared, event_type, data, user_metadata)
    }

    /// An event of a job started with `webhook_config.uris`: delivered to each URI, signed `v1a` with the
    /// simulator's key, as Gemini does for dynamic webhooks. Returns the `webhook-id`s.
    pub fn emit_to(
        &self,
        uris: &[String],
        event_type: &str,
        data: Value,
        user_metadata: Option<Value>,
    ) -> Vec<String> {
        deliver::emit_dynamic(&self.shared, uris, event_type, data, user_metadata)
    }
}
