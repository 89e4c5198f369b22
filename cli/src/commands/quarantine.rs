//! `quarantine list|show|release`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::json;
use shared::aws::queue::SqsQueue;
use shared::message::QuarantinedDelivery;

use super::flags::read_input;
use crate::ops::aws::sdk_config;
use crate::ops::event_log::EventLog;
use crate::ops::quarantine::{Held, Quarantine};
use crate::ui::output::{Document, Output, dim, styled};
use crate::ui::time::clock_time;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List every held delivery (left in the queue).
    List {
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
    /// Print one held delivery, its body included.
    Show {
        /// The delivery's `webhook-id`.
        webhook_id: String,
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
    /// Re-inject a held delivery into the ingest queue, fixed (`--body`) or as it was.
    Release {
        /// The delivery's `webhook-id`.
        webhook_id: String,
        /// The ingest queue's URL (the stack's `IngestQueueUrl` output).
        #[arg(long, env = "INGEST_QUEUE_URL")]
        ingest_queue: String,
        /// The fixed body to release instead of the original: a file, or `-` for standard input.
        #[arg(long)]
        body: Option<PathBuf>,
        /// The events table (the stack's `EventsTableName` output): an id recorded already is not
        /// released (the recorder would drop it), and the CLI says why.
        #[arg(long, env = "EVENTS_TABLE", value_name = "TABLE")]
        table: String,
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
}

impl QuarantineAction {
    /// The quarantine every action reads.
    pub fn quarantine(&self) -> &QuarantineArgs {
        match self {
            Self::List { quarantine } | Self::Show { quarantine, .. } | Self::Release { quarantine, .. } => {
                quarantine
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// The quarantine queue's URL (the stack's `QuarantineQueueUrl` output).
    #[arg(long = "queue", env = "QUARANTINE_QUEUE_URL")]
    pub queue_url: String,
}

/// One held message, as `list` prints it.
#[derive(Serialize)]
struct Listed {
    message_id: String,
    webhook_id: Option<String>,
    received_at: Option<i64>,
    reason: Option<String>,
    bytes: Option<usize>,
    detail: String,
}

impl From<&Held> for Listed {
    fn from(held: &Held) -> Self {
        match &held.delivery {
            Ok(d) => Self {
                message_id: held.message_id.clone(),
                webhook_id: Some(d.provenance.webhook_id.to_string()),
                received_at: Some(d.provenance.received_at),
                reason: Some(d.reason.as_str().to_owned()),
                bytes: Some(d.body.len()),
                detail: d.detail.clone(),
            },
            Err(e) => Self {
                message_id: held.message_id.clone(),
                webhook_id: None,
                received_at: None,
                reason: None,
                bytes: None,
                detail: format!("not a quarantined delivery: {e}"),
            },
        }
    }
}

impl fmt::Display for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {:<36} {:<14} {:>8}  {}",
            self.received_at.map_or_else(|| "--:--:--".to_owned(), clock_time),
            self.webhook_id.as_deref().unwrap_or(&self.message_id),
            self.reason.as_deref().unwrap_or("-"),
            self.bytes.map_or_else(|| "-".to_owned(), |b| b.to_string()),
            styled(dim(), &self.detail)
        )
    }
}

fn shown(delivery: &QuarantinedDelivery) -> Document {
    let body = match std::str::from_utf8(&delivery.body) {
        Ok(text) => json!(text),
        Err(_) => json!({"base64": STANDARD.encode(&delivery.body)}),
    };
    let p = &delivery.provenance;
    Document(json!({
        "webhook_id": p.webhook_id, "webhook_timestamp": p.webhook_timestamp, "received_at": p.received_at,
        "scheme": p.scheme, "reason": delivery.reason, "detail": delivery.detail,
        "body_sha256": delivery.body_sha256, "body": body,
    }))
}

#[derive(Serialize)]
struct ReleasedLine {
    released: String,
    removed: usize,
}

impl fmt::Display for ReleasedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "released {} into the ingest queue ({} held message(s) removed)",
            self.released, self.removed
        )
    }
}

pub(crate) async fn run(action: QuarantineAction, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let config = sdk_config(endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let held = Quarantine::new(sqs.clone(), &action.quarantine().queue_url);
    match action {
        QuarantineAction::List { .. } => {
            let (all, more) = held.list().await?;
            for item in &all {
                out.print(&Listed::from(item));
            }
            if more {
                out.warn(format!(
                    "{} listed; more may be held (one pass reads at most that many)",
                    all.len()
                ));
            } else {
                out.note(format!("{} held", all.len()));
            }
        }
        QuarantineAction::Show { webhook_id, .. } => out.print(&shown(&held.show(&webhook_id).await?)),
        QuarantineAction::Release { webhook_id, ingest_queue, body, table, .. } => {
            let fixed = body.as_deref().map(read_input).transpose()?;
            let ingest = SqsQueue::new(sqs, &ingest_queue);
            let recorded = EventLog::new(aws_sdk_dynamodb::Client::new(&config), table);
            let released = held.release(&webhook_id, fixed.as_deref(), &ingest, &recorded).await?;
            out.print(&ReleasedLine { released: webhook_id, removed: released.count });
        }
    }
    Ok(())
}
