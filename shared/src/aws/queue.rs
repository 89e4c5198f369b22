//! Sending to SQS. Every failure is classified once, here: a fault worth retrying ([`SendError::Transient`]),
//! a queue that refuses everything ([`SendError::DestinationRefused`]), or a message that will never be
//! accepted ([`SendError::MessageRefused`]); EventBridge's are read by the same codes (`aws::bus`). What each function does with that verdict is its own
//! decision (the receiver quarantines a refused message; the fanout dead-letters it).

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, MessageAttributeValue, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue,
};

use crate::limits::SQS_MAX_MESSAGE_BYTES;
use crate::sqs::escape_text;
use crate::trace::TraceHeader;

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Throttling, a 5xx, a timeout, a connection failure: a retry may succeed.
    #[error("unavailable: {0}")]
    Transient(String),
    /// The queue refuses every message (it does not exist, access is denied, its KMS key is unusable).
    #[error("the target refuses messages ({code}): {detail}")]
    DestinationRefused {
        /// SQS's error code.
        code: String,
        /// SQS's message, with context.
        detail: String,
    },
    /// This message will never be accepted (too large, invalid contents or parameters).
    #[error("the target refused the message ({code}): {detail}")]
    MessageRefused {
        /// SQS's error code, or ours for a check made before sending.
        code: String,
        /// What was wrong.
        detail: String,
    },
}

impl SendError {
    /// Whether retrying the same message to the same queue can never succeed.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Transient(_))
    }

    /// A short stable reason: SQS's code, or `transient`.
    pub fn code(&self) -> &str {
        match self {
            Self::Transient(_) => "transient",
            Self::DestinationRefused { code, .. } | Self::MessageRefused { code, .. } => code,
        }
    }
}

/// Codes that mean the queue itself refuses every message.
const DESTINATION_CODES: &[&str] = &[
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAddress",
    "InvalidSecurity",
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "KmsAccessDenied",
    "KMS.AccessDeniedException",
    "KmsDisabled",
    "KMS.DisabledException",
    "KmsInvalidKeyUsage",
    "KMS.InvalidKeyUsageException",
    "KmsInvalidState",
    "KMS.KMSInvalidStateException",
    "KmsNotFound",
    "KMS.NotFoundException",
    "KmsOptInRequired",
    "KMS.OptInRequired",
    // EventBridge: a bus that does not exist, or may not be written, or not from this source.
    "ResourceNotFoundException",
    "NotAuthorizedForSourceException",
    "NotAuthorizedForDetailTypeException",
];

/// Codes that mean "not now".
const TRANSIENT_CODES: &[&str] = &[
    "RequestThrottled",
    "ThrottlingException",
    "Throttling",
    "KmsThrottled",
    "KMS.ThrottlingException",
    "KmsThrottlingException",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "InternalException",
    "RequestTimeout",
    "TooManyRequestsException",
];

/// A failure by its service's error code (and HTTP status, for a failed call).
pub(crate) fn by_code(code: &str, status: Option<u16>, detail: String) -> SendError {
    if TRANSIENT_CODES.contains(&code) || status.is_some_and(|s| s >= 500) {
        SendError::Transient(detail)
    } else if DESTINATION_CODES.contains(&code) {
        SendError::DestinationRefused { code: code.to_owned(), detail }
    } else {
        // Any other 4xx is a verdict on this request's content.
        SendError::MessageRefused { code: code.to_owned(), detail }
    }
}

/// Classifies a failed SQS call, or a failed call of another service read by the same codes
/// (EventBridge's PutEvents, Step Functions' callbacks).
pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(error).to_string();
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            by_code(context.err().code().unwrap_or("Unknown"), Some(status), detail)
        }
        // The request could not even be built from this message: sending it again builds it again.
        SdkError::ConstructionFailure(_) => {
            SendError::MessageRefused { code: "ConstructionFailure".into(), detail }
        }
        // Timeouts, connection failures, unreadable responses.
        _ => SendError::Transient(detail),
    }
}

/// Classifies one refused entry of a SendMessageBatch.
pub fn classify_entry(entry: &BatchResultErrorEntry) -> SendError {
    let detail = entry.message().unwrap_or_default().to_owned();
    let code = entry.code();
    if TRANSIENT_CODES.contains(&code) || !entry.sender_fault() {
        SendError::Transient(format!("{code}: {detail}"))
    } else {
        by_code(code, None, detail)
    }
}

/// A String message attribute, its value made SQS-safe; `None` only if the SDK refuses to build it
/// (it requires nothing but the data type, which is set). Attributes are copies for filtering and
/// display: a message goes out without one rather than not at all.
pub fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder().data_type("String").string_value(escape_text(value)).build().ok()
}

/// The `AWSTraceHeader` system attribute carrying `trace`, so X-Ray links the hop (SQS does not count
/// it against the message's size); `None` only if the SDK refuses to build it.
pub fn trace_attribute(
    trace: &TraceHeader,
) -> Option<(MessageSystemAttributeNameForSends, MessageSystemAttributeValue)> {
    let value = MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(trace.as_str())
        .build()
        .ok()?;
    Some((MessageSystemAttributeNameForSends::AwsTraceHeader, value))
}

/// A message's size as SQS counts it against [`SQS_MAX_MESSAGE_BYTES`]: the body, and each attribute's
/// name, data type and value.
pub fn message_size(body: &str, attributes: &[(&str, &str)]) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, value)| name.len() + "String".len() + escape_text(value).len())
            .sum::<usize>()
}

/// One queue, sent to one message at a time.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`, through `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `body` (already SQS-safe) with String `attributes`, and the delivery's `trace` as its
    /// `AWSTraceHeader`; `Ok` once SQS has durably accepted it.
    pub async fn send(
        &self,
        body: String,
        attributes: &[(&str, &str)],
        trace: Option<&TraceHeader>,
    ) -> Result<(), SendError> {
        let size = message_size(&body, attributes);
        if size > SQS_MAX_MESSAGE_BYTES {
            return Err(SendError::MessageRefused {
                code: "MessageTooLong".into(),
                detail: format!("{size} bytes with attributes, over SQS's {SQS_MAX_MESSAGE_BYTES}"),
            });
        }
        let mut request = self.client.send_message().queue_url(&self.url).message_body(body);
        for (name, value) in attributes {
            if let Some(attribute) = string_attribute(value) {
                request = request.message_attributes(*name, attribute);
            }
        }
        if let Some((name, value)) = trace.and_then(trace_attribute) {
            request = request.message_system_attributes(name, value);
        }
        request.send().await.map(|_| ()).map_err(|e| classify(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_into_the_three_verdicts() {
        assert!(matches!(
            by_code("QueueDoesNotExist", Some(400), String::new()),
            SendError::DestinationRefused { .. }
        ));
        assert!(matches!(
            by_code("AccessDenied", Some(403), String::new()),
            SendError::DestinationRefused { .. }
        ));
        assert!(matches!(
            by_code("InvalidMessageContents", Some(400), String::new()),
            SendError::MessageRefused { .. }
        ));
        assert!(matches!(
            by_code("InvalidParameterValue", Some(400), String::new()),
            SendError::MessageRefused { .. }
        ));
        assert!(matches!(by_code("RequestThrottled", Some(400), String::new()), SendError::Transient(_)));
        assert!(matches!(by_code("Whatever", Some(503), String::new()), SendError::Transient(_)));
    }

    #[test]
    fn a_refused_batch_entry_is_permanent_only_when_the_sender_is_at_fault() {
        let entry = |code: &str, sender_fault: bool| {
            BatchResultErrorEntry::builder().id("0").code(code).sender_fault(sender_fault).build().unwrap()
        };
        assert!(classify_entry(&entry("InvalidParameterValue", true)).is_permanent());
        assert!(!classify_entry(&entry("InternalError", false)).is_permanent());
        assert!(!classify_entry(&entry("RequestThrottled", true)).is_permanent());
    }

    #[test]
    fn attributes_are_made_sqs_safe() {
        assert_eq!(string_attribute("batch.\u{FFFF}").unwrap().string_value(), Some("batch.\\uffff"));
        assert_eq!(message_size("{}", &[("webhook_id", "msg_1")]), 2 + 10 + 6 + 5);
    }
}
