//! `jobs batch|interaction|video`: a Gemini job started with the stack's dynamic URL in its
//! `webhook_config`, so its end is delivered, verified, routed and followed up with no polling, and
//! (with `--stack`) tracked by the stack's jobs ledger, so an end whose webhook never comes is
//! reconciled; `jobs cancel`: a job ended early, its `*.cancelled` event delivered the same way;
//! `jobs track|list|show|reconcile`: the ledger.

use std::fmt;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;
use shared::aws::jobs_ledger::Tracked;
use shared::clock::{Clock, SystemClock};
use shared::gemini::{DEFAULT_VEO_MODEL, DEFAULT_VIDEO_MODEL};
use shared::ledger::{Deadlines, EntryKind, EntryState, JobEnd, JobEntry, JobKind, JobName, TaskToken, Via};
use shared::reconcile::Checked;
use shared::results;

use super::flags::{GeminiArgs, Sensitive, StackArg, parse_metadata, parse_sensitive, read_input};
use crate::ops::aws::sdk_config;
use crate::ops::event_log::{EventLog, Filter};
use crate::ops::jobs::{CancelOutcome, Cancelled, JobWebhook, Started, cancel, webhook};
use crate::ops::ledger::{Shown, StackLedger};
use crate::ops::window::{Window, instant};
use crate::ui::event_line::EventLine;
use crate::ui::output::{Output, bad, dim, good, styled};
use crate::ui::report::usage;
use crate::ui::time::{date_time, rfc3339};

/// Where a job's events go.
#[derive(Debug, Args)]
pub struct JobWebhookArgs {
    /// The receiver's dynamic URL, with its token (what `gemini-webhooks endpoint` prints).
    #[arg(long, env = "WEBHOOK_DYNAMIC_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
    /// `user_metadata`, echoed in every event of the job (routes can match it; repeatable).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, serde_json::Value)>,
    /// Do not track the job in the stack's jobs ledger (default with --stack: tracked, so an end
    /// whose webhook never comes is reconciled).
    #[arg(long, requires = "stack")]
    pub no_track: bool,
    #[command(flatten)]
    pub deadlines: DeadlineArgs,
    #[command(flatten)]
    pub task: TaskTokenArg,
}

/// The Step Functions task waiting on a tracked job.
#[derive(Debug, Clone, Args)]
pub struct TaskTokenArg {
    /// A Step Functions task token (`$$.Task.Token` of a `.waitForTaskToken` task): the job's end
    /// completes that task (the stack needs `WorkflowCallbacks=true`). `@FILE` or `@-` reads it.
    #[arg(long, env = "TASK_TOKEN", hide_env_values = true, value_parser = parse_sensitive)]
    pub task_token: Option<Sensitive>,
}

impl TaskTokenArg {
    /// The token given, checked.
    pub fn token(&self) -> anyhow::Result<Option<TaskToken>> {
        self.task_token
            .as_ref()
            .map(|token| TaskToken::parse(token.expose()))
            .transpose()
            .map_err(|e| usage(format!("--task-token (or TASK_TOKEN): {e}")))
    }
}

impl JobWebhookArgs {
    /// Whether to track the job, and the deadlines given.
    fn tracking(&self) -> Option<&DeadlineArgs> {
        (self.stack.stack.is_some() && !self.no_track).then_some(&self.deadlines)
    }
}

/// When a tracked job's end must have come by; each defaults by the job's kind.
#[derive(Debug, Clone, Copy, Args)]
pub struct DeadlineArgs {
    /// When its end is first checked, after its start (`25h`, `30m`; default by kind: a batch 25h, an
    /// interaction 1h, a video 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    /// When it is given up on, overdue and alarmed, after its start (default: a batch 50h, others 24h;
    /// never before --deadline).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub give_up: Option<Duration>,
}

impl DeadlineArgs {
    /// The deadlines of a job of `kind`.
    pub fn for_kind(&self, kind: JobKind) -> Deadlines {
        Deadlines::default_for(kind).with(self.deadline, self.give_up)
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let span: jiff::Span =
        text.parse().map_err(|_| format!("{text:?} is not a duration such as 30m or 25h"))?;
    let secs = span
        .total((jiff::Unit::Second, jiff::SpanRelativeTo::days_are_24_hours()))
        .map_err(|e| e.to_string())?;
    if !(60.0..=365.0 * 86_400.0).contains(&secs) {
        return Err("a duration from 1m to 365d".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Upload a JSONL file of requests and start a batch over it.
    Batch {
        /// The requests, one JSON object a line: `{"key": ..., "request": {"contents": [...]}}`.
        input: PathBuf,
        /// The model.
        #[arg(long, default_value = "gemini-2.5-flash")]
        model: String,
        /// A display name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Start an interaction in the background.
    Interaction {
        /// What to ask.
        input: String,
        /// The model.
        #[arg(long, default_value = "gemini-2.5-flash")]
        model: String,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Start a video: an interaction with a video model, as google-genai 3.x makes one (its end is an
    /// `interaction.completed`); `--predict-long-running` uses the older Veo endpoint (`video.generated`).
    Video {
        /// What to film.
        prompt: String,
        /// The model (default: gemini-omni-flash-preview; with --predict-long-running,
        /// veo-3.0-generate-001).
        #[arg(long)]
        model: Option<String>,
        /// Start it with `models/{model}:predictLongRunning`, as the SDKs up to 2.x did.
        #[arg(long)]
        predict_long_running: bool,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Cancel a running batch or interaction: its `*.cancelled` event is delivered like any end.
    Cancel {
        /// `batches/...`, or an interaction's id (a video made through Interactions too; a
        /// `predictLongRunning` video has no cancel).
        job: String,
    },
    /// Track a job started by other code (Google's SDK, say) in the stack's jobs ledger. Its webhook
    /// closes the entry only if the job was started with `user_metadata` holding
    /// `"gemini_webhooks_ledger": "tracked"`; otherwise its end comes by reconciliation, and its webhook
    /// too.
    Track {
        /// `batches/...`, an interaction's id, or `models/.../operations/...`.
        job: String,
        /// The `user_metadata` the job was started with, for a reconciled end to carry (repeatable).
        #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
        metadata: Vec<(String, serde_json::Value)>,
        #[command(flatten)]
        deadlines: DeadlineArgs,
        #[command(flatten)]
        task: TaskTokenArg,
        #[command(flatten)]
        stack: StackArg,
    },
    /// The stack's tracked jobs: open, overdue or ended, newest first.
    List {
        /// Which.
        #[arg(long, value_enum, default_value = "all")]
        state: Shown,
        /// Only jobs tracked since then (`2h`, `7d`, a time, a date).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[command(flatten)]
        stack: StackArg,
    },
    /// One tracked job: where it stands, how it ended and how late, and its events.
    Show {
        /// The job.
        job: String,
        #[command(flatten)]
        stack: StackArg,
    },
    /// Check a tracked job now, as its schedule would (or, with no job, every job whose check is due
    /// and was missed): an ended job's end goes into the pipeline; a running one is checked again later.
    Reconcile {
        /// The job (default: every job whose check is due).
        job: Option<String>,
        #[command(flatten)]
        stack: StackArg,
    },
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "started {} {}", self.kind, self.job)?;
        writeln!(f, "  its end is delivered to {}", self.webhook)?;
        if let Some(at) = &self.checked_at {
            writeln!(f, "  tracked: checked at {at} if its end has not come by then")?;
        }
        write!(f, "  its result will land at {}", self.result)
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, job, state) = (self.kind, &self.job, &self.state);
        match self.outcome {
            CancelOutcome::Cancelled => write!(
                f,
                "cancelled {kind} {job}\n  its {kind}.cancelled event goes to its webhook like any end"
            ),
            CancelOutcome::Requested => write!(
                f,
                "cancel requested for {kind} {job} ({state}): its {kind}.cancelled event comes once it stops"
            ),
            CancelOutcome::AlreadyEnded => {
                write!(f, "{kind} {job} had already ended ({state}): nothing to cancel")
            }
        }
    }
}

pub(crate) async fn run(
    api: GeminiArgs,
    action: JobsAction,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let started = match action {
        JobsAction::Cancel { job } => {
            out.print(&cancel(&api.client()?, &job).await?);
            return Ok(());
        }
        JobsAction::Track { job, metadata, deadlines, task, stack } => {
            return track(job, metadata, deadlines, task.token()?, stack, endpoint, out).await;
        }
        JobsAction::List { state, since, stack } => return list(state, since, stack, endpoint, out).await,
        JobsAction::Show { job, stack } => return show(job, stack, endpoint, out).await,
        JobsAction::Reconcile { job, stack } => return reconcile(&api, job, stack, endpoint, out).await,
        JobsAction::Batch { input, model, name, webhook: args } => {
            let gemini = api.client()?;
            let bytes = read_input(&input)?;
            let display = name
                .unwrap_or_else(|| input.file_name().map_or("batch".into(), |n| n.to_string_lossy().into()));
            let hook = hook(&args, endpoint).await?;
            let file = gemini
                .upload_file(bytes, &display, "application/jsonl")
                .await
                .with_context(|| format!("uploading {}", input.display()))?;
            let batch = gemini
                .create_batch(&model, &file.name, &display, &hook.config)
                .await
                .context("starting the batch")?;
            hook.started("batch", batch.name, results::BATCH_RESULTS).await?
        }
        JobsAction::Interaction { input, model, webhook: args } => {
            let gemini = api.client()?;
            let hook = hook(&args, endpoint).await?;
            let interaction = gemini
                .create_interaction(&model, &input, &hook.config)
                .await
                .context("starting the interaction")?;
            hook.started("interaction", interaction.id, results::INTERACTION).await?
        }
        JobsAction::Video { prompt, model, predict_long_running, webhook: args } => {
            let gemini = api.client()?;
            let hook = hook(&args, endpoint).await?;
            let job = if predict_long_running {
                let model = model.as_deref().unwrap_or(DEFAULT_VEO_MODEL);
                gemini.generate_video(model, &prompt, &hook.config).await.context("starting the video")?.name
            } else {
                let model = model.as_deref().unwrap_or(DEFAULT_VIDEO_MODEL);
                gemini
                    .create_video_interaction(model, &prompt, &hook.config)
                    .await
                    .context("starting the video")?
                    .id
            };
            hook.started("video", job, results::VIDEO).await?
        }
    };
    out.print(&started);
    Ok(())
}

async fn hook(args: &JobWebhookArgs, endpoint: Option<&str>) -> anyhow::Result<JobWebhook> {
    let (url, stack) = (args.webhook_url.as_deref(), args.stack.stack.as_deref());
    let task_token = args.task.token()?;
    if task_token.is_some() && args.tracking().is_none() {
        return Err(usage("--task-token needs the job tracked: give --stack NAME (and not --no-track)"));
    }
    let mut hook = webhook(url, stack, &args.metadata, args.tracking().copied(), endpoint).await?;
    hook.task_token = task_token;
    Ok(hook)
}

/// The stack's ledger; `--stack` is required.
async fn ledger(stack: &StackArg, endpoint: Option<&str>) -> anyhow::Result<StackLedger> {
    let name = stack
        .stack
        .as_deref()
        .ok_or_else(|| usage("give --stack NAME: the stack whose jobs ledger to use"))?;
    StackLedger::of_stack(&sdk_config(endpoint).await, name).await
}

async fn track(
    job: String,
    metadata: Vec<(String, serde_json::Value)>,
    deadlines: DeadlineArgs,
    task_token: Option<TaskToken>,
    stack: StackArg,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let name = JobName::parse(&job).map_err(|e| usage(e.to_string()))?;
    let deadlines = deadlines.for_kind(name.kind());
    let ledger = ledger(&stack, endpoint).await?;
    let (entry, tracked) = ledger.track(&name, metadata.into_iter().collect(), deadlines, task_token).await?;
    let entry = match tracked {
        Tracked::New => entry,
        Tracked::Already(existing) => {
            out.note(format!("{} was tracked already: its entry is left as it was", existing.job));
            *existing
        }
    };
    out.print(&EntryLine::from(&entry));
    Ok(())
}

async fn list(
    state: Shown,
    since: Option<String>,
    stack: StackArg,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let since_ms = match since {
        Some(text) => {
            instant("--since", &text, SystemClock.unix_now_ms()).map_err(|e| usage(e.to_string()))?
        }
        None => 0,
    };
    let ledger = ledger(&stack, endpoint).await?;
    let mut entries: Vec<JobEntry> = ledger
        .ledger
        .all()
        .await?
        .into_iter()
        .filter(|e| state.shows(e) && e.started_at >= since_ms)
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.started_at));
    for entry in &entries {
        out.print(&EntryLine::from(entry));
    }
    out.note(format!("{} job(s)", entries.len()));
    Ok(())
}

async fn show(job: String, stack: StackArg, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let ledger = ledger(&stack, endpoint).await?;
    let key = shared::ledger::key(&job).ok_or_else(|| usage(format!("{job:?} is not a Gemini job name")))?;
    let entry = ledger
        .ledger
        .get(&key)
        .await?
        .with_context(|| format!("{job} is not tracked by this stack's ledger"))?;
    let config = sdk_config(endpoint).await;
    let resources = crate::ops::resources::resources_for(&config, stack.stack.as_deref(), |_| {}).await?;
    let log = EventLog::new(aws_sdk_dynamodb::Client::new(&config), resources.table()?);
    let data_id = key.strip_prefix("interactions/").unwrap_or(&key).to_owned();
    let window =
        Window { since_ms: entry.started_at - 3_600_000, until_ms: SystemClock.unix_now_ms() + 60_000 };
    let filter = Filter { window, event_type: None, job: Some(data_id), webhook_ids: Vec::new() };
    let events = log.find(&filter).await?.events;
    out.print(&EntryLine::from(&entry));
    for event in &events {
        out.print(&EventLine::from(event));
    }
    Ok(())
}

async fn reconcile(
    api: &GeminiArgs,
    job: Option<String>,
    stack: StackArg,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let gemini = api.client()?;
    let ledger = ledger(&stack, endpoint).await?;
    if let Some(job) = job {
        let checked = ledger.check(&gemini, &job).await?;
        out.print(&CheckLine::new(&job, &checked));
        return Ok(());
    }
    let progress = out.progress("checking");
    let mut failures = 0;
    let mut done = 0;
    let checked = ledger
        .check_due(&gemini, |entry, checked| {
            done += 1;
            progress.update(done, None);
            match checked {
                Ok(checked) => out.print(&CheckLine::new(&entry.job, checked)),
                Err(error) => {
                    failures += 1;
                    out.warn(format!("checking {} failed: {error}", entry.job));
                }
            }
        })
        .await?;
    progress.finish();
    out.note(format!("{checked} job(s) due checked"));
    if failures > 0 {
        anyhow::bail!("{failures} check(s) failed (named above); run `jobs reconcile` again");
    }
    Ok(())
}

/// One entry, as listed.
#[derive(Serialize)]
struct EntryLine {
    job: String,
    kind: EntryKind,
    state: EntryState,
    started_at: i64,
    deadline: i64,
    give_up_at: i64,
    checks: u32,
    next_check_at: Option<i64>,
    last_status: Option<String>,
    end: Option<JobEnd>,
    /// A workflow's task waits on its end (the token itself is never shown).
    workflow_waiting: bool,
}

impl From<&JobEntry> for EntryLine {
    fn from(e: &JobEntry) -> Self {
        Self {
            job: e.job.clone(),
            kind: e.kind,
            state: e.state,
            started_at: e.started_at,
            deadline: e.deadline,
            give_up_at: e.give_up_at,
            checks: e.checks,
            next_check_at: e.next_check_at,
            last_status: e.last_status.clone(),
            end: e.end.clone(),
            workflow_waiting: e.task_token.is_some(),
        }
    }
}

impl fmt::Display for EntryLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            EntryState::Open => styled(dim(), "open"),
            EntryState::Overdue => styled(bad(), "overdue"),
            EntryState::Ended => styled(good(), "ended"),
        };
        write!(f, "{}  {state:<7}  {}  {:?}", date_time(self.started_at), self.job, self.kind)?;
        match &self.end {
            Some(end) => {
                let lag = end
                    .lag_ms
                    .map(|ms| format!(", {:.1} s after it ended", ms as f64 / 1000.0))
                    .unwrap_or_default();
                let via = match end.via {
                    Via::Webhook => "its webhook",
                    Via::Reconciliation => "reconciliation",
                };
                write!(f, "\n  ended {} ({}), recorded by {via}{lag}", end.event_type, end.webhook_id)
            }
            None => {
                let status = self.last_status.as_deref().unwrap_or("not checked yet");
                let next = self.next_check_at.map_or_else(|| "none".to_owned(), rfc3339);
                write!(f, "\n  {} check(s), last: {status}; next check: {next}", self.checks)
            }
        }
    }
}

/// One check's result.
#[derive(Serialize)]
struct CheckLine {
    job: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl CheckLine {
    fn new(job: &str, checked: &Checked) -> Self {
        let (outcome, detail) = match checked {
            Checked::NotTracked => ("not_tracked", None),
            Checked::AlreadyEnded => ("already_ended", None),
            Checked::Reconciled { webhook_id, event_type, status } => {
                ("reconciled", Some(format!("{event_type} ({status}) put into the pipeline as {webhook_id}")))
            }
            Checked::Running { status, next_check_at } => {
                ("running", Some(format!("{status}; checked again at {}", rfc3339(*next_check_at))))
            }
            Checked::Overdue { status } => {
                ("overdue", Some(format!("{status}; past its give-up time, no more checks")))
            }
        };
        Self { job: job.to_owned(), outcome, detail }
    }
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.job, self.outcome)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}
