//! `tail`: what waits or arrives on a queue of your own, a line per message: by default one bounded pass
//! that leaves every message in the queue; with `--consume`, each deleted once printed, and with
//! `--follow`, until Ctrl-C.

use std::fmt;

use aws_sdk_sqs::types::Message;
use serde::Serialize;
use shared::message::DownstreamMessage;

use crate::ops::aws::sdk_config;
use crate::ops::queue::IdleLimit;
use crate::ops::queue::WatchedQueue;
use crate::ui::event_line::EventLine;
use crate::ui::output::{Output, dim, styled};
use crate::ui::time::date_time;
use clap::Args;

#[derive(Debug, Args)]
#[command(
    after_help = "Reading a queue takes its messages from every other reader: on a queue a consumer is \
subscribed to, `tail` competes with it. Add a route to a queue of your own for watching instead."
)]
pub struct TailArgs {
    /// The queue's URL.
    pub queue_url: String,
    /// Delete each message once printed, and keep reading (default: print what is waiting, one bounded
    /// pass, and leave it all in the queue, visible again at once).
    #[arg(long)]
    pub consume: bool,
    /// With --consume: keep watching until Ctrl-C (default: stop after `--idle` seconds without one).
    #[arg(long, short, requires = "consume")]
    pub follow: bool,
    /// With --consume: stop after this many seconds without a message.
    #[arg(long, default_value_t = 20, conflicts_with = "follow")]
    pub idle: u64,
    /// Without --consume: print at most this many (each read counts toward the queue's maxReceiveCount,
    /// so a pass reads each message once, within 20 s).
    #[arg(long, default_value_t = crate::ops::queue::PASS_MAX, conflicts_with = "consume")]
    pub max: usize,
}

/// One message: the event, or why it is not one.
#[derive(Serialize)]
#[serde(untagged)]
enum Line {
    Event(EventLine),
    NotAnEvent { message_id: String, sent_at: Option<i64>, error: String },
}

impl Line {
    fn of(message: &Message) -> Self {
        match DownstreamMessage::from_sqs_body(message.body().unwrap_or_default()) {
            Ok(m) => Self::Event(EventLine::from(&m)),
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
            Self::Event(line) => line.fmt(f),
            Self::NotAnEvent { message_id, sent_at, error } => write!(
                f,
                "{}  {}  {message_id}",
                sent_at.map_or_else(|| "--:--:--".to_owned(), date_time),
                styled(dim(), error)
            ),
        }
    }
}

pub(crate) async fn run(args: TailArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let queue = WatchedQueue::new(aws_sdk_sqs::Client::new(&sdk_config(endpoint).await), &args.queue_url);
    if !args.consume {
        let pass = queue.peek(args.max).await?;
        for message in &pass.messages {
            out.print(&Line::of(message));
        }
        let count = pass.messages.len();
        if pass.more {
            out.warn(format!(
                "{count} message(s) printed and left in the queue; more may be waiting (a pass reads each once: \
                 --max N for more, or --consume to read and delete)"
            ));
        } else {
            out.note(format!("{count} message(s) waiting, left in the queue (--consume reads and deletes)"));
        }
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
