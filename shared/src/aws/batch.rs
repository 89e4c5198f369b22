//! Partial batch responses, for the SQS and stream triggers (`ReportBatchItemFailures`): the records to
//! retry, by id. A failed record without an id cannot be reported alone, so the whole batch fails
//! instead: retried, never lost.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

/// A failed record has no id (an SQS `messageId`, a stream `SequenceNumber`) to report it by.
#[derive(Debug, thiserror::Error)]
#[error("a failed record has no {0} to report it by; failing the whole batch so nothing is lost")]
pub struct UnreportableFailure(&'static str);

impl From<UnreportableFailure> for lambda_runtime::Diagnostic {
    fn from(error: UnreportableFailure) -> Self {
        Self { error_type: "UnreportableFailure".into(), error_message: error.to_string() }
    }
}

/// The SQS trigger's response: the failed records' message ids.
pub fn sqs_response(
    failed: impl IntoIterator<Item = Option<String>>,
) -> Result<SqsBatchResponse, UnreportableFailure> {
    let mut response = SqsBatchResponse::default();
    for message_id in failed {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message_id.ok_or(UnreportableFailure("messageId"))?;
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// The stream trigger's response: the failed records' sequence numbers.
pub fn stream_response(
    failed: impl IntoIterator<Item = Option<String>>,
) -> Result<DynamoDbEventResponse, UnreportableFailure> {
    let mut response = DynamoDbEventResponse::default();
    for sequence_number in failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number.ok_or(UnreportableFailure("sequence number"))?);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_without_an_id_fails_the_whole_batch() {
        let response = sqs_response([Some("a".to_owned())]).unwrap();
        assert_eq!(response.batch_item_failures[0].item_identifier, "a");
        assert!(sqs_response([Some("a".to_owned()), None]).is_err());
        assert!(stream_response([None]).is_err());
        assert!(stream_response([]).unwrap().batch_item_failures.is_empty());
    }
}
