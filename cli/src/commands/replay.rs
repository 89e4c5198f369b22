//! `replay`: recorded events sent again, marked as replays.

use std::fmt;

use anyhow::Context as _;
use serde::Serialize;
use shared::aws::publish::TargetPublisher;
use shared::clock::{Clock, SystemClock};
use shared::message::DownstreamMessage;
use shared::routing::TargetKind;

use super::events::filter;
use super::flags::{RoutingArgs, StackArg, TableArgs, WindowArgs};
use crate::ops::aws::sdk_config;
use crate::ops::event_log::EventLog;
use crate::ops::interrupt::StopRequest;
use crate::ops::replay::{Replayed, Target, Unsent, replay};
use crate::ops::resources::resources_for;
use crate::ui::event_line::EventLine;
use crate::ui::output::Output;
use crate::ui::report::usage;
use crate::ui::time::rfc3339;
use clap::Args;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["to", "routes"]))]
#[command(
    after_help = "Each replayed message carries `replayed_at` (in the message and as an attribute) and its original `webhook_id`. A consumer idempotent on `DownstreamMessage::idempotency_key()` (the `webhook_id`, with `replayed_at` on a replay) handles a replay once more, however often SQS delivers it; the example consumer rewrites the same objects, so replaying a window twice is safe for it."
)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// Send every event to this queue.
    #[arg(long, value_name = "QUEUE_URL")]
    pub to: Option<String>,
    /// Send each event where the stack's routing sends it now.
    #[arg(long)]
    pub routes: bool,
    /// List and count what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go on with the replay stamped MS (what an earlier run printed) instead of starting a new one:
    /// consumers idempotent on `idempotency_key` drop what that run already sent.
    #[arg(long, value_name = "MS")]
    pub replayed_at: Option<i64>,
    #[command(flatten)]
    pub stack: StackArg,
    #[command(flatten)]
    pub table: TableArgs,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

/// The end of a replay.
#[derive(Serialize)]
struct Summary {
    events: usize,
    sent: std::collections::BTreeMap<String, usize>,
    /// Items in the window that are not events (each named in a warning): not replayed.
    skipped: usize,
    failed: Vec<Failed>,
    replayed_at: i64,
}

#[derive(Serialize)]
struct Failed {
    webhook_id: String,
    queue: String,
    error: String,
}

impl From<Unsent> for Failed {
    fn from(u: Unsent) -> Self {
        Self { webhook_id: u.webhook_id.into(), queue: u.queue, error: u.error }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replayed {} event(s), marked replayed_at={}:", self.events, self.replayed_at)?;
        for (queue, count) in &self.sent {
            write!(f, "\n  {count:>6} sent to {queue}")?;
        }
        if self.skipped > 0 {
            write!(f, "\n  {:>6} skipped: not events (named above)", self.skipped)?;
        }
        for failed in &self.failed {
            write!(f, "\n  failed {} to {}: {}", failed.webhook_id, failed.queue, failed.error)?;
        }
        Ok(())
    }
}

pub(crate) async fn run(args: ReplayArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    if args.window.since.is_none() && args.window.webhook_ids.is_empty() {
        return Err(usage(
            "replay needs --since (a duration ago such as 2h, a time, or a date) or --webhook-id",
        ));
    }
    let filter = filter(&args.window)?;
    let config = sdk_config(endpoint).await;
    let resources = resources_for(&config, args.stack.stack.as_deref(), |r| {
        r.table = args.table.table.clone();
        r.routes_json = args.routing.routes_json.clone();
        r.default_queue = args.routing.default_queue.clone();
    })
    .await?;
    let target = match &args.to {
        Some(queue) => Target::Queue(queue.clone()),
        None => Target::Routes(resources.routes(&config).await?),
    };
    let log = EventLog::new(aws_sdk_dynamodb::Client::new(&config), resources.table()?);
    let found = log.find(&filter).await?;
    for (key, why) in &found.unreadable {
        out.warn(format!("item {key:?} in the window is not an event, not replayed: {why}"));
    }
    if found.events.is_empty() {
        anyhow::bail!(
            "no recorded event matches (from {} to {}{}{}): nothing to replay",
            rfc3339(filter.window.since_ms),
            rfc3339(filter.window.until_ms),
            filter.event_type.as_deref().map(|t| format!(", type {t}")).unwrap_or_default(),
            filter.job.as_deref().map(|j| format!(", job {j}")).unwrap_or_default(),
        );
    }
    if args.dry_run {
        for event in &found.events {
            out.print(&EventLine::from(&DownstreamMessage::from(event.clone())));
        }
        out.note(format!("{} event(s) would be replayed (--dry-run: nothing sent)", found.events.len()));
        return Ok(());
    }

    // Every destination exists, or nothing is sent: a typo is one line, not thousands of failures.
    let sqs = aws_sdk_sqs::Client::new(&config);
    let eventbridge = aws_sdk_eventbridge::Client::new(&config);
    for destination in target.all_targets() {
        match TargetKind::of(destination) {
            TargetKind::Queue => crate::ops::queue::queue_arn(&sqs, destination)
                .await
                .map(drop)
                .with_context(|| format!("checking the queue {destination} before replaying"))?,
            TargetKind::Bus => eventbridge
                .describe_event_bus()
                .name(destination)
                .send()
                .await
                .map(drop)
                .map_err(|e| anyhow::anyhow!(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))
                .with_context(|| format!("checking the bus {destination} before replaying"))?,
        }
    }
    // A new replay, or the rest of one that stopped: the same stamp makes the same idempotency keys.
    let replayed_at = args.replayed_at.unwrap_or_else(|| SystemClock.unix_now_ms());
    let total = found.events.len();
    let progress = out.progress("replaying");
    let publisher = TargetPublisher::new(sqs, eventbridge);
    let mut stop = StopRequest::ctrl_c().await;
    let Replayed { events, sent, failed, stopped_after } = replay(
        &publisher,
        &found.events,
        &target,
        replayed_at,
        |done| progress.update(done, Some(total)),
        &mut stop,
    )
    .await;
    progress.finish();
    let failures = failed.len();
    let skipped = found.unreadable.len();
    let failed = failed.into_iter().map(Failed::from).collect();
    out.print(&Summary { events, sent, skipped, failed, replayed_at });
    if let Some(last) = stopped_after {
        anyhow::bail!(
            "stopped by Ctrl-C after {events} of {total} events; to go on with this replay, run again with \
             --since {} --replayed-at {replayed_at} (the last one sent goes again, and consumers idempotent on \
             idempotency_key drop it)",
            rfc3339(last.provenance.received_at),
        );
    }
    if failures > 0 {
        anyhow::bail!(
            "{failures} message(s) were not sent (listed above); run the same command again with --replayed-at \
             {replayed_at} to send them as part of this replay: what it sent already is dropped by consumers \
             idempotent on idempotency_key"
        );
    }
    Ok(())
}
