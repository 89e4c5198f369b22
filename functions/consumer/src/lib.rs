//! An example consumer of a routed queue: one call turns each SQS record into a
//! [`DownstreamMessage`], and the match on its kind is where your code goes (download the batch
//! results, resume the interaction, fetch the video). Copy this crate to start your own.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::event::EventKind;
use shared::message::DownstreamMessage;

/// Handles one batch; a record that is not a downstream message is reported failed (and, after the
/// queue's retries, lands in its DLQ) while the others go on.
pub async fn handle(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, std::convert::Infallible> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let parsed = DownstreamMessage::from_sqs_body(record.body.as_deref().unwrap_or_default());
        match parsed {
            Ok(message) => act_on(&message),
            Err(error) => {
                tracing::error!(message_id = record.message_id.as_deref(), %error, "not a downstream message");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
    }
    Ok(response)
}

/// What a real consumer would act on. Handling must be idempotent on `webhook_id`: standard SQS
/// queues deliver at least once.
fn act_on(message: &DownstreamMessage) {
    let id = message.webhook_id.as_str();
    let job = message.data_id.as_deref().unwrap_or("<no id>");
    match message.kind() {
        EventKind::BatchSucceeded | EventKind::VideoGenerated => tracing::info!(
            webhook_id = id,
            job,
            output = message.event.output_uri(),
            "job finished: fetch its output"
        ),
        kind if kind.is_failure() => tracing::warn!(
            webhook_id = id,
            job,
            error_code = message.event.error_code().map(|c| c.to_string()),
            error_message = message.event.error_message(),
            "job failed"
        ),
        _ => tracing::info!(webhook_id = id, job, event_type = %message.event_type, "job event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;
    use lambda_runtime::Context;

    fn record(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.into());
        message.body = Some(body.into());
        message
    }

    #[tokio::test]
    async fn only_the_unparseable_record_is_reported_failed() {
        let good = r#"{"webhook_id":"msg_1","type":"batch.succeeded","data_id":"batches/1","user_metadata":null,
            "event":{"type":"batch.succeeded","data":{"id":"batches/1"}},"scheme":"v1",
            "webhook_timestamp":1769083200,"received_at":1769083200100,"recorded_at":1769083200200}"#;
        let mut event = SqsEvent::default();
        event.records = vec![record("a", good), record("b", "{}"), record("c", good)];
        let response = handle(LambdaEvent::new(event, Context::default())).await.unwrap();
        let failed: Vec<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["b"]);
    }
}
