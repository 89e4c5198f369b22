//! The long jobs: batches, background interactions, video generations. Each starts as Google's API
//! answers it (an Operation, or an interaction `in_progress`) and ends when the simulator finishes it,
//! after [`crate::Settings::finish_jobs_after`] or when a test says ([`crate::Simulator::finish`]); its
//! end is delivered as Gemini delivers it: to the job's `webhook_config.uris` (signed `v1a`) when it has
//! them, else to every registered webhook subscribed to the event.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::Shared;
use crate::deliver;
use crate::files::{Source, StoredFile};
use crate::store::rfc3339;

/// How a job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeds: a batch writes its results file, a video its file, an interaction its output.
    Succeed,
    /// It fails with a google.rpc code and message.
    Fail {
        /// The code (3 INVALID_ARGUMENT, 13 INTERNAL, ...).
        code: i64,
        /// The message.
        message: String,
    },
    /// A batch not processed in time.
    Expire,
    /// Cancelled.
    Cancel,
    /// An interaction stops in a state no event announces (`incomplete`, `budget_exceeded`): its
    /// status. Nothing is delivered, as Gemini delivers nothing.
    Halt(String),
}

/// What kind of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `batches/{id}`.
    Batch,
    /// `interactions/{id}` (its id alone on the wire).
    Interaction,
    /// `models/{model}/operations/{id}`.
    Video,
}

/// How an interaction asked for video (`response_format` `{"type": "video", "delivery"}`): the model's
/// output then holds a video content block, with its file's `uri` or its bytes base64 in `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoDelivery {
    /// `delivery: "uri"`: a file of the Files API.
    Uri,
    /// `delivery: "inline"`, the default.
    Inline,
}

impl VideoDelivery {
    /// What `response_format` (one format or a list) asks for: `None` when no format is video.
    pub fn requested(response_format: &Value) -> Option<Self> {
        let formats = match response_format {
            Value::Array(formats) => formats.iter().collect(),
            format => vec![format],
        };
        let video = formats.into_iter().find(|f| f["type"] == "video")?;
        Some(if video["delivery"] == "uri" { Self::Uri } else { Self::Inline })
    }
}

/// One job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its name: `batches/{id}`, `interactions/{id}`, `models/{m}/operations/{id}`.
    pub name: String,
    /// What kind.
    pub kind: Kind,
    /// The model.
    pub model: String,
    /// The request's `webhook_config`.
    pub webhook: Option<Value>,
    /// The input: a batch's input file name, an interaction's input, a video's prompt.
    pub input: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once it ended.
    pub ended_at: Option<i64>,
    /// How it ended, once it has.
    pub outcome: Option<Outcome>,
    /// What it produced: `files/{id}`.
    pub output_file: Option<String>,
    /// An interaction asked for video, and how it is delivered.
    pub video: Option<VideoDelivery>,
}

impl Job {
    /// When it last changed: its end, or its start.
    fn updated_at(&self) -> i64 {
        self.ended_at.unwrap_or(self.created_at)
    }

    fn state(&self) -> &'static str {
        match &self.outcome {
            None => "BATCH_STATE_RUNNING",
            Some(Outcome::Succeed) => "BATCH_STATE_SUCCEEDED",
            Some(Outcome::Fail { .. }) => "BATCH_STATE_FAILED",
            Some(Outcome::Expire) => "BATCH_STATE_EXPIRED",
            Some(Outcome::Cancel) => "BATCH_STATE_CANCELLED",
            Some(Outcome::Halt(_)) => "BATCH_STATE_FAILED",
        }
    }

    /// The resource as the API answers for it.
    pub fn to_json(&self, base: &str) -> Value {
        match self.kind {
            Kind::Batch => {
                let mut metadata = json!({
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
                    "name": self.name, "model": self.model, "displayName": self.name,
                    "inputConfig": {"fileName": self.input}, "createTime": rfc3339(self.created_at),
                    "updateTime": rfc3339(self.updated_at()), "state": self.state(),
                });
                if let Some(ended) = self.ended_at {
                    metadata["endTime"] = json!(rfc3339(ended));
                }
                let mut operation = json!({"name": self.name, "done": self.outcome.is_some()});
                if let Some(file) = &self.output_file {
                    metadata["output"] = json!({"responsesFile": file});
                    operation["response"] = json!({
                        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
                        "responsesFile": file,
                    });
                }
                if let Some(Outcome::Fail { code, message }) = &self.outcome {
                    operation["error"] = json!({"code": code, "message": message});
                }
                operation["metadata"] = metadata;
                operation
            }
            Kind::Video => {
                let mut operation = json!({"name": self.name, "done": self.outcome.is_some()});
                if let Some(file) = &self.output_file {
                    let id = file.trim_start_matches("files/");
                    operation["response"] = json!({"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                        "generateVideoResponse": {"generatedSamples": [{"video": {"uri": format!("{base}/{}/files/{id}:download?alt=media", crate::API_VERSION)}}]}});
                }
                if let Some(Outcome::Fail { code, message }) = &self.outcome {
                    operation["error"] = json!({"code": code, "message": message});
                }
                operation
            }
            Kind::Interaction => {
                let status = match &self.outcome {
                    None => "in_progress",
                    Some(Outcome::Succeed) => "completed",
                    Some(Outcome::Fail { .. }) | Some(Outcome::Expire) => "failed",
                    Some(Outcome::Cancel) => "cancelled",
                    Some(Outcome::Halt(status)) => status.as_str(),
                };
                let mut steps =
                    vec![json!({"type": "user_input", "content": [{"type": "text", "text": self.input}]})];
                if self.outcome == Some(Outcome::Succeed) {
                    let content = match (self.video, &self.output_file) {
                        (Some(VideoDelivery::Uri), Some(file)) => video_by_uri(file, base),
                        (Some(VideoDelivery::Inline), _) => {
                            json!({"type": "video", "mime_type": "video/mp4", "data": INLINE_VIDEO.as_str()})
                        }
                        _ => json!({"type": "text", "text": answer_to(&self.input)}),
                    };
                    steps.push(json!({"type": "model_output", "content": [content]}));
                }
                let mut interaction = json!({
                    "id": self.name.trim_start_matches("interactions/"), "object": "interaction",
                    "model": self.model, "status": status, "created": rfc3339(self.created_at),
                    "updated": rfc3339(self.updated_at()), "steps": steps,
                });
                if let Some(webhook) = &self.webhook {
                    interaction["webhook_config"] = webhook.clone();
                }
                if let Some(Outcome::Fail { code, message }) = &self.outcome {
                    interaction["errors"] = json!([{"code": code.to_string(), "message": message}]);
                }
                interaction
            }
        }
    }
}

/// An interaction's video delivered by URI, as the SDK's `VideoContent` has it: its file's download
/// `uri` (inline, its bytes are base64 in `data`).
fn video_by_uri(file: &str, base: &str) -> Value {
    let id = file.trim_start_matches("files/");
    json!({"type": "video", "mime_type": "video/mp4",
        "uri": format!("{base}/{}/files/{id}:download?alt=media", crate::API_VERSION)})
}

/// The bytes of an inline video, base64: small, as an answer that carries them must be.
static INLINE_VIDEO: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, video_bytes(INLINE_VIDEO_BYTES))
});

/// The size of an inline video.
pub const INLINE_VIDEO_BYTES: usize = 4096;

/// The simulated model's answer to a prompt: deterministic, so tests can check it.
pub fn answer_to(prompt: &str) -> String {
    format!("A simulated answer to: {prompt}")
}

/// A batch's results file: a line per input line, `{"key", "response"}`; `Err` when the input is not
/// JSONL of requests (the batch then fails, as Gemini's does).
fn batch_results(input: &[u8], model: &str) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(input).map_err(|_| "the input file is not UTF-8".to_owned())?;
    let mut out = String::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let request: Value = serde_json::from_str(line)
            .map_err(|e| format!("line {} of the input file is not JSON: {e}", number + 1))?;
        let key = request["key"].as_str().map_or_else(|| (number + 1).to_string(), str::to_owned);
        let prompt = request["request"]["contents"][0]["parts"][0]["text"].as_str().unwrap_or_default();
        let response = json!({"key": key, "response": {
            "candidates": [{"content": {"parts": [{"text": answer_to(prompt)}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "modelVersion": model,
        }});
        out.push_str(&response.to_string());
        out.push('\n');
    }
    if out.is_empty() {
        return Err("the input file holds no request".into());
    }
    Ok(out.into_bytes())
}

/// The bytes of a simulated video: `len` bytes, a valid-looking MP4 header then a fixed pattern.
fn video_bytes(len: usize) -> Vec<u8> {
    let mut bytes = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| u8::try_from(i % 251).unwrap_or(0)));
    bytes.truncate(len.max(24));
    bytes
}

/// No job has that name.
#[derive(Debug)]
pub(crate) struct UnknownJob;

/// Ends `name` (or `interactions/{name}`) with `outcome`: its output stored, its state changed, its
/// event delivered. Returns the deliveries' `webhook-id`s: none when the job already ended, which is
/// left as it ended.
pub(crate) fn finish(shared: &Arc<Shared>, name: &str, outcome: Outcome) -> Result<Vec<String>, UnknownJob> {
    let (job, outcome) = {
        // One lock from the check to the change, so a job ends once when its timer and a test race.
        let mut jobs = shared.jobs();
        let key = if jobs.contains_key(name) { name.to_owned() } else { format!("interactions/{name}") };
        let job = jobs.get_mut(&key).ok_or(UnknownJob)?;
        if job.outcome.is_some() {
            return Ok(Vec::new());
        }
        let outcome = end(shared, job, outcome);
        (job.clone(), outcome)
    };

    if matches!(outcome, Outcome::Halt(_)) {
        return Ok(Vec::new());
    }
    let family = match job.kind {
        Kind::Batch => "batch",
        Kind::Interaction => "interaction",
        Kind::Video => "video",
    };
    let (event_type, mut data) = match (&outcome, job.kind) {
        (Outcome::Succeed, Kind::Video) => ("video.generated".to_owned(), json!({})),
        (Outcome::Succeed, Kind::Interaction) => ("interaction.completed".to_owned(), json!({})),
        (Outcome::Succeed, Kind::Batch) => ("batch.succeeded".to_owned(), json!({})),
        (Outcome::Fail { code, message }, _) => {
            (format!("{family}.failed"), json!({"error_code": code, "error_message": message}))
        }
        (Outcome::Expire, _) => (format!("{family}.expired"), json!({})),
        (Outcome::Cancel, _) => (format!("{family}.cancelled"), json!({})),
        (Outcome::Halt(_), _) => return Ok(Vec::new()),
    };
    data["id"] = json!(job.name.trim_start_matches("interactions/"));
    // An interaction's event names no output (its outputs are in the interaction).
    if let Some(file) = job.output_file.as_ref().filter(|_| job.kind != Kind::Interaction) {
        data["output_file_uri"] = json!(file);
        if job.kind == Kind::Video {
            data["file_name"] = json!(file);
        }
    }
    let uris: Vec<String> = job
        .webhook
        .as_ref()
        .and_then(|w| w["uris"].as_array())
        .map(|uris| uris.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let metadata = job.webhook.as_ref().and_then(|w| w.get("user_metadata")).cloned();
    let end = HeldEnd { event_type, data, metadata, uris };
    if let Some(held) = shared.withheld().get_mut(&job.name) {
        // Told to lose this job's end: kept for a late delivery, or for ever.
        *held = Some(end);
        return Ok(Vec::new());
    }
    Ok(deliver_end(shared, end))
}

/// A job's end as it is delivered: held back when the simulator is told to withhold it.
#[derive(Debug, Clone)]
pub(crate) struct HeldEnd {
    event_type: String,
    data: Value,
    metadata: Option<Value>,
    uris: Vec<String>,
}

/// Delivers `end` as Gemini does: to the job's URIs, or to every subscribed webhook.
pub(crate) fn deliver_end(shared: &Arc<Shared>, end: HeldEnd) -> Vec<String> {
    let HeldEnd { event_type, data, metadata, uris } = end;
    if uris.is_empty() {
        deliver::emit(shared, &event_type, data, metadata)
    } else {
        deliver::emit_dynamic(shared, &uris, &event_type, data, metadata)
    }
}

/// The stored name of job `name`: as given, or `interactions/{name}` for an interaction's bare id.
pub(crate) fn stored_name(shared: &Shared, name: &str) -> String {
    if shared.jobs().contains_key(name) { name.to_owned() } else { format!("interactions/{name}") }
}

/// A job's end, under the jobs lock: its output files made and the job marked ended. Returns the
/// outcome, a failure when a batch's input cannot be answered.
fn end(shared: &Shared, job: &mut Job, outcome: Outcome) -> Outcome {
    let now = shared.now();
    let mut outcome = outcome;
    if job.kind == Kind::Batch && outcome == Outcome::Succeed {
        let input = shared.files().files.get(&job.input).map(|f| f.bytes.clone()).unwrap_or_default();
        match batch_results(&input, &job.model) {
            Ok(results) => {
                let file = format!("files/batch-{}", job.name.trim_start_matches("batches/"));
                store_generated(shared, &file, "application/jsonl", results, now);
                job.output_file = Some(file);
            }
            Err(message) => outcome = Outcome::Fail { code: 3, message },
        }
    }
    let makes_video = job.kind == Kind::Video || job.video == Some(VideoDelivery::Uri);
    if makes_video && outcome == Outcome::Succeed {
        let file = format!("files/{}", crate::api::fresh_id().get(..12).unwrap_or_default());
        store_generated(shared, &file, "video/mp4", video_bytes(shared.settings.video_bytes), now);
        job.output_file = Some(file);
    }
    job.outcome = Some(outcome.clone());
    job.ended_at = Some(now);
    outcome
}

fn store_generated(shared: &Shared, name: &str, mime: &str, bytes: Vec<u8>, now: i64) {
    let file = StoredFile {
        name: name.to_owned(),
        display_name: name.trim_start_matches("files/").to_owned(),
        mime_type: mime.to_owned(),
        bytes,
        source: Source::Generated,
        created_at: now,
    };
    shared.files().files.insert(name.to_owned(), file);
}

/// A job just created: finished on its own after the configured delay, if any.
pub(crate) fn started(shared: &Arc<Shared>, job: Job) {
    let name = job.name.clone();
    shared.jobs().insert(name.clone(), job);
    if let Some(after) = shared.settings.finish_jobs_after {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ended_or_already = finish(&shared, &name, Outcome::Succeed);
        });
    }
}

/// The `webhook_config` of a request, checked: `uris` a list of http(s) URLs; `user_metadata` an object.
pub(crate) fn webhook_config(value: &Value) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let uris = value["uris"].as_array().ok_or("webhook_config.uris must be a list of URLs")?;
    for uri in uris {
        let ok = uri
            .as_str()
            .and_then(|u| url::Url::parse(u).ok())
            .is_some_and(|u| matches!(u.scheme(), "https" | "http"));
        if !ok {
            return Err(format!("webhook_config.uris: {uri} is not an http(s) URL"));
        }
    }
    if !value["user_metadata"].is_null() && !value["user_metadata"].is_object() {
        return Err("webhook_config.user_metadata must be an object".into());
    }
    let mut config = Map::new();
    config.insert("uris".into(), Value::Array(uris.clone()));
    if let Some(metadata) = value.get("user_metadata").filter(|m| m.is_object()) {
        config.insert("user_metadata".into(), metadata.clone());
    }
    Ok(Some(Value::Object(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_answers_each_request_by_key_and_refuses_what_is_not_jsonl() {
        let input = br#"{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}
{"key": "b", "request": {"contents": [{"parts": [{"text": "there"}]}]}}"#;
        let out = String::from_utf8(batch_results(input, "models/m").unwrap()).unwrap();
        let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["key"], "b");
        assert_eq!(lines[1]["response"]["candidates"][0]["content"]["parts"][0]["text"], answer_to("there"));
        assert!(batch_results(b"not json", "m").is_err());
        assert!(batch_results(b"", "m").is_err());
    }
}
