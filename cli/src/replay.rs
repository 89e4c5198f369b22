//! Sending recorded events again: to one queue, or through a routing (the stack's own), each marked as
//! a replay (`replayed_at` in the message and as an attribute). Events go oldest first, ten at a time,
//! every queue's share of ten in one SendMessageBatch, so one job's events keep their order on a FIFO
//! queue, as the fanout keeps it.

use std::collections::BTreeMap;

use futures::future::join_all;
use shared::aws::publish::{Outgoing, Publisher, send_all};
use shared::aws::sqs::SendError;
use shared::message::{DownstreamMessage, EventRecord};
use shared::routing::Routes;

use crate::interrupt::StopRequest;

/// Events per step: one SendMessageBatch per queue.
pub const STEP: usize = 10;
/// Sends per entry before a transient refusal counts as a failure.
pub const ATTEMPTS: u32 = 3;

/// Where replayed events go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Every event to this queue.
    Queue(String),
    /// Each event where these routes send it.
    Routes(Routes),
}

impl Target {
    /// Every queue a replay can send to.
    pub fn all_queues(&self) -> Vec<&str> {
        match self {
            Self::Queue(url) => vec![url.as_str()],
            Self::Routes(routes) => routes.queues(),
        }
    }

    fn queues<'a>(&'a self, event: &EventRecord) -> Vec<&'a str> {
        match self {
            Self::Queue(url) => vec![url.as_str()],
            Self::Routes(routes) => {
                routes.destinations(&event.event_type, event.event.user_metadata()).queues
            }
        }
    }
}

/// One event that did not reach one of its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// The event.
    pub webhook_id: String,
    /// The queue.
    pub queue: String,
    /// Why.
    pub error: String,
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Replayed {
    /// Events handled (sent to every queue, or failed somewhere).
    pub events: usize,
    /// Messages sent, by queue.
    pub sent: BTreeMap<String, usize>,
    /// What did not get there.
    pub failed: Vec<Unsent>,
    /// The last event handled, when stopped before the end: where to start again.
    pub stopped_after: Option<EventRecord>,
}

/// Replays `events` (oldest first) to `target`, marked `replayed_at`. After each step of [`STEP`]
/// events it reports progress and asks `stop` whether to go on (Ctrl-C): a replay stops between steps,
/// never inside one.
pub async fn replay<P: Publisher>(
    publisher: &P,
    events: &[EventRecord],
    target: &Target,
    replayed_at: i64,
    mut progress: impl FnMut(usize),
    stop: &mut StopRequest,
) -> Replayed {
    let mut replayed = Replayed::default();
    for (step, chunk) in events.chunks(STEP).enumerate() {
        let mut per_queue: BTreeMap<&str, Vec<Outgoing>> = BTreeMap::new();
        for (index, event) in chunk.iter().enumerate() {
            let message = DownstreamMessage {
                replayed_at: Some(replayed_at),
                ..DownstreamMessage::from(event.clone())
            };
            match Outgoing::new(index, &message) {
                Ok(outgoing) => {
                    for queue in target.queues(event) {
                        per_queue.entry(queue).or_default().push(outgoing.clone());
                    }
                }
                Err(e) => replayed.failed.push(Unsent {
                    webhook_id: event.provenance.webhook_id.to_string(),
                    queue: "-".into(),
                    error: format!("not serialisable: {e}"),
                }),
            }
        }
        let sends = per_queue.iter().map(|(queue, entries)| send_all(publisher, queue, entries, ATTEMPTS));
        for ((queue, entries), unsent) in per_queue.iter().zip(join_all(sends).await) {
            *replayed.sent.entry((*queue).to_owned()).or_default() += entries.len() - unsent.len();
            replayed.failed.extend(unsent.into_iter().map(|(entry, error): (Outgoing, SendError)| Unsent {
                webhook_id: chunk[entry.index].provenance.webhook_id.to_string(),
                queue: (*queue).to_owned(),
                error: error.to_string(),
            }));
        }
        replayed.events += chunk.len();
        progress(replayed.events);
        let last = (step + 1) * STEP >= events.len();
        if !last && stop.requested().await {
            replayed.stopped_after = chunk.last().cloned();
            break;
        }
    }
    replayed
}
