//! What SQS accepts, checked on our side: the characters a message may hold and the ids a FIFO queue
//! takes. Every message this project writes goes through [`to_json`], so no verified event can be
//! refused by SQS for its content, whatever characters Gemini put in it.

mod fifo;
mod text;

pub use fifo::{MAX_FIFO_ID_LEN, deduplication_id, group_id, is_valid_fifo_id};
pub use text::{escape_text, first_disallowed, is_allowed, json_len, to_json};
