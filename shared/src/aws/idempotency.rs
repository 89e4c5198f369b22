//! Handling each event once, on the consumer's side: standard SQS queues deliver at least once, and a
//! stream retry can send an event twice, so a consumer claims each `webhook_id` in a small table of its
//! own before acting on it.
//!
//! A claim is a lease, not a mark: if the consumer fails (or dies) while acting, the event is not lost.
//! It [`Idempotency::release`]s the claim on failure, or the lease simply runs out, and the redelivery
//! claims it again. Only [`Idempotency::done`] makes later deliveries skip it. Each claim carries a
//! random owner: `done` and `release` act on the caller's own claim only, so a holder whose lease ran
//! out (and was overtaken) cannot release or complete its successor's. Keys live in a namespace, so
//! consumers sharing one table never suppress each other.
//!
//! ```no_run
//! # async fn act(_: &gemini_webhooks_aws::message::DownstreamMessage) -> Result<(), std::io::Error> { Ok(()) }
//! # async fn example(once: gemini_webhooks_aws::aws::idempotency::Idempotency, message: gemini_webhooks_aws::message::DownstreamMessage)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use gemini_webhooks_aws::aws::idempotency::Claim;
//! let key = message.idempotency_key(); // the webhook-id; a replay's own key adds when it was replayed
//! match once.claim(&key).await? {
//!     Claim::AlreadyDone => {}                                  // a duplicate: acknowledge it
//!     Claim::InProgress => return Err("being handled".into()), // report it failed: SQS redelivers later
//!     Claim::Acquired(held) => match act(&message).await {
//!         Ok(()) => {
//!             once.done(&held).await?; // false: its lease ran out and a redelivery took it over
//!         }
//!         Err(error) => {
//!             once.release(&held).await?;
//!             return Err(error.into());
//!         }
//!     },
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use rand_core::RngCore as _;

use crate::clock::Clock;

/// The table's partition key (a string).
pub const KEY: &str = "webhook_id";
/// `in_progress` or `done`.
pub const STATUS: &str = "status";
/// Who holds an `in_progress` claim: a random value per claim.
pub const OWNER: &str = "owner";
/// Until when (Unix seconds) an `in_progress` claim holds.
pub const LEASE_UNTIL: &str = "lease_until";
/// When DynamoDB's TTL may delete the claim (Unix seconds): the table's TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";

const IN_PROGRESS: &str = "in_progress";
const DONE: &str = "done";

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First to claim it (or the previous claim's lease ran out): act on it, then call `done` (or
    /// `release`) with this.
    Acquired(Held),
    /// Handled before: acknowledge the duplicate and do nothing.
    AlreadyDone,
    /// Another invocation is acting on it now: report it failed, so it comes back after that one.
    InProgress,
}

/// A claim this caller holds: what `done` and `release` act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    key: String,
    owner: String,
}

/// The table could not be read or written: report the message failed, so SQS redelivers it.
#[derive(Debug, thiserror::Error)]
#[error("idempotency table {table}: {detail}")]
pub struct IdempotencyError {
    table: String,
    detail: String,
}

/// Claims on `webhook_id`s in a DynamoDB table (partition key [`KEY`], TTL on [`EXPIRES_AT`]), under
/// a namespace of the consumer's own.
#[derive(Debug, Clone)]
pub struct Idempotency {
    client: aws_sdk_dynamodb::Client,
    table: String,
    namespace: String,
    lease_secs: i64,
    keep_secs: i64,
    clock: Arc<dyn Clock>,
}

impl Idempotency {
    /// Claims in `table`, for the consumer `namespace` (its name: two consumers of one event, sharing
    /// the table, each act on it once). `lease_secs` should outlast one attempt at acting (your
    /// function's timeout); `keep_secs` how long a done event is remembered (longer than duplicates can
    /// arrive: a week covers Gemini's 24 h of retries, the queue's retention and a replay).
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        namespace: impl Into<String>,
        lease_secs: u64,
        keep_secs: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        Self {
            client,
            table: table.into(),
            namespace: namespace.into(),
            lease_secs: secs(lease_secs),
            keep_secs: secs(keep_secs),
            clock,
        }
    }

    fn key(&self, key: &impl std::fmt::Display) -> String {
        format!("{}#{key}", self.namespace)
    }

    fn error(&self, error: impl std::error::Error) -> IdempotencyError {
        IdempotencyError { table: self.table.clone(), detail: DisplayErrorContext(error).to_string() }
    }

    /// Claims `key` (an event's `webhook_id`, or any key that names one piece of work) with one
    /// conditional write: new, or an `in_progress` claim whose lease ran out.
    pub async fn claim(&self, key: &impl std::fmt::Display) -> Result<Claim, IdempotencyError> {
        let now = self.clock.unix_now();
        let held = Held { key: self.key(key), owner: owner() };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(held.key.clone()))
            .item(STATUS, AttributeValue::S(IN_PROGRESS.into()))
            .item(OWNER, AttributeValue::S(held.owner.clone()))
            .item(LEASE_UNTIL, AttributeValue::N(now.saturating_add(self.lease_secs).to_string()))
            .item(EXPIRES_AT, AttributeValue::N(now.saturating_add(self.keep_secs).to_string()))
            .condition_expression("attribute_not_exists(#key) OR (#status = :in_progress AND #lease < :now)")
            .expression_attribute_names("#key", KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired(held)),
            Err(SdkError::ServiceError(failure)) => match failure.err() {
                PutItemError::ConditionalCheckFailedException(found) => {
                    let done = found.item().and_then(|item| item.get(STATUS))
                        == Some(&AttributeValue::S(DONE.into()));
                    Ok(if done { Claim::AlreadyDone } else { Claim::InProgress })
                }
                _ => Err(self.error(SdkError::ServiceError(failure))),
            },
            Err(error) => Err(self.error(error)),
        }
    }

    /// Marks the event `held` names handled, if the claim is still the caller's: later deliveries get
    /// [`Claim::AlreadyDone`]. `Ok(false)` when another holder took the claim over meanwhile (this one's
    /// lease ran out): its work stands, and its own `done` marks it.
    pub async fn done(&self, held: &Held) -> Result<bool, IdempotencyError> {
        let now = self.clock.unix_now();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(held.key.clone()))
            .item(STATUS, AttributeValue::S(DONE.into()))
            .item(EXPIRES_AT, AttributeValue::N(now.saturating_add(self.keep_secs).to_string()))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", AttributeValue::S(held.owner.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(error) => Err(self.error(error)),
        }
    }

    /// Gives up the caller's claim after acting failed, so the redelivery can claim it at once; a claim
    /// another holder took over, or one done, is left as it is.
    pub async fn release(&self, held: &Held) -> Result<(), IdempotencyError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(held.key.clone()))
            .condition_expression("#status = :in_progress AND #owner = :owner")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":owner", AttributeValue::S(held.owner.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Done, gone, or someone else's now: nothing of ours to give up.
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(error) => Err(self.error(error)),
        }
    }
}

/// A random owner for one claim: 16 bytes, hex.
fn owner() -> String {
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
