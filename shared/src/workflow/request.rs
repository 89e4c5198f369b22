//! A job request, as a workflow's `.waitForTaskToken` task hands it to the starter: which job to start,
//! and the token of the task waiting on its end. Pure: the starter function parses it here, makes the
//! job's input here, and does the I/O itself.
//!
//! ```json
//! {"kind": "batch",       "model": "gemini-3-flash", "prompts": ["...", "..."], "task_token": "..."}
//! {"kind": "interaction", "model": "gemini-3-flash", "input": "...",            "task_token": "..."}
//! {"kind": "summarise",   "model": "gemini-3-pro",   "results": "files/batch-out", "task_token": "..."}
//! ```
//!
//! Each may add `"user_metadata": {...}` (echoed in every event of the job) and `"instruction"` (a
//! summary's request, before the answers). A `summarise` reads a batch's results file (its
//! `output_file_uri`, as `$.batch.event.data.output_file_uri` gives it) and starts an interaction on the
//! answers in it.

use serde_json::{Map, Value, json};

use crate::ledger::TaskToken;

/// The most prompts one batch request carries.
pub const MAX_PROMPTS: usize = 10_000;
/// The most of a batch's results file a summary reads: the answers past it are left out.
pub const MAX_RESULTS_BYTES: usize = 4 << 20;
/// What a summary asks for when the request names no instruction.
pub const DEFAULT_INSTRUCTION: &str = "Summarise these answers in one paragraph:";

/// The job a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A batch over `prompts`, one request each.
    Batch {
        /// The model.
        model: String,
        /// The prompts, in order (keyed `q0`, `q1`, ... in the batch).
        prompts: Vec<String>,
    },
    /// A background interaction on `input`.
    Interaction {
        /// The model.
        model: String,
        /// Its input.
        input: String,
    },
    /// An interaction summarising the answers in a batch's results file.
    Summarise {
        /// The model.
        model: String,
        /// The results file's name (`files/...`).
        results: String,
        /// What to ask, before the answers.
        instruction: String,
    },
}

/// A parsed job request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// What to start.
    pub job: Job,
    /// The task waiting on the job's end.
    pub token: TaskToken,
    /// Echoed in every event of the job (the starter adds the ledger's marker).
    pub user_metadata: Map<String, Value>,
}

/// A request that cannot be started. With its token, the waiting task is failed at once; without one,
/// nothing can be told, so the request is kept in the starter's DLQ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a job request: {reason}")]
pub struct Unusable {
    /// The waiting task, when the request names a usable one.
    pub token: Option<TaskToken>,
    /// What is wrong (never the token).
    pub reason: String,
}

/// Parses `body` (an SQS message's).
pub fn parse(body: &str) -> Result<JobRequest, Unusable> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| Unusable { token: None, reason: format!("not JSON: {e}") })?;
    let token = match value.get("task_token").and_then(Value::as_str).map(TaskToken::parse) {
        Some(Ok(token)) => token,
        Some(Err(reason)) => return Err(Unusable { token: None, reason: format!("task_token: {reason}") }),
        None => return Err(Unusable { token: None, reason: "no task_token".into() }),
    };
    let unusable = |reason: String| Unusable { token: Some(token.clone()), reason };
    let text = |field: &str| match value.get(field) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        _ => Err(unusable(format!("{field}: a non-empty string is needed"))),
    };
    let model = text("model")?;
    let job = match value.get("kind").and_then(Value::as_str) {
        Some("batch") => {
            let prompts = value.get("prompts").and_then(Value::as_array).map(|prompts| {
                prompts.iter().map(|p| p.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()
            });
            match prompts {
                Some(Some(prompts)) if (1..=MAX_PROMPTS).contains(&prompts.len()) => {
                    Job::Batch { model, prompts }
                }
                _ => return Err(unusable(format!("prompts: 1 to {MAX_PROMPTS} strings are needed"))),
            }
        }
        Some("interaction") => Job::Interaction { model, input: text("input")? },
        Some("summarise") => {
            let uri = text("results")?;
            let results = crate::job::file_name(&uri)
                .ok_or_else(|| unusable("results: not a Files API file (files/...)".into()))?;
            let instruction = match value.get("instruction") {
                None | Some(Value::Null) => DEFAULT_INSTRUCTION.to_owned(),
                Some(_) => text("instruction")?,
            };
            Job::Summarise { model, results, instruction }
        }
        _ => return Err(unusable("kind: batch, interaction or summarise".into())),
    };
    let user_metadata = match value.get("user_metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(metadata)) => metadata.clone(),
        Some(_) => return Err(unusable("user_metadata: an object is needed".into())),
    };
    Ok(JobRequest { job, token, user_metadata })
}

/// A batch's input file: one JSON line per prompt, keyed `q0`, `q1`, ...
pub fn batch_lines(prompts: &[String]) -> Vec<u8> {
    let lines: Vec<String> = prompts
        .iter()
        .enumerate()
        .map(|(i, prompt)| {
            json!({"key": format!("q{i}"), "request": {"contents": [{"parts": [{"text": prompt}]}]}})
                .to_string()
        })
        .collect();
    lines.join("\n").into_bytes()
}

/// A summary's input: `instruction`, then each answer in the batch's results file `results` (its
/// first text part), separated by ` | `. A line that holds no answer (an error, a blank) is left out.
pub fn summary_input(instruction: &str, results: &[u8]) -> String {
    let answers: Vec<String> = String::from_utf8_lossy(results)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| {
            line["response"]["candidates"][0]["content"]["parts"][0]["text"].as_str().map(str::to_owned)
        })
        .collect();
    format!("{instruction} {}", answers.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAf";

    fn request(fields: Value) -> Result<JobRequest, Unusable> {
        let mut body = json!({"task_token": TOKEN, "model": "gemini-3-flash"});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        parse(&body.to_string())
    }

    #[test]
    fn each_kind_parses_to_its_job() {
        let batch =
            request(json!({"kind": "batch", "prompts": ["a", "b"], "user_metadata": {"team": "x"}})).unwrap();
        assert_eq!(
            batch.job,
            Job::Batch { model: "gemini-3-flash".into(), prompts: vec!["a".into(), "b".into()] }
        );
        assert_eq!((batch.token.expose(), batch.user_metadata["team"].as_str()), (TOKEN, Some("x")));
        let interaction = request(json!({"kind": "interaction", "input": "hello"})).unwrap();
        assert_eq!(
            interaction.job,
            Job::Interaction { model: "gemini-3-flash".into(), input: "hello".into() }
        );
        let summary = request(json!({"kind": "summarise",
            "results": "https://generativelanguage.googleapis.com/v1/files/out-1:download?alt=media"}))
        .unwrap();
        assert_eq!(
            summary.job,
            Job::Summarise {
                model: "gemini-3-flash".into(),
                results: "files/out-1".into(),
                instruction: DEFAULT_INSTRUCTION.into()
            }
        );
    }

    #[test]
    fn a_request_without_a_usable_token_has_no_task_to_fail() {
        for body in [
            "not json".to_owned(),
            json!({"kind": "batch"}).to_string(),
            json!({"kind": "batch", "task_token": ""}).to_string(),
            json!({"task_token": "has a space"}).to_string(),
        ] {
            let unusable = parse(&body).unwrap_err();
            assert_eq!(unusable.token, None, "{body}");
        }
    }

    #[test]
    fn a_bad_request_with_a_token_names_its_task_and_never_the_token() {
        for fields in [
            json!({"kind": "video"}),
            json!({"kind": "batch", "prompts": []}),
            json!({"kind": "batch", "prompts": [1]}),
            json!({"kind": "interaction"}),
            json!({"kind": "summarise", "results": "gs://bucket/out.jsonl"}),
            json!({"kind": "interaction", "input": "x", "user_metadata": "team"}),
            json!({"kind": "interaction", "input": "x", "model": ""}),
        ] {
            let unusable = request(fields.clone()).unwrap_err();
            assert_eq!(unusable.token.as_ref().map(TaskToken::expose), Some(TOKEN), "{fields}");
            assert!(!unusable.to_string().contains(TOKEN));
        }
    }

    #[test]
    fn a_batch_is_one_keyed_line_per_prompt() {
        let lines = batch_lines(&["one".into(), "two \"quoted\"".into()]);
        let lines: Vec<Value> =
            String::from_utf8(lines).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["key"], "q1");
        assert_eq!(lines[1]["request"]["contents"][0]["parts"][0]["text"], "two \"quoted\"");
    }

    #[test]
    fn a_summary_reads_each_answer_and_skips_lines_without_one() {
        let results = [
            json!({"key": "q0", "response": {"candidates": [{"content": {"parts": [{"text": "Paris"}]}}]}}),
            json!({"key": "q1", "error": {"code": 3}}),
            json!({"key": "q2", "response": {"candidates": [{"content": {"parts": [{"text": "Rome"}]}}]}}),
        ]
        .map(|l| l.to_string())
        .join("\n");
        assert_eq!(summary_input("Sum up:", results.as_bytes()), "Sum up: Paris | Rome");
    }
}
