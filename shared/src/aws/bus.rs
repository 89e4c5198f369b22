//! Publishing downstream messages to EventBridge event buses: PutEvents' limits, one entry per message
//! (source [`SOURCE`], the event's type as the detail type, the downstream message as the detail), and
//! its failures classified as SQS's are ([`SendError`]): a fault that may pass, a bus that refuses
//! everything, an entry refused for good.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::aws::publish::{BatchResult, Outgoing};
use crate::aws::queue::{SendError, by_code, classify};

/// The `source` of every event put on a bus: match it in a rule's pattern (`{"source": ["gemini-webhooks"]}`).
pub const SOURCE: &str = "gemini-webhooks";
/// Most entries in one PutEvents.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of one PutEvents' entries together, and so of one entry (as EventBridge counts them:
/// source, detail type and detail).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// An entry's size as EventBridge counts it against [`MAX_REQUEST_BYTES`] (no time, no resources).
pub fn entry_size(message: &Outgoing) -> usize {
    SOURCE.len() + message.event_type.len() + message.body.len()
}

/// Puts messages on buses.
#[derive(Debug, Clone)]
pub struct BusPublisher {
    client: aws_sdk_eventbridge::Client,
}

impl BusPublisher {
    /// Publishes through `client`.
    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        Self { client }
    }

    /// Puts `batch` (within PutEvents' limits) on the bus `bus` (its ARN). An entry over the size limit
    /// is refused for good without being sent; the others go in one call.
    pub async fn put(&self, bus: &str, batch: &[Outgoing]) -> BatchResult {
        let (fitting, oversized): (Vec<usize>, Vec<usize>) =
            (0..batch.len()).partition(|&i| entry_size(&batch[i]) <= MAX_REQUEST_BYTES);
        let mut refused: Vec<(usize, SendError)> = oversized
            .into_iter()
            .map(|i| {
                let detail =
                    format!("{} bytes, over EventBridge's {MAX_REQUEST_BYTES}", entry_size(&batch[i]));
                (i, SendError::MessageRefused { code: "EntryTooLarge".into(), detail })
            })
            .collect();
        if fitting.is_empty() {
            return BatchResult::Answered(refused);
        }
        let entries = fitting
            .iter()
            .map(|&i| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(SOURCE)
                    .detail_type(&batch[i].event_type)
                    .detail(&batch[i].body)
                    .set_trace_header(batch[i].trace_header.as_ref().map(|trace| trace.as_str().to_owned()))
                    .build()
            })
            .collect();
        match self.client.put_events().set_entries(Some(entries)).send().await {
            Ok(output) => {
                // The answer lists one result per entry, in order; one missing is tried again.
                for (position, &i) in fitting.iter().enumerate() {
                    match output.entries().get(position) {
                        Some(result) => {
                            if let Some(code) = result.error_code() {
                                refused.push((i, classify_entry(code, result.error_message())));
                            }
                        }
                        None => {
                            refused.push((i, SendError::Transient("entry missing from the answer".into())))
                        }
                    }
                }
                refused.sort_by_key(|(i, _)| *i);
                BatchResult::Answered(refused)
            }
            // One bad entry can refuse the whole call; the caller then sends each alone.
            Err(error) if refused.is_empty() => BatchResult::CallFailed(classify(&error)),
            Err(error) => {
                let error = classify(&error);
                refused.extend(fitting.into_iter().map(|i| (i, error.clone())));
                refused.sort_by_key(|(i, _)| *i);
                BatchResult::Answered(refused)
            }
        }
    }
}

/// Classifies one refused entry of a PutEvents (its `ErrorCode` and `ErrorMessage`).
fn classify_entry(code: &str, message: Option<&str>) -> SendError {
    by_code(code, None, format!("{code}: {}", message.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_classified_as_sqs_entries_are() {
        for transient in ["ThrottlingException", "InternalFailure", "InternalException"] {
            assert!(!classify_entry(transient, None).is_permanent(), "{transient}");
        }
        for bus_refuses in
            ["AccessDeniedException", "NotAuthorizedForSourceException", "ResourceNotFoundException"]
        {
            assert!(
                matches!(classify_entry(bus_refuses, None), SendError::DestinationRefused { .. }),
                "{bus_refuses}"
            );
        }
        for refused in ["MalformedDetail", "InvalidArgument"] {
            assert!(
                matches!(classify_entry(refused, Some("bad")), SendError::MessageRefused { .. }),
                "{refused}"
            );
        }
    }
}
