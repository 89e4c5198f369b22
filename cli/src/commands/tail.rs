//! `tail`: what arrives on a queue of your own, a line per message.

use std::fmt;

use aws_sdk_sqs::types::Message;
use serde::Serialize;
use serde_json::Value;
use shared::message::DownstreamMessage;

use super::IdleLimit;
use crate::args::TailArgs;
use crate::aws::sdk_config;
use crate::output::{Output, clock_time, dim, styled};
use crate::queue::WatchedQueue;

/// How long `--keep` hides each message while it reads the rest.
const PEEK_SECS: i32 = 30;

/// One message: the downstream message's fields, or why it is not one.
#[derive(Serialize)]
#[serde(untagged)]
enum Line {
    Event {
        /// When the receiver accepted it, Unix milliseconds.
        received_at: i64,
        webhook_id: String,
        #[serde(rename = "type")]
        event_type: String,
        scheme: String,
        data_id: Option<String>,
        output_uri: Option<String>,
        error_code: Option<String>,
        user_metadata: Option<serde_json::Map<String, Value>>,
    },
    NotAnEvent {
        message_id: String,
        sent_at: Option<i64>,
        error: String,
    },
}

impl Line {
    fn of(message: &Message) -> Self {
        match DownstreamMessage::from_sqs_body(message.body().unwrap_or_default()) {
            Ok(m) => Self::Event {
                received_at: m.provenance.received_at,
                webhook_id: m.provenance.webhook_id.to_string(),
                scheme: m.provenance.scheme.to_string(),
                output_uri: m.event.output_uri().map(str::to_owned),
                error_code: m.event.error_code().map(|c| c.to_string()),
                event_type: m.event_type,
                data_id: m.data_id,
                user_metadata: m.user_metadata,
            },
            Err(e) => Self::NotAnEvent {
                message_id: message.message_id().unwrap_or_default().to_owned(),
                sent_at: WatchedQueue::sent_at(message),
                error: format!("not a downstream message: {e}"),
            },
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event {
                received_at,
                webhook_id,
                event_type,
                scheme,
                data_id,
                output_uri,
                error_code,
                user_metadata,
            } => {
                write!(
                    f,
                    "{}  {event_type:<28} {scheme:<4} {webhook_id}  {}",
                    clock_time(*received_at),
                    data_id.as_deref().unwrap_or("-")
                )?;
                if let Some(uri) = output_uri {
                    write!(f, "  output={uri}")?;
                }
                if let Some(code) = error_code {
                    write!(f, "  error={code}")?;
                }
                if let Some(metadata) = user_metadata {
                    write!(f, "  {}", styled(dim(), Value::Object(metadata.clone())))?;
                }
                Ok(())
            }
            Self::NotAnEvent { message_id, sent_at, error } => write!(
                f,
                "{}  {}  {message_id}",
                sent_at.map_or_else(|| "--:--:--".to_owned(), clock_time),
                styled(dim(), error)
            ),
        }
    }
}

pub(super) async fn run(args: TailArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let queue = WatchedQueue::new(aws_sdk_sqs::Client::new(&sdk_config(endpoint).await), &args.queue_url);
    if args.keep {
        let all = queue.take_all(PEEK_SECS).await?;
        for message in &all {
            out.print(&Line::of(message));
        }
        queue.make_visible(&all).await?;
        out.note(format!("{} message(s) waiting, left in the queue", all.len()));
        return Ok(());
    }
    let watching =
        if args.follow { "until Ctrl-C".to_owned() } else { format!("until {} s pass with none", args.idle) };
    out.note(format!("reading {} {watching}; each message is deleted once printed", args.queue_url));
    let mut idle = IdleLimit::new((!args.follow).then_some(args.idle));
    loop {
        let Some(wait) = idle.next_wait() else {
            out.note(format!("no message for {} s: stopping (--follow keeps watching)", args.idle));
            return Ok(());
        };
        let messages = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            received = queue.receive(wait, None) => received?,
        };
        if !messages.is_empty() {
            idle.reset();
        }
        for message in &messages {
            out.print(&Line::of(message));
            queue.delete(message).await?;
        }
    }
}
