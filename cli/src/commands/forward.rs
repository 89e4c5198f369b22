//! `forward`: a queue's messages POSTed to a local endpoint, a line each.

use std::fmt;
use std::time::Duration;

use crate::ops::aws::sdk_config;
use crate::ops::forward::{Forwarded, Forwarder};
use crate::ops::queue::IdleLimit;
use crate::ops::queue::WatchedQueue;
use crate::ui::output::{Output, bad, good, styled};
use crate::ui::report::usage;
use crate::ui::time::clock_time;
use clap::Args;

#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// The queue to read: a queue of your own that a route sends events to (`ExtraRoutes`), for development.
    #[arg(long = "queue")]
    pub queue_url: String,
    /// Where to POST each message, e.g. `http://localhost:3000/webhooks`.
    #[arg(long = "to")]
    pub target: String,
    /// What to POST: the downstream message as the queue holds it, or an SQS event of one record (for a
    /// Lambda running under `cargo lambda watch` or `sam local start-lambda`).
    #[arg(long, value_enum, default_value = "message")]
    pub format: crate::ops::forward::Format,
    /// Stop after this many seconds without a message (default: keep forwarding until Ctrl-C).
    #[arg(long)]
    pub idle: Option<u64>,
    /// How long each POST may take before the message is left for redelivery.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

/// One forwarded message, with when it was forwarded.
#[derive(serde::Serialize)]
struct Line {
    at: i64,
    #[serde(flatten)]
    forwarded: Forwarded,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.forwarded;
        let status = m.status.map_or_else(|| "---".to_owned(), |s| s.to_string());
        let outcome = match &m.reason {
            None => styled(good(), "delivered"),
            Some(reason) if m.delivered => styled(good(), reason),
            Some(reason) => styled(bad(), format!("left in the queue: {reason}")),
        };
        write!(
            f,
            "{}  {status}  {:<28} {}  {outcome}",
            clock_time(self.at),
            m.event_type.as_deref().unwrap_or("(not a downstream message)"),
            m.webhook_id.as_deref().unwrap_or(&m.message_id),
        )
    }
}

pub(crate) async fn run(args: ForwardArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    reqwest::Url::parse(&args.target)
        .map_err(|e| usage(format!("--to {:?} is not a URL: {e}", args.target)))?;
    let queue = WatchedQueue::new(aws_sdk_sqs::Client::new(&sdk_config(endpoint).await), &args.queue_url);
    let forwarder = Forwarder::new(queue, &args.target, args.format, Duration::from_secs(args.timeout))?;
    let until = match args.idle {
        Some(idle) => format!("until {idle} s pass with no message"),
        None => "until Ctrl-C".to_owned(),
    };
    out.note(format!(
        "forwarding {} to {} {until}; a message is deleted once answered 2xx, else left for redelivery",
        args.queue_url, args.target
    ));
    let mut idle = IdleLimit::new(args.idle);
    loop {
        let Some(wait) = idle.next_wait() else {
            out.note("no message for the --idle time: stopping");
            return Ok(());
        };
        let forwarded = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            pass = forwarder.pass(wait) => pass?,
        };
        if !forwarded.is_empty() {
            idle.reset();
        }
        for forwarded in forwarded {
            let at = shared::clock::Clock::unix_now_ms(&shared::clock::SystemClock);
            out.print(&Line { at, forwarded });
        }
    }
}
