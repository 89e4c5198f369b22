//! The jobs ledger's contracts: one entry per job someone asked to track, closed by the job's end
//! (its webhook, or a reconciliation when the webhook never came).
//!
//! - **Which events are a tracked job's:** a tracked job is started with [`MARKER_KEY`] in its
//!   `user_metadata`, which Gemini echoes in every event of the job. The recorder closes an entry only
//!   for a marked end, so an untracked job's events cost nothing more than before: no read, no write.
//! - **Which events end a job:** [`ends_job`]. `interaction.requires_action` does not: the job waits
//!   for you and goes on.
//! - **When a job is overdue:** [`Deadlines`], per kind: the first check at the deadline, then checks
//!   further and further apart ([`Deadlines::next_check`]) until the job is given up on and alarmed.
//! - **A reconciled end:** built as Gemini builds an end ([`ReconciledEnd::body`]), under an id derived
//!   from the job and how it ended ([`ReconciledEnd::webhook_id`]), so reconciling twice records once.
//!   An end no documented event announces (an interaction `incomplete`, a failed video) comes under a
//!   type of its own ([`INTERACTION_ENDED`], [`VIDEO_FAILED`]) that says which state.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::WebhookId;
use crate::event::EventKind;
pub use crate::job::{JobKind, JobName};

/// The `user_metadata` key that marks a tracked job's events.
pub const MARKER_KEY: &str = "gemini_webhooks_ledger";
/// Its value.
pub const MARKER_VALUE: &str = "tracked";

/// Marks `user_metadata` as a tracked job's: what to add when starting a job with any client.
pub fn mark(user_metadata: &mut Map<String, Value>) {
    user_metadata.insert(MARKER_KEY.to_owned(), Value::from(MARKER_VALUE));
}

/// Whether an event's `user_metadata` is a tracked job's.
pub fn is_marked(user_metadata: Option<&Map<String, Value>>) -> bool {
    user_metadata.and_then(|m| m.get(MARKER_KEY)).and_then(Value::as_str) == Some(MARKER_VALUE)
}

/// The jobs table's key for a job named `name` as an event's `data.id` or an API answer names it: the
/// name as it is, an interaction's bare id as `interactions/{id}`; `None` for a name in no documented
/// shape.
pub fn key(name: &str) -> Option<String> {
    let job = JobName::parse(name).ok()?;
    Some(match job.kind() {
        JobKind::Interaction => format!("interactions/{}", job.id()),
        _ => job.as_str().to_owned(),
    })
}

/// An interaction that ended in a state no documented event announces (`incomplete`,
/// `budget_exceeded`, a state Google adds later): `data.status` names it. Reconciled ends only.
pub const INTERACTION_ENDED: &str = "interaction.ended";
/// A video generation that failed (Gemini delivers no event for it): `data.error_code`,
/// `data.error_message`. Reconciled ends only.
pub const VIDEO_FAILED: &str = "video.failed";

/// Whether an event of `event_type` ends its job: every documented type but
/// `interaction.requires_action`, and the two types only reconciliation sends.
pub fn ends_job(event_type: &str) -> bool {
    match EventKind::of(event_type) {
        EventKind::InteractionRequiresAction => false,
        EventKind::Other => [INTERACTION_ENDED, VIDEO_FAILED].contains(&event_type),
        _ => true,
    }
}

/// When a job of one kind is checked, and given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From its start to its first check: when its end should have arrived by.
    pub first_check: Duration,
    /// From its start to when it is given up on (overdue, alarmed, no more checks).
    pub give_up: Duration,
}

impl Deadlines {
    /// These deadlines with what is given in place of each; the give-up time never before the first
    /// check.
    pub fn with(self, first_check: Option<Duration>, give_up: Option<Duration>) -> Self {
        let first_check = first_check.unwrap_or(self.first_check);
        Self { first_check, give_up: give_up.unwrap_or(self.give_up).max(first_check) }
    }

    /// Longest wait between two checks.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(6 * 3600);

    /// The defaults: a batch is Gemini's 24-hour target plus an hour, and expires (with an event) at 48
    /// hours; an interaction or a video usually ends within minutes.
    pub fn default_for(kind: JobKind) -> Self {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        match kind {
            JobKind::Batch => Self { first_check: hours(25), give_up: hours(50) },
            JobKind::Interaction => Self { first_check: hours(1), give_up: hours(24) },
            JobKind::Video => Self { first_check: Duration::from_secs(30 * 60), give_up: hours(24) },
        }
    }

    /// When to check again after `checks` checks found the job running at `now_ms`: the first interval
    /// doubled each time, at most [`Deadlines::MAX_INTERVAL`]; `None` once that would pass the give-up
    /// time of a job started at `started_at_ms` (it is then overdue).
    pub fn next_check(&self, started_at_ms: i64, checks: u32, now_ms: i64) -> Option<i64> {
        let first = self.first_check.min(Self::MAX_INTERVAL).max(Duration::from_secs(60));
        let interval = first.saturating_mul(1 << checks.min(16)).min(Self::MAX_INTERVAL);
        let next = now_ms.saturating_add(millis(interval));
        (next <= started_at_ms.saturating_add(millis(self.give_up))).then_some(next)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Started; no end yet.
    Open,
    /// Past its give-up time with no end: alarmed, no more checks (a late end still closes it).
    Overdue,
    /// Its end was recorded.
    Ended,
}

/// How an end reached the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Gemini's webhook.
    Webhook,
    /// A reconciliation: the job was read from the API after its webhook did not come.
    Reconciliation,
}

/// A job's end, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEnd {
    /// The event that ended it.
    pub webhook_id: WebhookId,
    /// Its type.
    pub event_type: String,
    /// How it came.
    pub via: Via,
    /// When the job ended, by the event's own `timestamp`, Unix milliseconds (when it says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    /// When the recorder recorded it, Unix milliseconds.
    pub recorded_at: i64,
    /// `recorded_at - ended_at`: how late the end reached the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<i64>,
}

/// One tracked job: the jobs table's item, keyed by `job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEntry {
    /// The job's name: `batches/...`, an interaction's id, `models/.../operations/...`.
    pub job: String,
    /// Its kind.
    pub kind: EntryKind,
    /// The `user_metadata` it was started with (the marker among it), as JSON: what a reconciled end
    /// carries.
    pub user_metadata: String,
    /// When it was tracked, Unix milliseconds.
    pub started_at: i64,
    /// When it is first checked, Unix milliseconds.
    pub deadline: i64,
    /// When it is given up on, Unix milliseconds.
    pub give_up_at: i64,
    /// Checks made so far.
    #[serde(default)]
    pub checks: u32,
    /// When it is checked next (a schedule waits for then), Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check_at: Option<i64>,
    /// The job's state as the last check read it (`BATCH_STATE_RUNNING`, `in_progress`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// Where it stands.
    pub state: EntryState,
    /// How it ended, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<JobEnd>,
    /// When DynamoDB's TTL may delete it, Unix seconds: well after its give-up time.
    pub expires_at: i64,
    /// The Step Functions task waiting on the job's end (`.waitForTaskToken`): its end completes the
    /// task, and the token never leaves AWS (it goes to no queue, and never to Google).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<TaskToken>,
}

/// A Step Functions task token: 1 to 2048 bytes, as `SendTaskSuccess` takes it. It completes the task
/// it was made for, so it is kept like a credential: `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskToken(String);

/// The longest task token Step Functions makes.
pub const MAX_TASK_TOKEN_BYTES: usize = 2048;

impl TaskToken {
    /// The token, checked for length and printable ASCII (what Step Functions makes).
    pub fn parse(token: &str) -> Result<Self, String> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TASK_TOKEN_BYTES {
            return Err(format!("a task token has 1 to {MAX_TASK_TOKEN_BYTES} bytes"));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a task token is printable ASCII".into());
        }
        Ok(Self(token.to_owned()))
    }

    /// The token itself, for `SendTaskSuccess` and `SendTaskFailure`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A name for the task that gives nothing of the token away (the first 128 bits of its SHA-256, in
    /// hex): what the starter claims, so a request delivered twice starts one job.
    pub fn digest(&self) -> String {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(self.0.as_bytes());
        format!("task-{}", hex::encode(&hash[..16]))
    }
}

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl TryFrom<String> for TaskToken {
    type Error = String;
    fn try_from(token: String) -> Result<Self, String> {
        Self::parse(&token)
    }
}

impl From<TaskToken> for String {
    fn from(token: TaskToken) -> Self {
        token.0
    }
}

/// The kind of a tracked job, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A batch.
    Batch,
    /// A background interaction.
    Interaction,
    /// A video generation.
    Video,
}

impl From<JobKind> for EntryKind {
    fn from(kind: JobKind) -> Self {
        match kind {
            JobKind::Batch => Self::Batch,
            JobKind::Interaction => Self::Interaction,
            JobKind::Video => Self::Video,
        }
    }
}

impl From<EntryKind> for JobKind {
    fn from(kind: EntryKind) -> Self {
        match kind {
            EntryKind::Batch => Self::Batch,
            EntryKind::Interaction => Self::Interaction,
            EntryKind::Video => Self::Video,
        }
    }
}

/// How long an entry is kept after its give-up time, for `jobs list` and `jobs show`.
pub const KEEP_AFTER_GIVE_UP: Duration = Duration::from_secs(30 * 24 * 3600);

impl JobEntry {
    /// The entry of `job`, tracked at `now_ms` with `user_metadata` (marked here) and `deadlines`.
    pub fn new(
        job: &JobName,
        mut user_metadata: Map<String, Value>,
        deadlines: Deadlines,
        now_ms: i64,
    ) -> Self {
        mark(&mut user_metadata);
        let kind = job.kind();
        let job = match kind {
            JobKind::Interaction => format!("interactions/{}", job.id()),
            _ => job.as_str().to_owned(),
        };
        let deadline = now_ms.saturating_add(millis(deadlines.first_check));
        let give_up_at = now_ms.saturating_add(millis(deadlines.give_up)).max(deadline);
        Self {
            job,
            kind: kind.into(),
            user_metadata: Value::Object(user_metadata).to_string(),
            started_at: now_ms,
            deadline,
            give_up_at,
            checks: 0,
            next_check_at: Some(deadline),
            last_status: None,
            state: EntryState::Open,
            end: None,
            expires_at: give_up_at.div_euclid(1000).saturating_add(KEEP_AFTER_GIVE_UP.as_secs() as i64),
            task_token: None,
        }
    }

    /// The entry with a Step Functions task waiting on the job's end.
    pub fn with_task_token(mut self, token: TaskToken) -> Self {
        self.task_token = Some(token);
        self
    }

    /// The `user_metadata` it was started with.
    pub fn metadata(&self) -> Map<String, Value> {
        serde_json::from_str(&self.user_metadata).unwrap_or_default()
    }

    /// Its deadlines, as it was tracked with.
    pub fn deadlines(&self) -> Deadlines {
        let span = |until: i64| Duration::from_millis(u64::try_from(until - self.started_at).unwrap_or(0));
        Deadlines { first_check: span(self.deadline), give_up: span(self.give_up_at) }
    }
}

/// A job's end read from the API: what reconciliation puts into the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconciledEnd {
    /// The job.
    pub job: String,
    /// The event type its end is delivered under.
    pub event_type: String,
    /// The state the API reported (`BATCH_STATE_SUCCEEDED`, `incomplete`, ...).
    pub status: String,
    /// The event's `data`, `id` excepted (output file, error).
    pub data: Map<String, Value>,
    /// When the job ended, RFC 3339 as the API wrote it (when it says).
    pub ended_at: Option<String>,
}

impl ReconciledEnd {
    /// The event's id: derived from the job and its end, so that every reconciliation of one end, from
    /// anywhere, is recorded once; `rec_` sets it apart from Gemini's `msg_` ids.
    pub fn webhook_id(&self) -> WebhookId {
        let digest = Sha256::digest(format!("{}\n{}", self.job, self.event_type));
        WebhookId::derived(format!("rec_{}", &hex::encode(digest)[..40]))
    }

    /// The body, in Gemini's envelope: `type`, `version`, `timestamp` (the job's end, or `now`, RFC
    /// 3339), `data` (`id`, `status`, and what the API said), and `user_metadata` (the tracked job's).
    pub fn body(&self, user_metadata: &Map<String, Value>, now: &str) -> Vec<u8> {
        let mut data = self.data.clone();
        let id = self.job.strip_prefix("interactions/").unwrap_or(&self.job);
        data.insert("id".into(), json!(id));
        data.insert("status".into(), json!(self.status));
        let mut body = json!({
            "type": self.event_type,
            "version": "v1",
            "timestamp": self.ended_at.as_deref().unwrap_or(now),
            "data": data,
        });
        if !user_metadata.is_empty() {
            body["user_metadata"] = Value::Object(user_metadata.clone());
        }
        body.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_job_is_told_from_an_unmarked_one() {
        let mut metadata = Map::new();
        assert!(!is_marked(Some(&metadata)) && !is_marked(None));
        mark(&mut metadata);
        assert!(is_marked(Some(&metadata)));
        metadata.insert(MARKER_KEY.into(), json!(true));
        assert!(!is_marked(Some(&metadata)), "only the marker's own value");
    }

    #[test]
    fn a_job_has_one_key_whether_named_by_an_event_or_the_api() {
        assert_eq!(key("v1_abc").as_deref(), Some("interactions/v1_abc"));
        assert_eq!(key("interactions/v1_abc").as_deref(), Some("interactions/v1_abc"));
        assert_eq!(key("batches/b1").as_deref(), Some("batches/b1"));
        assert_eq!(key("batches/../files"), None);
    }

    #[test]
    fn every_documented_end_ends_a_job_but_a_wait_for_action_does_not() {
        for (name, kind) in EventKind::CATALOG {
            assert_eq!(ends_job(name), kind != EventKind::InteractionRequiresAction, "{name}");
        }
        assert!(ends_job(INTERACTION_ENDED) && ends_job(VIDEO_FAILED));
        assert!(!ends_job("model.tuned"));
    }

    #[test]
    fn checks_back_off_and_stop_at_the_give_up_time() {
        let deadlines =
            Deadlines { first_check: Duration::from_secs(3600), give_up: Duration::from_secs(24 * 3600) };
        let hour = 3_600_000;
        let start = 1_000 * hour;
        let at_deadline = start + hour;
        assert_eq!(deadlines.next_check(start, 1, at_deadline), Some(at_deadline + 2 * hour));
        assert_eq!(deadlines.next_check(start, 2, at_deadline + 2 * hour), Some(at_deadline + 6 * hour));
        assert_eq!(
            deadlines.next_check(start, 5, start + 10 * hour),
            Some(start + 16 * hour),
            "capped at 6 h"
        );
        assert_eq!(deadlines.next_check(start, 6, start + 20 * hour), None, "past the give-up time");
    }

    #[test]
    fn one_end_has_one_id_wherever_it_is_reconciled() {
        let end = |event_type: &str| ReconciledEnd {
            job: "batches/b1".into(),
            event_type: event_type.into(),
            status: "BATCH_STATE_SUCCEEDED".into(),
            data: Map::new(),
            ended_at: None,
        };
        assert_eq!(end("batch.succeeded").webhook_id(), end("batch.succeeded").webhook_id());
        assert_ne!(end("batch.succeeded").webhook_id(), end("batch.failed").webhook_id());
        assert!(end("batch.succeeded").webhook_id().as_str().starts_with("rec_"));
    }

    #[test]
    fn a_reconciled_end_reads_as_gemini_s_envelope_with_the_tracked_metadata() {
        let mut metadata = Map::new();
        metadata.insert("team".into(), json!("ml"));
        mark(&mut metadata);
        let mut data = Map::new();
        data.insert("output_file_uri".into(), json!("files/batch-b1"));
        let end = ReconciledEnd {
            job: "interactions/v1_abc".into(),
            event_type: INTERACTION_ENDED.into(),
            status: "incomplete".into(),
            data,
            ended_at: Some("2026-01-22T12:00:00Z".into()),
        };
        let event = crate::Event::parse(&end.body(&metadata, "2026-12-03T00:00:00Z")).unwrap();
        assert_eq!(event.event_type(), INTERACTION_ENDED);
        assert_eq!(event.data_id(), Some("v1_abc"));
        assert_eq!(event.data().unwrap()["status"], "incomplete");
        assert_eq!(event.timestamp(), Some("2026-01-22T12:00:00Z"));
        assert!(is_marked(event.user_metadata()));
    }

    #[test]
    fn an_entry_is_marked_and_kept_past_its_give_up_time() {
        let entry = JobEntry::new(
            &JobName::parse("batches/b1").unwrap(),
            Map::new(),
            Deadlines::default_for(JobKind::Batch),
            1_769_083_200_000,
        );
        assert!(is_marked(Some(&entry.metadata())));
        assert_eq!(entry.deadlines(), Deadlines::default_for(JobKind::Batch));
        assert_eq!((entry.state, entry.next_check_at), (EntryState::Open, Some(entry.deadline)));
        assert!(entry.expires_at * 1000 > entry.give_up_at);
    }
}
