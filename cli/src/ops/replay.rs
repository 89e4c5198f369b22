//! Sending recorded events again: to one queue, or through a routing (the stack's own), each marked as
//! a replay (`replayed_at` in the message and as an attribute). Events go oldest first, ten at a time,
//! every queue's share of ten in one SendMessageBatch, so one job's events keep their order on a FIFO
//! queue, as the fanout keeps it.

use std::collections::BTreeMap;

use shared::aws::publish::{Addressed, Publisher, WINDOW, send_routed};
use shared::id::WebhookId;
use shared::message::{DownstreamMessage, EventRecord};
use shared::routing::Routes;

use crate::ops::interrupt::StopRequest;

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
    /// Every target a replay can send to: queue URLs and bus ARNs.
    pub fn all_targets(&self) -> Vec<&str> {
        match self {
            Self::Queue(url) => vec![url.as_str()],
            Self::Routes(routes) => routes.targets(),
        }
    }

    fn targets<'a>(&'a self, event: &EventRecord) -> Vec<&'a str> {
        match self {
            Self::Queue(url) => vec![url.as_str()],
            Self::Routes(routes) => {
                routes.destinations(&event.event_type, event.event.user_metadata()).targets
            }
        }
    }
}

/// One event that did not reach one of its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// The event.
    pub webhook_id: WebhookId,
    /// The queue (`-` when the message could not be made at all).
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

/// Replays `events` (oldest first) to `target`, marked `replayed_at`, a window of [`WINDOW`] at a time
/// through the fanout's own sending step, so one job's events keep their order on a FIFO queue. After
/// each window it reports progress and asks `stop` whether to go on (Ctrl-C): a replay stops between
/// windows, never inside one.
pub async fn replay<P: Publisher>(
    publisher: &P,
    events: &[EventRecord],
    target: &Target,
    replayed_at: i64,
    mut progress: impl FnMut(usize),
    stop: &mut StopRequest,
) -> Replayed {
    let mut replayed = Replayed::default();
    for (step, chunk) in events.chunks(WINDOW).enumerate() {
        let window: Vec<Addressed<'_>> = chunk
            .iter()
            .enumerate()
            .map(|(index, event)| Addressed {
                index,
                message: DownstreamMessage {
                    replayed_at: Some(replayed_at),
                    ..DownstreamMessage::from(event.clone())
                },
                targets: target.targets(event),
            })
            .collect();
        let sent = send_routed(publisher, &window, ATTEMPTS).await;
        for (queue, count) in sent.delivered {
            *replayed.sent.entry(queue).or_default() += count;
        }
        replayed.failed.extend(sent.unsent.into_iter().map(|unsent| Unsent {
            webhook_id: unsent.webhook_id,
            queue: unsent.target.unwrap_or_else(|| "-".into()),
            error: unsent.error.to_string(),
        }));
        replayed.events += chunk.len();
        progress(replayed.events);
        let last = (step + 1) * WINDOW >= events.len();
        if !last && stop.requested().await {
            replayed.stopped_after = chunk.last().cloned();
            break;
        }
    }
    replayed
}
