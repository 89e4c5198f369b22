//! Reconciling a tracked job (feature `ledger`): when its check comes and its entry is still open, the
//! job is read from the Gemini API. Ended: its end goes into the ingest queue as Gemini would have
//! delivered it (see [`crate::ledger::ReconciledEnd`]), and the recorder records it and closes the
//! entry like any end, so a webhook that comes later is recorded and not routed. Still running: the
//! next check is scheduled, further off each time, until the job is given up on as overdue.
//!
//! The reconciler function runs this when a check's schedule fires; `gemini-webhooks jobs reconcile`
//! runs the same, at once.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::aws::jobs_ledger::{JobsLedger, LedgerError, Tracked};
use crate::aws::queue::{SendError, SqsQueue};
use crate::aws::schedules::{ScheduleError, Schedules};
use crate::clock::Clock;
use crate::event::{Event, EventError};
use crate::gemini::{ApiError, GeminiClient, Operation, file_name};
use crate::job::{JobKind, JobName};
use crate::ledger::{EntryState, INTERACTION_ENDED, JobEntry, ReconciledEnd, VIDEO_FAILED};
use crate::message::IngestMessage;
use crate::signature::{Scheme, Verified};
use crate::trace::TraceHeader;
use crate::{WebhookId, WebhookTimestamp};

/// What the API says of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Not ended: its status (`BATCH_STATE_RUNNING`, `in_progress`, `requires_action`, `running`).
    Running(String),
    /// Ended.
    Ended(ReconciledEnd),
}

/// Reads `job` from the API.
pub async fn read(gemini: &GeminiClient, job: &JobName) -> Result<Reading, ApiError> {
    Ok(match job.kind() {
        JobKind::Batch => read_batch(&gemini.get_operation(job.as_str()).await?),
        JobKind::Interaction => read_interaction(job.as_str(), &gemini.get_interaction(job.as_str()).await?),
        JobKind::Video => read_video(&gemini.get_operation(job.as_str()).await?),
    })
}

fn error_data(error: Option<&Value>) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(error) = error {
        data.insert("error_code".into(), error["code"].clone());
        data.insert("error_message".into(), error["message"].clone());
    }
    data
}

/// A batch's operation: its state says how it ended (`BATCH_STATE_*`, or the SDK's `JOB_STATE_*`).
pub fn read_batch(operation: &Operation) -> Reading {
    let state = operation.batch_state().unwrap_or("BATCH_STATE_UNSPECIFIED").to_owned();
    if !operation.done {
        return Reading::Running(state);
    }
    let outcome = state.rsplit('_').next().unwrap_or_default();
    let (event_type, mut data) = match outcome {
        "SUCCEEDED" => ("batch.succeeded", Map::new()),
        "CANCELLED" => ("batch.cancelled", Map::new()),
        "EXPIRED" => ("batch.expired", Map::new()),
        _ => ("batch.failed", error_data(operation.error.as_ref())),
    };
    if let Some(file) = operation.responses_file() {
        data.insert("output_file_uri".into(), json!(file));
    }
    let metadata = &operation.metadata;
    let ended_at =
        metadata["endTime"].as_str().or_else(|| metadata["updateTime"].as_str()).map(str::to_owned);
    Reading::Ended(ReconciledEnd {
        job: operation.name.clone(),
        event_type: event_type.into(),
        status: state,
        data,
        ended_at,
    })
}

/// An interaction: `completed`, `failed` and `cancelled` have events; `queued`, `in_progress` and
/// `requires_action` (waiting for you) have not ended; any other state (`incomplete`,
/// `budget_exceeded`, one Google adds) ended without an event: [`INTERACTION_ENDED`].
pub fn read_interaction(job: &str, interaction: &Value) -> Reading {
    let status = interaction["status"].as_str().unwrap_or("unknown").to_owned();
    let event_type = match status.as_str() {
        "queued" | "in_progress" | "requires_action" => return Reading::Running(status),
        "completed" => "interaction.completed",
        "cancelled" => "interaction.cancelled",
        "failed" => "interaction.failed",
        _ => INTERACTION_ENDED,
    };
    let data = match interaction["errors"].as_array().and_then(|errors| errors.first()) {
        Some(error) => error_data(Some(error)),
        None => Map::new(),
    };
    let name = if job.contains('/') { job.to_owned() } else { format!("interactions/{job}") };
    Reading::Ended(ReconciledEnd {
        job: name,
        event_type: event_type.into(),
        status,
        data,
        ended_at: interaction["updated"].as_str().map(str::to_owned),
    })
}

/// A video's operation: generated, or failed ([`VIDEO_FAILED`]: Gemini has no event for it).
pub fn read_video(operation: &Operation) -> Reading {
    if !operation.done {
        return Reading::Running("running".into());
    }
    let (event_type, status, mut data) = match &operation.error {
        Some(error) => (VIDEO_FAILED, "failed", error_data(Some(error))),
        None => ("video.generated", "succeeded", Map::new()),
    };
    let samples = &operation.response["generateVideoResponse"]["generatedSamples"];
    if let Some(file) = samples[0]["video"]["uri"].as_str().and_then(file_name) {
        data.insert("output_file_uri".into(), json!(file));
        data.insert("file_name".into(), json!(file));
    }
    Reading::Ended(ReconciledEnd {
        job: operation.name.clone(),
        event_type: event_type.into(),
        status: status.into(),
        data,
        ended_at: None,
    })
}

/// What one check did.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// The job is not in the ledger.
    NotTracked,
    /// Its end was recorded already: nothing to do.
    AlreadyEnded,
    /// It had ended: its end was put into the pipeline under this id.
    Reconciled {
        /// The reconciled end's `webhook-id`.
        webhook_id: WebhookId,
        /// Its type.
        event_type: String,
        /// The state the API reported.
        status: String,
    },
    /// Still running: checked again at `next_check_at` (Unix milliseconds).
    Running {
        /// The status read.
        status: String,
        /// When the next check is.
        next_check_at: i64,
    },
    /// Still running past its give-up time: overdue, alarmed, no more checks.
    Overdue {
        /// The status read.
        status: String,
    },
}

/// A check failed; the job stays as it was (the schedule's retries, or the next `jobs reconcile`, try
/// again).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The jobs table.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The Gemini API.
    #[error("reading the job from the Gemini API failed: {0}")]
    Gemini(#[from] ApiError),
    /// The entry names no job in a documented shape.
    #[error("the entry's job is not a Gemini job name: {0}")]
    NotAJob(String),
    /// The reconciled end could not be made (never seen: it is built here).
    #[error("the reconciled end is not an event: {0}")]
    Event(#[from] EventError),
    /// The ingest queue.
    #[error("putting the reconciled end into the ingest queue failed: {0}")]
    Enqueue(#[from] SendError),
    /// The next check.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// Tracks a job: its entry in the ledger and its first check scheduled for its deadline. Tracking a
/// job twice keeps the first entry and schedules nothing more.
pub async fn track(
    ledger: &JobsLedger,
    schedules: &Schedules,
    entry: &JobEntry,
) -> Result<Tracked, ReconcileError> {
    let tracked = ledger.track(entry).await?;
    if tracked == Tracked::New {
        schedules.check_at(&entry.job, 0, entry.deadline).await?;
    }
    Ok(tracked)
}

/// What a check needs.
#[derive(Debug)]
pub struct Reconciler {
    /// The jobs table.
    pub ledger: JobsLedger,
    /// The ingest queue.
    pub ingest: SqsQueue,
    /// Where the next checks are scheduled.
    pub schedules: Schedules,
    /// For the reconciled end's receipt time, and the next check.
    pub clock: Arc<dyn Clock>,
    /// The checking invocation's trace: a reconciled end's, as the receiver's is a delivery's.
    pub trace: Option<TraceHeader>,
}

impl Reconciler {
    /// Checks `job` against `gemini`.
    pub async fn check(&self, gemini: &GeminiClient, job: &str) -> Result<Checked, ReconcileError> {
        match self.ledger.get(job).await? {
            None => Ok(Checked::NotTracked),
            Some(entry) => self.check_entry(gemini, &entry).await,
        }
    }

    /// Checks the job of `entry` (as read from the ledger) against `gemini`: what a caller that read
    /// the entry first, to need no API key for a closed one, calls.
    pub async fn check_entry(
        &self,
        gemini: &GeminiClient,
        entry: &JobEntry,
    ) -> Result<Checked, ReconcileError> {
        if entry.end.is_some() {
            return Ok(Checked::AlreadyEnded);
        }
        let name = JobName::parse(&entry.job).map_err(|e| ReconcileError::NotAJob(e.to_string()))?;
        let now_ms = self.clock.unix_now_ms();
        match read(gemini, &name).await? {
            Reading::Ended(end) => {
                let webhook_id = end.webhook_id();
                let now = aws_sdk_sqs::primitives::DateTime::from_millis(now_ms - now_ms.rem_euclid(1000))
                    .fmt(aws_sdk_sqs::primitives::DateTimeFormat::DateTime)
                    .unwrap_or_default();
                let body = end.body(&entry.metadata(), &now);
                let verified = Verified {
                    webhook_id: webhook_id.clone(),
                    timestamp: WebhookTimestamp::from_unix(now_ms.div_euclid(1000)),
                    scheme: Scheme::Reconciled,
                    jwt: None,
                };
                let message = IngestMessage::new(verified, &body, Event::parse(&body)?, now_ms)
                    .with_trace(self.trace.clone());
                let sqs_body = message.to_sqs_body().map_err(|e| {
                    ReconcileError::Enqueue(SendError::MessageRefused {
                        code: "Encoding".into(),
                        detail: e.to_string(),
                    })
                })?;
                self.ingest.send(sqs_body, &message.sqs_attributes(), self.trace.as_ref()).await?;
                Ok(Checked::Reconciled { webhook_id, event_type: end.event_type, status: end.status })
            }
            Reading::Running(status) => {
                let checks = entry.checks.saturating_add(1);
                match entry.deadlines().next_check(entry.started_at, checks, now_ms) {
                    Some(next_check_at) if entry.state != EntryState::Overdue => {
                        self.schedules.check_at(&entry.job, checks, next_check_at).await?;
                        self.ledger
                            .checked(&entry.job, checks, &status, Some(next_check_at), EntryState::Open)
                            .await?;
                        Ok(Checked::Running { status, next_check_at })
                    }
                    _ => {
                        self.ledger.checked(&entry.job, checks, &status, None, EntryState::Overdue).await?;
                        Ok(Checked::Overdue { status })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(value: Value) -> Operation {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_batch_reads_as_running_or_as_the_event_its_state_names() {
        let running = operation(json!({"name": "batches/b", "metadata": {"state": "BATCH_STATE_RUNNING"}}));
        assert_eq!(read_batch(&running), Reading::Running("BATCH_STATE_RUNNING".into()));
        let done = operation(json!({"name": "batches/b", "done": true,
            "metadata": {"state": "BATCH_STATE_SUCCEEDED", "endTime": "2026-01-22T12:00:00Z"},
            "response": {"responsesFile": "files/batch-b"}}));
        let Reading::Ended(end) = read_batch(&done) else { panic!("ended") };
        assert_eq!(
            (end.event_type.as_str(), end.ended_at.as_deref()),
            ("batch.succeeded", Some("2026-01-22T12:00:00Z"))
        );
        assert_eq!(end.data["output_file_uri"], "files/batch-b");
        let failed =
            operation(json!({"name": "batches/b", "done": true, "metadata": {"state": "JOB_STATE_FAILED"},
            "error": {"code": 3, "message": "bad input"}}));
        let Reading::Ended(end) = read_batch(&failed) else { panic!("ended") };
        assert_eq!((end.event_type.as_str(), &end.data["error_code"]), ("batch.failed", &json!(3)));
    }

    #[test]
    fn an_interaction_in_a_state_no_event_announces_ends_under_its_own_type() {
        for (status, expected) in [
            ("in_progress", None),
            ("requires_action", None),
            ("completed", Some("interaction.completed")),
            ("incomplete", Some(INTERACTION_ENDED)),
            ("budget_exceeded", Some(INTERACTION_ENDED)),
        ] {
            let read = read_interaction("v1_a", &json!({"id": "v1_a", "status": status}));
            match (read, expected) {
                (Reading::Running(s), None) => assert_eq!(s, status),
                (Reading::Ended(end), Some(t)) => {
                    assert_eq!(
                        (end.event_type.as_str(), end.status.as_str(), end.job.as_str()),
                        (t, status, "interactions/v1_a")
                    )
                }
                (other, _) => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_failed_video_is_delivered_as_video_failed() {
        let failed = operation(
            json!({"name": "models/veo/operations/o", "done": true, "error": {"code": 13, "message": "x"}}),
        );
        let Reading::Ended(end) = read_video(&failed) else { panic!("ended") };
        assert_eq!(end.event_type, VIDEO_FAILED);
        let made = operation(
            json!({"name": "models/veo/operations/o", "done": true, "response": {"generateVideoResponse":
            {"generatedSamples": [{"video": {"uri": "https://g/v1beta/files/abc:download?alt=media"}}]}}}),
        );
        let Reading::Ended(end) = read_video(&made) else { panic!("ended") };
        assert_eq!(
            (end.event_type.as_str(), &end.data["file_name"]),
            ("video.generated", &json!("files/abc"))
        );
    }
}
