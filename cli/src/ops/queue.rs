//! A queue read by a person or a development tool, not by the pipeline: receive, then delete what was
//! handled, or make it visible again at once so nothing is taken from the queue's real readers for long.
//!
//! Every receive counts toward the queue's `maxReceiveCount`: a message read and put back often enough
//! moves to the dead-letter queue. So the operations here read each message once per pass.

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};

use crate::ops::aws::{AwsCause, cause};

/// An SQS call failed; names the call and the queue.
#[derive(Debug, thiserror::Error)]
#[error(
    "SQS {action} on {queue} failed (check the URL, your AWS credentials and region; --endpoint for a local emulator)"
)]
pub struct QueueError {
    /// The SQS action.
    pub action: &'static str,
    /// The queue's URL.
    pub queue: String,
    /// What SQS or the SDK said.
    #[source]
    pub source: AwsCause,
}

/// How long reading a queue without consuming it hides each message while it reads the rest.
pub const PEEK_SECS: i32 = 30;
/// The most messages one pass reads, unless told otherwise.
pub const PASS_MAX: usize = 100;

/// The ARN of the queue at `url` (which also proves it exists and can be read).
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, QueueError> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| QueueError { action: "GetQueueAttributes", queue: url.to_owned(), source: cause(e) })?;
    Ok(answer.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap_or_default())
}

/// What one bounded pass over a queue read.
#[derive(Debug, Default)]
pub struct Pass {
    /// Each message once, in the order read.
    pub messages: Vec<Message>,
    /// The pass stopped at its count or time bound: more may be waiting.
    pub more: bool,
}

/// One queue.
#[derive(Debug, Clone)]
pub struct WatchedQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl WatchedQueue {
    /// The queue at `url`.
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { sqs, url: url.into() }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error<E, R>(
        &self,
        action: &'static str,
    ) -> impl FnOnce(aws_sdk_sqs::error::SdkError<E, R>) -> QueueError + '_
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        move |e| QueueError { action, queue: self.url.clone(), source: cause(e) }
    }

    /// Up to ten messages, long-polling up to `wait_secs` (which asks every SQS host, so an empty answer
    /// means nothing is visible), each hidden from other readers for `hide_secs` (the queue's own
    /// visibility timeout when `None`).
    pub async fn receive(&self, wait_secs: i32, hide_secs: Option<i32>) -> Result<Vec<Message>, QueueError> {
        self.receive_up_to(10, wait_secs, hide_secs).await
    }

    /// As [`WatchedQueue::receive`], at most `count` (1 to 10) messages.
    async fn receive_up_to(
        &self,
        count: i32,
        wait_secs: i32,
        hide_secs: Option<i32>,
    ) -> Result<Vec<Message>, QueueError> {
        let page = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(count.clamp(1, 10))
            .wait_time_seconds(wait_secs)
            .set_visibility_timeout(hide_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(self.error("ReceiveMessage"))?;
        Ok(page.messages.unwrap_or_default())
    }

    /// The visible messages, each read once and hidden for `hide_secs` while the rest are read, up to
    /// `max` of them and for at most `hide_secs` less ten: past that, the first ones read would be
    /// visible again, and reading them twice would count twice toward `maxReceiveCount` (a copy SQS
    /// hands out again anyway is recognised by its message id and left out). Give them back with
    /// [`WatchedQueue::make_visible`] or [`WatchedQueue::delete`].
    pub async fn take(&self, hide_secs: i32, max: usize) -> Result<Pass, QueueError> {
        let started = std::time::Instant::now();
        let within = std::time::Duration::from_secs(u64::try_from(hide_secs.saturating_sub(10)).unwrap_or(0));
        let mut pass = Pass::default();
        let mut seen = std::collections::HashSet::new();
        loop {
            if pass.messages.len() >= max || started.elapsed() >= within {
                pass.more = true;
                return Ok(pass);
            }
            let left = i32::try_from(max - pass.messages.len()).unwrap_or(10);
            let page = self.receive_up_to(left, 1, Some(hide_secs)).await?;
            if page.is_empty() {
                return Ok(pass);
            }
            for message in page {
                if seen.insert(message.message_id().unwrap_or_default().to_owned()) {
                    pass.messages.push(message);
                }
            }
        }
    }

    /// The visible messages, read without consuming them (as [`WatchedQueue::take`] bounds the pass),
    /// then visible to every reader again at once.
    pub async fn peek(&self, max: usize) -> Result<Pass, QueueError> {
        let pass = self.take(PEEK_SECS, max).await?;
        self.make_visible(&pass.messages).await?;
        Ok(pass)
    }

    /// Makes `messages` visible to every reader again, at once.
    pub async fn make_visible<'a>(
        &self,
        messages: impl IntoIterator<Item = &'a Message>,
    ) -> Result<(), QueueError> {
        let handles: Vec<&str> = messages.into_iter().filter_map(|m| m.receipt_handle()).collect();
        for chunk in handles.chunks(10) {
            let entries = chunk.iter().enumerate().filter_map(|(i, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            });
            self.sqs
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map_err(self.error("ChangeMessageVisibilityBatch"))?;
        }
        Ok(())
    }

    /// Deletes a handled message.
    pub async fn delete(&self, message: &Message) -> Result<(), QueueError> {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await
            .map_err(self.error("DeleteMessage"))?;
        Ok(())
    }

    /// When SQS received `message`, Unix milliseconds (when asked for, as [`WatchedQueue::receive`] does).
    pub fn sent_at(message: &Message) -> Option<i64> {
        message.attributes()?.get(&MessageSystemAttributeName::SentTimestamp)?.parse().ok()
    }
}
/// When a reading loop stops: never (`None`), or after `limit` seconds with no message.
#[derive(Debug)]
pub struct IdleLimit {
    limit: Option<u64>,
    since: tokio::time::Instant,
}

impl IdleLimit {
    /// Starts counting now.
    pub fn new(limit: Option<u64>) -> Self {
        Self { limit, since: tokio::time::Instant::now() }
    }

    /// How long the next receive may long-poll (SQS allows up to 20 s), or `None` when it is time to stop.
    pub fn next_wait(&self) -> Option<i32> {
        let left = match self.limit {
            None => 20,
            Some(limit) => limit.saturating_sub(self.since.elapsed().as_secs()).min(20),
        };
        (left > 0).then(|| i32::try_from(left).unwrap_or(20))
    }

    /// Messages arrived: the idle time starts again.
    pub fn reset(&mut self) {
        self.since = tokio::time::Instant::now();
    }
}
