//! `redrive`: dead-lettered messages moved back to where they failed.

use std::fmt;

use serde::Serialize;

use super::flags::{RoutingArgs, StackArg};
use crate::ops::aws::sdk_config;
use crate::ops::interrupt::StopRequest;
use crate::ops::queue::WatchedQueue;
use crate::ops::queue::queue_arn;
use crate::ops::redrive::{Back, MoveTask, Moved, dead_letter_queue, move_messages};
use crate::ops::resources::resources_for;
use crate::ops::stack::outputs;
use crate::ui::output::Output;
use crate::ui::report::usage;
use clap::Args;
use shared::aws::publish::TargetPublisher;

#[derive(Debug, Args)]
#[command(
    after_help = "ingest: the ingest DLQ back to the ingest queue; fanout: each message of the fanout DLQ to the queue that refused it (`--routes`: where the routing sends it now); batch, interaction, video, default (with --stack) or a queue's URL: that queue's DLQ back to it. SQS's own redrive (StartMessageMoveTask) moves ingest and routed DLQs; the fanout DLQ, and any `--max`, move message by message."
)]
pub struct RedriveArgs {
    /// What to redrive: `ingest`, `fanout`, a routed queue's name, or a queue's URL.
    pub what: String,
    /// Move at most this many messages (message by message).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
    /// For `fanout`: send each message where the routing sends its event now, not where it failed.
    #[arg(long)]
    pub routes: bool,
    /// The ingest queue (the stack's `IngestQueueUrl` output).
    #[arg(long, env = "INGEST_QUEUE_URL", value_name = "URL")]
    pub ingest_queue: Option<String>,
    /// The ingest DLQ (`IngestDLQUrl`).
    #[arg(long, env = "INGEST_DLQ_URL", value_name = "URL")]
    pub ingest_dlq: Option<String>,
    /// The fanout DLQ (`FanoutDLQUrl`).
    #[arg(long, env = "FANOUT_DLQ_URL", value_name = "URL")]
    pub fanout_dlq: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

/// The end of a redrive.
#[derive(Serialize)]
struct Summary {
    from: String,
    to: String,
    moved: usize,
    kept: Vec<(String, String)>,
    failed: Vec<(String, String)>,
    stopped: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "moved {} message(s) from {} to {}", self.moved, self.from, self.to)?;
        for (id, why) in &self.kept {
            write!(f, "\n  kept {id}: {why}")?;
        }
        for (id, why) in &self.failed {
            write!(f, "\n  failed {id}: {why}")?;
        }
        Ok(())
    }
}

pub(crate) async fn run(args: RedriveArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let config = sdk_config(endpoint).await;
    let resources = resources_for(&config, args.stack.stack.as_deref(), |r| {
        r.ingest_queue = args.ingest_queue.clone();
        r.ingest_dlq = args.ingest_dlq.clone();
        r.fanout_dlq = args.fanout_dlq.clone();
        r.routes_json = args.routing.routes_json.clone();
        r.default_queue = args.routing.default_queue.clone();
    })
    .await?;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let max = args.max.map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    // From where, and to where.
    let (from, back) = match args.what.as_str() {
        "ingest" => (resources.ingest_dlq()?.to_owned(), Back::Queue(resources.ingest_queue()?.to_owned())),
        "fanout" => {
            let routes = if args.routes { Some(resources.routes(&config).await?) } else { None };
            (resources.fanout_dlq()?.to_owned(), Back::Destinations(routes))
        }
        other => {
            let queue = match outputs::ROUTED.iter().find(|(name, _)| *name == other) {
                Some((name, _)) => resources.routed.get(name).cloned().ok_or_else(|| {
                    usage(format!(
                        "`{name}` names a routed queue of a stack: give --stack NAME, or the queue's URL"
                    ))
                })?,
                None if other.contains("://") => other.to_owned(),
                None => {
                    return Err(usage(format!(
                        "{other:?} is not something to redrive: give ingest, fanout, batch, interaction, video, default, or a queue's URL"
                    )));
                }
            };
            (dead_letter_queue(&sqs, &queue).await?, Back::Queue(queue))
        }
    };
    if args.routes && !matches!(back, Back::Destinations(_)) {
        return Err(usage("--routes applies to `redrive fanout` only"));
    }
    let to = match &back {
        Back::Queue(queue) => queue.clone(),
        Back::Destinations(None) => "the queue each message failed on".to_owned(),
        Back::Destinations(Some(_)) => "where the routing sends each event".to_owned(),
    };
    let mut stop = StopRequest::ctrl_c().await;

    // SQS's own move task, for a whole queue back to one queue.
    if let (None, Back::Queue(queue)) = (max, &back) {
        let (source, destination) = (queue_arn(&sqs, &from).await?, queue_arn(&sqs, queue).await?);
        out.note(format!("moving {from} to {to} with SQS's redrive (StartMessageMoveTask)"));
        let task = MoveTask::start(&sqs, &source, Some(&destination)).await?;
        let progress = out.progress("moved");
        let ended = task
            .wait(
                |s| progress.update(usize::try_from(s.moved).unwrap_or(0), usize::try_from(s.to_move).ok()),
                &mut stop,
            )
            .await?;
        progress.finish();
        let moved = usize::try_from(ended.moved).unwrap_or(0);
        out.print(&Summary {
            from,
            to,
            moved,
            kept: vec![],
            failed: vec![],
            stopped: ended.status != "COMPLETED",
        });
        return match ended.status.as_str() {
            "COMPLETED" => Ok(()),
            "FAILED" => anyhow::bail!(
                "SQS's move task failed after moving {moved}: {}",
                ended.failure.as_deref().unwrap_or("no reason given")
            ),
            status => {
                anyhow::bail!("the move task ended {status} after moving {moved}; run again to move the rest")
            }
        };
    }

    // Said, so nobody wonders why SQS's own redrive was not used.
    let why = match &back {
        Back::Queue(_) => "SQS's redrive cannot stop after --max",
        Back::Destinations(_) => "each message goes to its own queue, which SQS's redrive cannot do",
    };
    out.note(format!("moving {from} to {to}, message by message ({why})"));
    let progress = out.progress("handled");
    let queue = WatchedQueue::new(sqs.clone(), &from);
    let publisher = TargetPublisher::new(sqs.clone(), aws_sdk_eventbridge::Client::new(&config));
    let handled = |m: &Moved| progress.update(m.moved + m.kept.len() + m.failed.len(), None);
    let Moved { moved, kept, failed, stopped } =
        move_messages(&sqs, &publisher, &queue, &back, max, handled, &mut stop).await?;
    progress.finish();
    let (kept_count, failed_count) = (kept.len(), failed.len());
    out.print(&Summary { from, to, moved, kept, failed, stopped });
    if failed_count + kept_count > 0 {
        anyhow::bail!(
            "{failed_count} message(s) could not be sent and {kept_count} have nowhere to go: they stay in the DLQ (listed above)"
        );
    }
    if stopped && max.is_none() {
        anyhow::bail!(
            "stopped by Ctrl-C after moving {moved}; run again to move the rest (nothing moved is sent twice)"
        );
    }
    Ok(())
}
