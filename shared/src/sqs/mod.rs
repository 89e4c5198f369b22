//! What SQS accepts, checked on our side: the characters a message may hold and the ids a FIFO queue
//! takes. Every message this project writes goes through [`to_json`], so no verified event can be
//! refused by SQS for its content, whatever characters Gemini put in it.

mod fifo;
mod text;

pub use fifo::{MAX_FIFO_ID_LEN, deduplication_id, group_id, is_valid_fifo_id};
pub use text::{escape_text, first_disallowed, is_allowed, json_len, to_json};

/// Whether `url` looks like an SQS queue URL: `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or any
/// `http(s)` URL with a path (a local emulator's). A bare name (`default`) or an ARN is not one.
pub fn is_queue_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.path().len() > 1)
}
