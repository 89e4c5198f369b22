//! `events list` and `events show`: the events table as a log.

use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::message::EventRecord;

use super::flags::{StackArg, TableArgs, WindowArgs};
use crate::ops::aws::sdk_config;
use crate::ops::event_log::{EventLog, Filter};
use crate::ops::resources::resources_for;
use crate::ops::window::Window;
use crate::ui::event_line::EventLine;
use crate::ui::output::{Document, Output};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// What was recorded, newest first.
    List {
        #[command(flatten)]
        window: WindowArgs,
        /// Show at most this many (the newest).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        stack: StackArg,
        #[command(flatten)]
        table: TableArgs,
    },
    /// One recorded event, whole, with its provenance.
    Show {
        /// Its `webhook-id`.
        webhook_id: String,
        #[command(flatten)]
        stack: StackArg,
        #[command(flatten)]
        table: TableArgs,
    },
}

pub(crate) async fn run(action: EventsAction, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let config = sdk_config(endpoint).await;
    match action {
        EventsAction::List { window, limit, stack, table } => {
            let filter = filter(&window)?;
            let resources = resources_for(&config, stack.stack.as_deref(), |r| r.table = table.table).await?;
            let log = EventLog::new(aws_sdk_dynamodb::Client::new(&config), resources.table()?);
            let found = log.find(&filter).await?;
            let total = found.events.len();
            for event in found.events.iter().rev().take(limit) {
                out.print(&EventLine::from(event));
            }
            for (key, why) in &found.unreadable {
                out.warn(format!("item {key:?} in the window is not an event: {why}"));
            }
            let shown = total.min(limit);
            let more = if total > limit {
                format!(" (the newest {shown}; --limit shows more)")
            } else {
                String::new()
            };
            out.note(format!(
                "{total} event(s) recorded in the window{more}; {} item(s) scanned",
                found.scanned
            ));
        }
        EventsAction::Show { webhook_id, stack, table } => {
            let resources = resources_for(&config, stack.stack.as_deref(), |r| r.table = table.table).await?;
            let log = EventLog::new(aws_sdk_dynamodb::Client::new(&config), resources.table()?);
            match log.get(&webhook_id).await? {
                Some(Ok(event)) => out.print(&Document(shown(&event))),
                Some(Err(why)) => anyhow::bail!("the item under {webhook_id} is not an event: {why}"),
                None => anyhow::bail!(
                    "no event is recorded under webhook-id {webhook_id} (events are kept 7 days; `events list` shows what is)"
                ),
            }
        }
    }
    Ok(())
}

/// The filter the window flags describe.
pub(super) fn filter(window: &WindowArgs) -> anyhow::Result<Filter> {
    let now = SystemClock.unix_now_ms();
    let parsed = Window::parse(window.since.as_deref(), window.until.as_deref(), now)
        .map_err(|e| crate::ui::report::usage(e.to_string()))?;
    Ok(Filter {
        window: parsed,
        event_type: window.event_type.clone(),
        job: window.job.clone(),
        webhook_ids: window.webhook_ids.clone(),
    })
}

fn shown(event: &EventRecord) -> Value {
    let p = &event.provenance;
    json!({
        "webhook_id": p.webhook_id, "webhook_timestamp": p.webhook_timestamp, "received_at": p.received_at,
        "scheme": p.scheme, "type": event.event_type, "data_id": event.data_id,
        "recorded_at": event.recorded_at, "expires_at": event.expires_at, "body_sha256": event.body_sha256,
        "superseded_by": event.superseded_by, "event": event.event,
    })
}
