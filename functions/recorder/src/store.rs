//! The events table port, and its DynamoDB adapter: one conditional write per delivery.

use std::future::Future;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use shared::message::EventRecord;

/// What a write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// First delivery of this id: recorded (and so, through the stream, fanned out).
    New,
    /// The id was recorded already, with the same body: a retry.
    Duplicate,
    /// The id was recorded already, with another body: the first one stands.
    Conflict {
        /// The stored item's body hash.
        stored_sha256: String,
    },
}

/// The write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A retry may succeed (throttling, 5xx, timeouts, a missing table or role mid-deploy).
    #[error("recording failed: {0}")]
    Transient(String),
    /// DynamoDB refuses this item for good (a `ValidationException`: too large, an invalid value).
    #[error("DynamoDB refused the item: {0}")]
    Refused(String),
}

impl StoreError {
    /// Whether retrying the same record can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// Where deliveries are recorded.
pub trait EventStore: Send + Sync {
    /// Writes `record` unless its id is recorded already.
    fn record(&self, record: &EventRecord) -> impl Future<Output = Result<Written, StoreError>> + Send;
}

/// The events table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoDbEventStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbEventStore {
    /// The table `table`, through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl EventStore for DynamoDbEventStore {
    /// `attribute_not_exists(webhook_id)` with ALL_OLD on failure: a duplicate costs one write and no
    /// read, and still tells a retry from a conflict.
    async fn record(&self, record: &EventRecord) -> Result<Written, StoreError> {
        let item =
            serde_dynamo::to_item(record).map_err(|e| StoreError::Refused(format!("encoding item: {e}")))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(webhook_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Written::New),
            Err(error) => error,
        };
        if let SdkError::ServiceError(failure) = &error
            && let PutItemError::ConditionalCheckFailedException(failed) = failure.err()
        {
            let stored = match failed.item().and_then(|item| item.get("body_sha256")) {
                Some(AttributeValue::S(sha)) => sha.as_str(),
                _ => "",
            };
            return Ok(if stored == record.body_sha256.as_str() {
                Written::Duplicate
            } else {
                Written::Conflict { stored_sha256: stored.to_owned() }
            });
        }
        let detail = DisplayErrorContext(&error).to_string();
        Err(match error.code() {
            Some("ValidationException") => StoreError::Refused(detail),
            _ => StoreError::Transient(detail),
        })
    }
}
