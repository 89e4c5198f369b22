//! `redrive`: dead-lettered messages moved back to where they failed.

use std::fmt;

use serde::Serialize;

use super::resources_for;
use crate::args::RedriveArgs;
use crate::aws::sdk_config;
use crate::interrupt::StopRequest;
use crate::output::Output;
use crate::queue::WatchedQueue;
use crate::queue::queue_arn;
use crate::redrive::{Back, MoveTask, Moved, dead_letter_queue, move_messages};
use crate::report::usage;
use crate::stack::outputs;

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

pub(super) async fn run(args: RedriveArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let config = sdk_config(endpoint).await;
    let resources = resources_for(&config, &args.stack, |r| {
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
    let handled = |m: &Moved| progress.update(m.moved + m.kept.len() + m.failed.len(), None);
    let Moved { moved, kept, failed, stopped } =
        move_messages(&sqs, &queue, &back, max, handled, &mut stop).await?;
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
