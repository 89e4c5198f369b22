//! What a Step Functions workflow waiting on a job (`.waitForTaskToken`) is told when the job ends:
//! success with the downstream message as the task's output, or failure with Gemini's error. Pure: the
//! fanout sends it (`aws::task_tokens`).
//!
//! What a workflow asks for is [`request`]: a job to start, with the task's token.
//!
//! A failure's `error` is `Gemini.` and the event's type (`Gemini.batch.failed`,
//! `Gemini.interaction.cancelled`), for a `Catch` to match; its `cause` is JSON with Gemini's
//! `error_code` and `error_message`, the job and the delivery's `webhook_id`.

use serde_json::{Value, json};

pub mod request;

use crate::message::DownstreamMessage;

/// `SendTaskSuccess`'s largest output, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 262_144;
/// `SendTaskFailure`'s largest `error`.
pub const MAX_ERROR_CHARS: usize = 256;
/// `SendTaskFailure`'s largest `cause`.
pub const MAX_CAUSE_CHARS: usize = 32_768;

/// How the waiting task is completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The job ended with a result: the task's output.
    Success {
        /// JSON: the downstream message, or (over [`MAX_OUTPUT_BYTES`]) its summary with `truncated`.
        output: String,
    },
    /// The job failed, expired, was cancelled or stopped short.
    Failure {
        /// `Gemini.{type}`.
        error: String,
        /// JSON: `error_code`, `error_message`, `job`, `webhook_id`, `status`.
        cause: String,
    },
}

/// The completion `message` (a job's end) calls for.
pub fn completion(message: &DownstreamMessage) -> Completion {
    if message.ended_without_result() {
        let error: String = format!("Gemini.{}", message.event_type).chars().take(MAX_ERROR_CHARS).collect();
        let cause = json!({
            "error_code": message.event.error_code().map(|code| Value::String(code.to_string())),
            "error_message": message.event.error_message(),
            "job": message.data_id,
            "webhook_id": message.webhook_id(),
            "status": message.event.data().and_then(|data| data.get("status")),
        })
        .to_string();
        return Completion::Failure { error, cause: cause.chars().take(MAX_CAUSE_CHARS).collect() };
    }
    let whole = serde_json::to_string(message).unwrap_or_default();
    if !whole.is_empty() && whole.len() <= MAX_OUTPUT_BYTES {
        return Completion::Success { output: whole };
    }
    // Too large for a task's output: what the next step needs to fetch the rest.
    let summary = json!({
        "webhook_id": message.webhook_id(),
        "type": message.event_type,
        "data_id": message.data_id,
        "output_file_uri": message.event.output_uri(),
        "truncated": true,
    });
    Completion::Success { output: summary.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(event: Value) -> DownstreamMessage {
        let body = json!({"webhook_id": "msg_1", "type": event["type"], "data_id": event["data"]["id"],
            "user_metadata": null, "event": event, "scheme": "v1", "webhook_timestamp": 1769083200,
            "received_at": 1769083200100_i64, "recorded_at": 1769083200200_i64});
        DownstreamMessage::from_sqs_body(&body.to_string()).unwrap()
    }

    #[test]
    fn a_result_is_the_tasks_output_whole() {
        let done = message(
            json!({"type": "batch.succeeded", "data": {"id": "batches/1", "output_file_uri": "files/o"}}),
        );
        let Completion::Success { output } = completion(&done) else { panic!("a success") };
        assert_eq!(DownstreamMessage::from_sqs_body(&output).unwrap(), done);
    }

    #[test]
    fn an_end_without_a_result_fails_the_task_with_geminis_error() {
        for (event_type, code) in
            [("batch.failed", Some(13)), ("batch.expired", None), ("interaction.cancelled", None)]
        {
            let mut data = json!({"id": "batches/2", "error_message": "quota"});
            if let Some(code) = code {
                data["error_code"] = json!(code);
            }
            let Completion::Failure { error, cause } =
                completion(&message(json!({"type": event_type, "data": data})))
            else {
                panic!("{event_type}: a failure")
            };
            assert_eq!(error, format!("Gemini.{event_type}"));
            let cause: Value = serde_json::from_str(&cause).unwrap();
            assert_eq!(
                (cause["job"].as_str(), cause["webhook_id"].as_str()),
                (Some("batches/2"), Some("msg_1"))
            );
            assert_eq!(cause["error_code"], code.map_or(Value::Null, |c| json!(c.to_string())));
            assert_eq!(cause["error_message"], "quota");
        }
    }

    #[test]
    fn an_output_over_the_limit_is_summarised_with_what_fetches_the_rest() {
        let big = message(json!({"type": "batch.succeeded", "data": {"id": "batches/3",
            "output_file_uri": "files/o", "note": "x".repeat(MAX_OUTPUT_BYTES)}}));
        let Completion::Success { output } = completion(&big) else { panic!("a success") };
        assert!(output.len() < 1024);
        let summary: Value = serde_json::from_str(&output).unwrap();
        assert_eq!(
            (summary["data_id"].as_str(), summary["output_file_uri"].as_str()),
            (Some("batches/3"), Some("files/o"))
        );
        assert_eq!(summary["truncated"], true);
    }
}
