//! Each verified JWT held to the first delivery it came with. Google's JWT form signs neither the body
//! nor the `webhook-id`, so within its lifetime a captured token (with the endpoint's URL token) would
//! verify any body; a conditional write of the token's hash, with the delivery's `webhook-id` and body
//! hash, lets Gemini's own retries of that delivery through and refuses every other use.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use shared::WebhookId;
use shared::message::BodySha256;
use shared::signature::JwtSeen;
use shared::signature::jwt_tokens::{BODY_SHA256, EXPIRES_AT, KEY, WEBHOOK_ID};

/// Why a token was not taken.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token came before with another delivery: a replay.
    #[error("this JWT already came with another delivery: a token is good for one")]
    Replayed,
    /// The table could not be written: 503, so Gemini retries.
    #[error("the JWT ledger {table} is unavailable: {detail}")]
    Unavailable {
        /// The table.
        table: String,
        /// What DynamoDB or the SDK said.
        detail: String,
    },
}

/// The tokens seen, in a DynamoDB table (`JWT_TOKENS_TABLE`: key `token_sha256`, TTL on `expires_at`).
#[derive(Debug, Clone)]
pub struct JwtTokens {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl JwtTokens {
    /// The ledger in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Takes `token` for the delivery `webhook_id` with body `body`: `Ok` the first time, and again for
    /// the same delivery (a retry); [`TokenError::Replayed`] for any other.
    pub async fn take(
        &self,
        token: &JwtSeen,
        webhook_id: &WebhookId,
        body: &BodySha256,
    ) -> Result<(), TokenError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(token.sha256.clone()))
            .item(WEBHOOK_ID, AttributeValue::S(webhook_id.to_string()))
            .item(BODY_SHA256, AttributeValue::S(body.as_str().to_owned()))
            .item(EXPIRES_AT, AttributeValue::N(token.expires_at.saturating_add(3600).to_string()))
            .condition_expression("attribute_not_exists(#key) OR (#id = :id AND #body = :body)")
            .expression_attribute_names("#key", KEY)
            .expression_attribute_names("#id", WEBHOOK_ID)
            .expression_attribute_names("#body", BODY_SHA256)
            .expression_attribute_values(":id", AttributeValue::S(webhook_id.to_string()))
            .expression_attribute_values(":body", AttributeValue::S(body.as_str().to_owned()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => {
                Err(TokenError::Replayed)
            }
            Err(error) => Err(TokenError::Unavailable {
                table: self.table.clone(),
                detail: DisplayErrorContext(error).to_string(),
            }),
        }
    }
}
