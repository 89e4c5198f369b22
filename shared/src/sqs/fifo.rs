//! FIFO queue ids that SQS always accepts: `MessageGroupId` and `MessageDeduplicationId` are 1 to 128
//! characters of ASCII letters, digits and punctuation. Gemini's `data.id` and `webhook-id` are not
//! bound to that, so a value that does not fit is replaced by its SHA-256 hex digest (64 characters):
//! still one value per job and per event, so grouping and deduplication keep their meaning.

use sha2::{Digest, Sha256};

/// The longest FIFO group or deduplication id SQS accepts.
pub const MAX_FIFO_ID_LEN: usize = 128;

/// Whether SQS accepts `id` as a FIFO group or deduplication id as it is.
pub fn is_valid_fifo_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_FIFO_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

fn fitted(id: &str) -> String {
    if is_valid_fifo_id(id) { id.to_owned() } else { hex::encode(Sha256::digest(id.as_bytes())) }
}

/// The message group: the job (`data.id`), so one job's events are delivered one at a time; an event
/// without a job id is its own group (its `webhook-id`).
pub fn group_id(data_id: Option<&str>, webhook_id: &str) -> String {
    fitted(data_id.filter(|id| !id.is_empty()).unwrap_or(webhook_id))
}

/// The deduplication id: the `webhook-id`, so a re-send within SQS's five-minute window is dropped.
pub fn deduplication_id(webhook_id: &str) -> String {
    fitted(webhook_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_pass_through() {
        assert_eq!(group_id(Some("batches/abc-123"), "msg_1"), "batches/abc-123");
        assert_eq!(deduplication_id("msg_2b7f"), "msg_2b7f");
    }

    #[test]
    fn an_empty_or_missing_job_id_groups_by_webhook_id() {
        assert_eq!(group_id(Some(""), "msg_1"), "msg_1");
        assert_eq!(group_id(None, "msg_1"), "msg_1");
    }

    #[test]
    fn ids_sqs_would_refuse_become_their_sha256() {
        let long = "m".repeat(200);
        for (id, got) in [
            (long.as_str(), deduplication_id(&long)),
            ("batches/é", group_id(Some("batches/é"), "msg_1")),
            ("a b", group_id(Some("a b"), "msg_1")),
        ] {
            assert_eq!(got, hex::encode(Sha256::digest(id.as_bytes())));
            assert!(is_valid_fifo_id(&got));
        }
        assert!(is_valid_fifo_id(&"m".repeat(128)));
        assert!(!is_valid_fifo_id(&"m".repeat(129)));
    }
}
