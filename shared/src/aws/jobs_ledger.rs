//! The jobs table in DynamoDB: tracking a job (a conditional put), closing it with its first end (one
//! conditional update, the only write a tracked job's end costs), recording a check, and reading it
//! back. See [`crate::ledger`] for what the entries mean.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::WebhookId;
use crate::ledger::{EntryState, JobEnd, JobEntry, TaskToken};

/// The table's key attribute.
pub const KEY: &str = "job";

/// A ledger call failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A retry may succeed (throttling, 5xx, timeouts).
    #[error("the jobs table failed: {0}")]
    Transient(String),
    /// DynamoDB refuses this for good (a `ValidationException`, a missing table or permission).
    #[error("the jobs table refused: {0}")]
    Refused(String),
    /// An item that is not a ledger entry.
    #[error("an item of the jobs table is not an entry: {0}")]
    Unreadable(String),
}

impl LedgerError {
    /// Whether retrying can never succeed.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Transient(_))
    }

    fn of<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        error: SdkError<E, R>,
    ) -> Self {
        let detail = DisplayErrorContext(&error).to_string();
        match error.code() {
            Some("ValidationException" | "ResourceNotFoundException" | "AccessDeniedException") => {
                Self::Refused(detail)
            }
            _ => Self::Transient(detail),
        }
    }
}

/// What tracking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    /// A new entry.
    New,
    /// The job was tracked already: its entry, as it stands (tracking twice changes nothing).
    Already(Box<JobEntry>),
}

/// What closing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// This end closed the entry (or had closed it: a retry of the same end); the task waiting on it,
    /// when a workflow started the job.
    Closed(Option<TaskToken>),
    /// No entry: the job is not tracked here (tracked by another stack, or expired).
    NotTracked,
    /// Another end closed it first: that end's `webhook-id`.
    AlreadyEnded(WebhookId),
}

/// The jobs table.
#[derive(Debug, Clone)]
pub struct JobsLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl JobsLedger {
    /// The table `table`, through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Adds `entry` unless its job is tracked already.
    pub async fn track(&self, entry: &JobEntry) -> Result<Tracked, LedgerError> {
        let item = serde_dynamo::to_item(entry).map_err(|e| LedgerError::Refused(e.to_string()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#job)")
            .expression_attribute_names("#job", KEY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Tracked::New),
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => {
                let old = match failure.into_err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                        e,
                    ) => e.item,
                    _ => None,
                };
                let entry = decode(old.unwrap_or_default())?;
                Ok(Tracked::Already(Box::new(entry)))
            }
            Err(error) => Err(LedgerError::of(error)),
        }
    }

    /// The entry of `job`, when tracked.
    pub async fn get(&self, job: &str) -> Result<Option<JobEntry>, LedgerError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(job.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(LedgerError::of)?;
        answer.item.map(decode).transpose()
    }

    /// Closes `job`'s entry with `end` unless another end closed it first: one conditional update
    /// (`ALL_OLD` on a refusal says which end won, and on success hands back the entry's task token,
    /// with no read).
    pub async fn close(&self, job: &str, end: &JobEnd) -> Result<Closed, LedgerError> {
        let end_value =
            serde_dynamo::to_attribute_value(end).map_err(|e| LedgerError::Refused(e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(job.to_owned()))
            .update_expression("SET #end = :end, #state = :ended REMOVE next_check_at")
            .condition_expression(
                "attribute_exists(#job) AND (attribute_not_exists(#end) OR #end.webhook_id = :id)",
            )
            .expression_attribute_names("#job", KEY)
            .expression_attribute_names("#end", "end")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":end", end_value)
            .expression_attribute_values(":ended", state_value(EntryState::Ended))
            .expression_attribute_values(":id", AttributeValue::S(end.webhook_id.to_string()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failure = match result {
            Ok(closed) => {
                let token = closed.attributes.and_then(|mut old| old.remove("task_token"));
                let token = token.and_then(|t| t.as_s().ok().and_then(|t| TaskToken::parse(t).ok()));
                return Ok(Closed::Closed(token));
            }
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => {
                failure.into_err()
            }
            Err(error) => return Err(LedgerError::of(error)),
        };
        let old = match failure {
            aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e) => {
                e.item
            }
            _ => None,
        };
        let Some(old) = old else { return Ok(Closed::NotTracked) };
        let winner = decode(old)?.end.map(|end| end.webhook_id);
        // An entry with no end fails the condition only by not existing; one with an end, by its id.
        Ok(winner.map_or(Closed::NotTracked, Closed::AlreadyEnded))
    }

    /// Records a check of `job` that found it not ended: how many checks, the status read, and the
    /// next check (`None` with [`EntryState::Overdue`]: given up on). An entry closed meanwhile is left
    /// as it is.
    pub async fn checked(
        &self,
        job: &str,
        checks: u32,
        status: &str,
        next_check_at: Option<i64>,
        state: EntryState,
    ) -> Result<(), LedgerError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(job.to_owned()))
            .condition_expression("attribute_exists(#job) AND #state <> :ended")
            .expression_attribute_names("#job", KEY)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":ended", state_value(EntryState::Ended))
            .expression_attribute_values(":checks", AttributeValue::N(checks.to_string()))
            .expression_attribute_values(":status", AttributeValue::S(status.to_owned()))
            .expression_attribute_values(":state", state_value(state));
        update = match next_check_at {
            Some(at) => update
                .update_expression(
                    "SET checks = :checks, last_status = :status, #state = :state, next_check_at = :next",
                )
                .expression_attribute_values(":next", AttributeValue::N(at.to_string())),
            None => update.update_expression(
                "SET checks = :checks, last_status = :status, #state = :state REMOVE next_check_at",
            ),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(error) => Err(LedgerError::of(error)),
        }
    }

    /// Every entry (a Scan: the table holds tracked jobs only, for a month past their give-up time).
    pub async fn all(&self) -> Result<Vec<JobEntry>, LedgerError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(LedgerError::of)?;
            for item in page.items.unwrap_or_default() {
                entries.push(decode(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(entries);
            }
        }
    }
}

fn state_value(state: EntryState) -> AttributeValue {
    serde_dynamo::to_attribute_value(state).unwrap_or(AttributeValue::Null(true))
}

fn decode(item: std::collections::HashMap<String, AttributeValue>) -> Result<JobEntry, LedgerError> {
    serde_dynamo::from_item(item).map_err(|e| LedgerError::Unreadable(e.to_string()))
}
