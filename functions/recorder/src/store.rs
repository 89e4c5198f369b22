//! The events table port, and its DynamoDB adapter: one conditional write per delivery.

use std::future::Future;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use shared::message::{BodySha256, EventRecord, table};

/// What a write found. The store reports; the handler decides what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// First delivery of this id: recorded (and so, through the stream, fanned out).
    New,
    /// The id was recorded already; nothing was written.
    Exists {
        /// The stored item's body hash (`None` if the item has none, which no recorder writes).
        stored_body_sha256: Option<BodySha256>,
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
    /// read, and the stored body's hash comes back with it.
    async fn record(&self, record: &EventRecord) -> Result<Written, StoreError> {
        let item =
            serde_dynamo::to_item(record).map_err(|e| StoreError::Refused(format!("encoding item: {e}")))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", table::KEY)
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
            let stored_body_sha256 = match failed.item().and_then(|item| item.get(table::BODY_SHA256)) {
                Some(AttributeValue::S(sha)) => Some(BodySha256::from_hex(sha)),
                _ => None,
            };
            return Ok(Written::Exists { stored_body_sha256 });
        }
        let detail = DisplayErrorContext(&error).to_string();
        Err(match error.code() {
            Some("ValidationException") => StoreError::Refused(detail),
            _ => StoreError::Transient(detail),
        })
    }
}
