//! The stack's jobs ledger, as the CLI works it: tracking a job (its entry, and its first check
//! scheduled), reading entries back, and checking jobs now, as their schedules would.

use aws_config::SdkConfig;
use serde_json::{Map, Value};
use shared::aws::jobs_ledger::{JobsLedger, Tracked};
use shared::aws::queue::SqsQueue;
use shared::aws::schedules::Schedules;
use shared::clock::{Clock, SystemClock};
use shared::gemini::GeminiClient;
use shared::ledger::{Deadlines, EntryState, JobEntry, JobName, TaskToken};
use shared::reconcile::{self, Checked, ReconcileError, Reconciler};

use crate::ops::stack::{StackOutputs, outputs};

/// The ledger of a deployed stack.
#[derive(Debug)]
pub struct StackLedger {
    /// The jobs table.
    pub ledger: JobsLedger,
    /// Where checks are scheduled.
    pub schedules: Schedules,
    /// The ingest queue, for reconciled ends.
    pub ingest: SqsQueue,
}

/// The stack has no ledger.
#[derive(Debug, thiserror::Error)]
#[error("stack {0} has no jobs ledger (deployed with JobsLedger=false): its jobs cannot be tracked")]
pub struct NoLedger(pub String);

impl StackLedger {
    /// The ledger the stack `stack`'s outputs name.
    pub async fn of_stack(config: &SdkConfig, stack: &str) -> anyhow::Result<Self> {
        let found = StackOutputs::load(&aws_sdk_cloudformation::Client::new(config), stack).await?;
        let table = found.get(outputs::JOBS_TABLE).map_err(|_| NoLedger(stack.to_owned()))?;
        let schedules = Schedules::new(
            aws_sdk_scheduler::Client::new(config),
            found.get(outputs::SCHEDULE_GROUP)?,
            found.get(outputs::RECONCILER_FUNCTION)?,
            found.get(outputs::SCHEDULER_ROLE)?,
        );
        Ok(Self {
            ledger: JobsLedger::new(aws_sdk_dynamodb::Client::new(config), table),
            schedules,
            ingest: SqsQueue::new(aws_sdk_sqs::Client::new(config), found.get(outputs::INGEST_QUEUE)?),
        })
    }

    /// Tracks `job`, started with `user_metadata` (which must carry the marker for its webhook to close
    /// the entry), checked by `deadlines`; its end completes the workflow task `task_token`, if any.
    pub async fn track(
        &self,
        job: &JobName,
        user_metadata: Map<String, Value>,
        deadlines: Deadlines,
        task_token: Option<TaskToken>,
    ) -> Result<(JobEntry, Tracked), ReconcileError> {
        let mut entry = JobEntry::new(job, user_metadata, deadlines, SystemClock.unix_now_ms());
        entry.task_token = task_token;
        let tracked = reconcile::track(&self.ledger, &self.schedules, &entry).await?;
        Ok((entry, tracked))
    }

    /// Checks `job` now against `gemini`.
    pub async fn check(&self, gemini: &GeminiClient, job: &str) -> Result<Checked, ReconcileError> {
        let key = shared::ledger::key(job).unwrap_or_else(|| job.to_owned());
        self.reconciler().check(gemini, &key).await
    }

    /// Checks every entry whose check is due (open, its next check passed; it may have been missed)
    /// against `gemini`, oldest first, reporting each as it goes.
    pub async fn check_due(
        &self,
        gemini: &GeminiClient,
        mut each: impl FnMut(&JobEntry, &Result<Checked, ReconcileError>),
    ) -> Result<usize, ReconcileError> {
        let now = SystemClock.unix_now_ms();
        let mut due: Vec<JobEntry> = self
            .ledger
            .all()
            .await?
            .into_iter()
            .filter(|e| e.state == EntryState::Open && e.next_check_at.is_some_and(|at| at <= now))
            .collect();
        due.sort_by_key(|e| e.started_at);
        let reconciler = self.reconciler();
        for entry in &due {
            let checked = reconciler.check_entry(gemini, entry).await;
            each(entry, &checked);
        }
        Ok(due.len())
    }

    fn reconciler(&self) -> Reconciler {
        Reconciler {
            ledger: self.ledger.clone(),
            ingest: self.ingest.clone(),
            schedules: self.schedules.clone(),
            clock: std::sync::Arc::new(SystemClock),
            // Run by hand: no invocation's trace to carry.
            trace: None,
        }
    }
}

/// Which entries `jobs list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shown {
    /// Not ended, checks going on.
    Open,
    /// Not ended past its give-up time.
    Overdue,
    /// Ended.
    Ended,
    /// Every entry.
    All,
}

impl Shown {
    /// Whether `entry` is shown, `now_ms` being now: an open entry past its deadline counts as late.
    pub fn shows(self, entry: &JobEntry) -> bool {
        match self {
            Self::Open => entry.state == EntryState::Open,
            Self::Overdue => entry.state == EntryState::Overdue,
            Self::Ended => entry.state == EntryState::Ended,
            Self::All => true,
        }
    }
}
