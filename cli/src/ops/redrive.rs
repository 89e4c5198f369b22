//! Moving dead-lettered messages back to where they failed.
//!
//! Where SQS's own redrive applies (a queue's dead-letter queue, moved back to that queue or to one
//! named queue), it does the work: [`MoveTask`], `StartMessageMoveTask`. Where it cannot (the fanout DLQ,
//! whose messages each name their own destination; or `--max`, which the task does not take), messages
//! move one by one ([`move_messages`]): received, sent to their destination, and deleted only once
//! every destination has them, so an interrupted redrive run again sends nothing it already moved.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use shared::aws::publish::{Addressed, TargetPublisher, send_routed};
use shared::aws::queue::{SendError, classify, string_attribute};
use shared::message::{DeadLetter, DownstreamMessage, attributes};
use shared::routing::Routes;

use crate::ops::aws::{AwsCause, cause};
use crate::ops::interrupt::StopRequest;
use crate::ops::queue::{QueueError, WatchedQueue};

/// How long a message being moved is hidden from other readers.
const HIDE_SECS: i32 = 60;
/// Sends per destination before a transient refusal counts as a failure.
const ATTEMPTS: u32 = 3;

/// SQS's move task could not be started or followed.
#[derive(Debug, thiserror::Error)]
pub enum MoveTaskError {
    /// An SQS call failed.
    #[error("SQS {action} for {queue} failed")]
    Sqs {
        /// The SQS action.
        action: &'static str,
        /// The queue (URL or ARN).
        queue: String,
        /// What SQS said.
        #[source]
        source: AwsCause,
    },
    /// A queue's attributes could not be read.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The queue has no dead-letter queue to redrive from.
    #[error("{0} has no dead-letter queue (no RedrivePolicy): nothing to redrive")]
    NoDeadLetterQueue(String),
}

fn sqs_error<E, R>(
    action: &'static str,
    queue: &str,
) -> impl FnOnce(aws_sdk_sqs::error::SdkError<E, R>) -> MoveTaskError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let queue = queue.to_owned();
    move |e| MoveTaskError::Sqs { action, queue, source: cause(e) }
}

/// The URL of `queue_url`'s dead-letter queue, from its redrive policy.
pub async fn dead_letter_queue(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<String, MoveTaskError> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(sqs_error("GetQueueAttributes", queue_url))?;
    let policy = answer.attributes().and_then(|a| a.get(&QueueAttributeName::RedrivePolicy));
    let target = policy
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned))
        .ok_or_else(|| MoveTaskError::NoDeadLetterQueue(queue_url.to_owned()))?;
    // arn:aws:sqs:REGION:ACCOUNT:NAME
    let mut parts = target.rsplit(':');
    let (name, account) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(account)
        .send()
        .await
        .map_err(sqs_error("GetQueueUrl", &target))?;
    Ok(url.queue_url().unwrap_or_default().to_owned())
}

/// Where a move task is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// Messages moved so far.
    pub moved: i64,
    /// Messages to move in all, as SQS counted them at the start.
    pub to_move: i64,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

impl TaskStatus {
    /// Whether SQS is still moving.
    pub fn running(&self) -> bool {
        matches!(self.status.as_str(), "RUNNING" | "CANCELLING")
    }
}

/// SQS's redrive of one dead-letter queue.
#[derive(Debug, Clone)]
pub struct MoveTask {
    sqs: aws_sdk_sqs::Client,
    source_arn: String,
    handle: String,
}

impl MoveTask {
    /// Starts moving every message of the DLQ `source_arn` to `destination_arn`, or back to the queue
    /// it is the DLQ of.
    pub async fn start(
        sqs: &aws_sdk_sqs::Client,
        source_arn: &str,
        destination_arn: Option<&str>,
    ) -> Result<Self, MoveTaskError> {
        let started = sqs
            .start_message_move_task()
            .source_arn(source_arn)
            .set_destination_arn(destination_arn.map(str::to_owned))
            .send()
            .await
            .map_err(sqs_error("StartMessageMoveTask", source_arn))?;
        Ok(Self {
            sqs: sqs.clone(),
            source_arn: source_arn.to_owned(),
            handle: started.task_handle().unwrap_or_default().to_owned(),
        })
    }

    /// The task's latest status.
    pub async fn status(&self) -> Result<TaskStatus, MoveTaskError> {
        let listed = self
            .sqs
            .list_message_move_tasks()
            .source_arn(&self.source_arn)
            .max_results(1)
            .send()
            .await
            .map_err(sqs_error("ListMessageMoveTasks", &self.source_arn))?;
        let task = listed.results().first();
        Ok(TaskStatus {
            status: task.and_then(|t| t.status()).unwrap_or("UNKNOWN").to_owned(),
            moved: task.map_or(0, |t| t.approximate_number_of_messages_moved()),
            to_move: task.and_then(|t| t.approximate_number_of_messages_to_move()).unwrap_or(0),
            failure: task.and_then(|t| t.failure_reason()).map(str::to_owned),
        })
    }

    /// Cancels it (Ctrl-C): what was moved stays moved.
    pub async fn cancel(&self) -> Result<(), MoveTaskError> {
        self.sqs
            .cancel_message_move_task()
            .task_handle(&self.handle)
            .send()
            .await
            .map_err(sqs_error("CancelMessageMoveTask", &self.source_arn))?;
        Ok(())
    }

    /// Follows it until it ends, reporting each status; `stop` (Ctrl-C) cancels it, once, and it is
    /// followed on while SQS says `CANCELLING`.
    pub async fn wait(
        &self,
        mut progress: impl FnMut(&TaskStatus),
        stop: &mut StopRequest,
    ) -> Result<TaskStatus, MoveTaskError> {
        let mut cancelled = false;
        loop {
            let status = self.status().await?;
            progress(&status);
            if !status.running() {
                return Ok(status);
            }
            tokio::select! {
                () = stop.wait(), if !cancelled => {
                    self.cancel().await?;
                    cancelled = true;
                }
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// Where messages moved one by one go.
#[derive(Debug, Clone)]
pub enum Back {
    /// Every message to this queue, as it is (body and attributes, minus the failure's).
    Queue(String),
    /// Each downstream message to the queue it failed on (`destination_queue`), or, with routes, where
    /// they send its event now.
    Destinations(Option<Routes>),
}

/// What moving message by message did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Moved {
    /// Messages moved (sent to every destination, then deleted).
    pub moved: usize,
    /// Messages left where they were, by SQS message id, with why (nowhere to send them).
    pub kept: Vec<(String, String)>,
    /// Messages that could not be sent, left in the queue, by SQS message id, with why.
    pub failed: Vec<(String, String)>,
    /// Stopped by `--max` or Ctrl-C before the queue was empty.
    pub stopped: bool,
}

/// Moves the messages of `from` back, at most `max` of them, reporting the count handled; `stop`
/// (Ctrl-C) ends the run after the message in hand.
pub async fn move_messages(
    sqs: &aws_sdk_sqs::Client,
    publisher: &TargetPublisher,
    from: &WatchedQueue,
    back: &Back,
    max: Option<usize>,
    mut progress: impl FnMut(&Moved),
    stop: &mut StopRequest,
) -> Result<Moved, QueueError> {
    let mut moved = Moved::default();
    let mut left_hidden: Vec<Message> = Vec::new();
    'receiving: loop {
        let page = from.receive(1, Some(HIDE_SECS)).await?;
        if page.is_empty() {
            break;
        }
        let mut page = page.into_iter();
        while let Some(message) = page.next() {
            let handled = moved.moved + moved.kept.len() + moved.failed.len();
            if max.is_some_and(|max| handled >= max) || stop.requested().await {
                moved.stopped = true;
                left_hidden.push(message);
                left_hidden.extend(page);
                break 'receiving;
            }
            let id = message.message_id().unwrap_or_default().to_owned();
            match send_back(sqs, publisher, &message, back).await {
                Ok(()) => {
                    from.delete(&message).await?;
                    moved.moved += 1;
                }
                Err(Outcome::Kept(reason)) => {
                    moved.kept.push((id, reason));
                    left_hidden.push(message);
                }
                Err(Outcome::Failed(reason)) => {
                    moved.failed.push((id, reason));
                    left_hidden.push(message);
                }
            }
            progress(&moved);
        }
    }
    // What stays is visible again at once, not after the hiding time.
    from.make_visible(&left_hidden).await?;
    Ok(moved)
}

/// Why a message was not moved.
enum Outcome {
    /// It names nowhere to go.
    Kept(String),
    /// A destination refused it.
    Failed(String),
}

async fn send_back(
    sqs: &aws_sdk_sqs::Client,
    publisher: &TargetPublisher,
    message: &Message,
    back: &Back,
) -> Result<(), Outcome> {
    match back {
        Back::Queue(url) => send_copy(sqs, url, message).await.map_err(|e| Outcome::Failed(e.to_string())),
        Back::Destinations(routes) => {
            let body = message.body().unwrap_or_default();
            let downstream = DownstreamMessage::from_sqs_body(body).map_err(|_| {
                let reason = attribute(message, attributes::FAILURE_REASON).unwrap_or("unknown");
                Outcome::Kept(format!(
                    "not a downstream message ({reason}): a stream batch pointer or an undecodable record; its event is in the events table (`replay`)"
                ))
            })?;
            let destinations: Vec<String> = match routes {
                Some(routes) => routes
                    .destinations(&downstream.event_type, downstream.user_metadata.as_ref())
                    .targets
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                None => attribute(message, attributes::DESTINATION_QUEUE)
                    .map(|q| vec![q.to_owned()])
                    .ok_or_else(|| Outcome::Kept("no destination_queue attribute: give --routes".into()))?,
            };
            let targets = destinations.iter().map(String::as_str).collect();
            let window = [Addressed { index: 0, message: downstream, targets }];
            let sent = send_routed(publisher, &window, ATTEMPTS).await;
            if let Some(unsent) = sent.unsent.first() {
                let target = unsent.target.as_deref().unwrap_or("-");
                return Err(Outcome::Failed(format!("{target}: {}", unsent.error)));
            }
            Ok(())
        }
    }
}

fn attribute<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message.message_attributes()?.get(name)?.string_value()
}

/// Sends `message` to `url` as it is: its body and attributes, without the failure's attributes; on a
/// FIFO queue in its own group, deduplicated by its SQS id.
async fn send_copy(sqs: &aws_sdk_sqs::Client, url: &str, message: &Message) -> Result<(), SendError> {
    let mut send = sqs.send_message().queue_url(url).message_body(message.body().unwrap_or_default());
    for (name, value) in message.message_attributes().into_iter().flatten() {
        if DeadLetter::FAILURE_ATTRIBUTES.contains(&name.as_str()) {
            continue;
        }
        if let Some(value) = value.string_value().and_then(string_attribute) {
            send = send.message_attributes(name, value);
        }
    }
    if url.ends_with(".fifo") {
        let system = message.attributes();
        let group = system
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .map(String::as_str)
            .or_else(|| attribute(message, attributes::WEBHOOK_ID))
            .unwrap_or("redrive");
        send =
            send.message_group_id(group).message_deduplication_id(message.message_id().unwrap_or_default());
    }
    send.send().await.map(|_| ()).map_err(|e| classify(&e))
}
