//! Starting the long jobs this project exists for, each with a dynamic webhook, and reading them back:
//! a batch (`models/{model}:batchGenerateContent`, `batch.webhookConfig`), a background interaction
//! (`/interactions`, `background: true` and `webhook_config`), a video: an interaction with a video
//! model and `response_format` video, as google-genai 3.x makes one (it refuses `generate_videos` on the
//! Developer API), or the older `models/{model}:predictLongRunning` with `webhookConfig` at the top
//! level. Shapes follow the reference and the google-genai SDK's requests
//! (docs/deploy-and-operate.md, "4. Start jobs with a webhook", says where sources disagree and which
//! was followed).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ApiError, GeminiClient};
use crate::job::JobName;

/// Where a job's events go, and what they carry back: `webhook_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebhookConfig {
    /// The URLs to deliver to (the receiver's dynamic URL, with its token).
    pub uris: Vec<String>,
    /// Echoed back in every event of the job (routing rules can match it).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub user_metadata: Map<String, Value>,
}

/// A long-running operation, as the classic endpoints answer: a batch, or a video generation.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// `batches/{id}`, or `models/{model}/operations/{id}`.
    pub name: String,
    /// The job's own record (a batch's state, its output).
    #[serde(default)]
    pub metadata: Value,
    /// Whether it ended.
    #[serde(default)]
    pub done: bool,
    /// What it produced, when it ended well.
    #[serde(default)]
    pub response: Value,
    /// Why it failed, when it did: `{code, message}`.
    #[serde(default)]
    pub error: Option<Value>,
}

impl Operation {
    /// A batch's state (`BATCH_STATE_SUCCEEDED`, ...; `JOB_STATE_*` is read the same).
    pub fn batch_state(&self) -> Option<&str> {
        self.metadata["state"].as_str()
    }

    /// A batch's results file (`files/...`), when it wrote one.
    pub fn responses_file(&self) -> Option<&str> {
        self.response["responsesFile"].as_str().or_else(|| self.metadata["output"]["responsesFile"].as_str())
    }
}

/// A started interaction.
#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    /// Its id.
    pub id: String,
    /// `queued`, `in_progress`, `completed`, `failed`, ...
    #[serde(default)]
    pub status: Option<String>,
}

/// The model a video interaction uses unless told: the video-capable one google-genai 3.6 lists.
pub const DEFAULT_VIDEO_MODEL: &str = "gemini-omni-flash-preview";
/// The model a `predictLongRunning` video uses unless told.
pub const DEFAULT_VEO_MODEL: &str = "veo-3.0-generate-001";

/// The video an interaction produced: the last `video` content of its last model output, as the SDK's
/// `Interaction.output_video` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractionVideo {
    /// A file to download (`delivery: "uri"`).
    Uri(String),
    /// The bytes themselves, base64 (`delivery: "inline"`).
    Inline {
        /// Standard base64.
        data: String,
        /// `video/mp4`, ...
        mime_type: Option<String>,
    },
}

/// The video in `interaction` (an interaction's JSON), if it produced one. Steps are read from the last,
/// back to the latest user input, and only model outputs count, as in the SDK.
pub fn interaction_video(interaction: &Value) -> Option<InteractionVideo> {
    let steps = interaction["steps"].as_array()?;
    let outputs = steps.iter().rev().take_while(|step| step["type"] != "user_input");
    let video = outputs
        .filter(|step| step["type"] == "model_output")
        .find_map(|step| step["content"].as_array()?.iter().rev().find(|c| c["type"] == "video"))?;
    if let Some(uri) = video["uri"].as_str().filter(|uri| !uri.is_empty()) {
        return Some(InteractionVideo::Uri(uri.to_owned()));
    }
    let data = video["data"].as_str().filter(|data| !data.is_empty())?;
    Some(InteractionVideo::Inline {
        data: data.to_owned(),
        mime_type: video["mime_type"].as_str().map(str::to_owned),
    })
}

fn model_path(model: &str) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!("models/{model}")
}

impl GeminiClient {
    /// Starts a batch over the JSONL file `input_file` (`files/...`), its events to `webhook`.
    pub async fn create_batch(
        &self,
        model: &str,
        input_file: &str,
        display_name: &str,
        webhook: &WebhookConfig,
    ) -> Result<Operation, ApiError> {
        let body = json!({"batch": {
            "display_name": display_name,
            "input_config": {"file_name": input_file},
            "webhook_config": webhook,
        }});
        let url = self.url(&format!("{}:batchGenerateContent", model_path(model)));
        self.call("batches.create", self.http.post(url).json(&body)).await
    }

    /// A batch (or a video's operation) by name; a name in no documented shape is refused unsent.
    pub async fn get_operation(&self, name: &str) -> Result<Operation, ApiError> {
        let name = JobName::parse(name)?;
        self.call("operations.get", self.http.get(self.url(name.as_str()))).await
    }

    /// Starts an interaction in the background, its events to `webhook`.
    pub async fn create_interaction(
        &self,
        model: &str,
        input: &str,
        webhook: &WebhookConfig,
    ) -> Result<Interaction, ApiError> {
        let body = json!({"model": model, "input": input, "background": true, "webhook_config": webhook});
        self.call("interactions.create", self.http.post(self.url("interactions")).json(&body)).await
    }

    /// An interaction, whole (its `steps` hold its outputs).
    pub async fn get_interaction(&self, id: &str) -> Result<Value, ApiError> {
        let id = JobName::parse(id)?;
        self.call("interactions.get", self.http.get(self.url(&format!("interactions/{}", id.id())))).await
    }

    /// Cancels a running batch (`POST batches/{id}:cancel`); its `batch.cancelled` event follows.
    pub async fn cancel_batch(&self, name: &str) -> Result<(), ApiError> {
        let url = self.url(&format!("{}:cancel", JobName::parse(name)?));
        self.call::<Value>("batches.cancel", self.http.post(url).json(&json!({}))).await.map(drop)
    }

    /// Cancels a running background interaction (`POST interactions/{id}/cancel`: a slash, the
    /// Interactions API's style); its `interaction.cancelled` event follows. Answers the interaction.
    pub async fn cancel_interaction(&self, id: &str) -> Result<Interaction, ApiError> {
        let id = JobName::parse(id)?;
        let url = self.url(&format!("interactions/{}/cancel", id.id()));
        self.call("interactions.cancel", self.http.post(url).json(&json!({}))).await
    }

    /// Starts a video from `prompt` as an interaction in the background: `response_format` video,
    /// delivered as a file (`delivery: "uri"`) so the result is downloaded rather than carried base64 in
    /// the interaction; its end is an `interaction.completed` event.
    pub async fn create_video_interaction(
        &self,
        model: &str,
        prompt: &str,
        webhook: &WebhookConfig,
    ) -> Result<Interaction, ApiError> {
        let body = json!({
            "model": model, "input": prompt, "background": true,
            "response_format": {"type": "video", "delivery": "uri"},
            "webhook_config": webhook,
        });
        self.call("interactions.create", self.http.post(self.url("interactions")).json(&body)).await
    }

    /// Starts a video generation the older way (`predictLongRunning`, a Veo model), its events to
    /// `webhook`; its end is a `video.generated` event.
    pub async fn generate_video(
        &self,
        model: &str,
        prompt: &str,
        webhook: &WebhookConfig,
    ) -> Result<Operation, ApiError> {
        let body = json!({"instances": [{"prompt": prompt}], "webhookConfig": webhook});
        let url = self.url(&format!("{}:predictLongRunning", model_path(model)));
        self.call("models.predictLongRunning", self.http.post(url).json(&body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_config_is_written_as_the_sdk_writes_it() {
        let mut metadata = Map::new();
        metadata.insert("team".into(), json!("ml"));
        let config = WebhookConfig { uris: vec!["https://x/?token=t".into()], user_metadata: metadata };
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({"uris": ["https://x/?token=t"], "user_metadata": {"team": "ml"}})
        );
        let bare = WebhookConfig { uris: vec!["https://x/".into()], user_metadata: Map::new() };
        assert_eq!(serde_json::to_value(&bare).unwrap(), json!({"uris": ["https://x/"]}));
    }

    #[test]
    fn a_finished_batch_names_its_results_file_in_either_place() {
        let done: Operation = serde_json::from_value(json!({"name": "batches/1", "done": true,
            "metadata": {"state": "BATCH_STATE_SUCCEEDED", "output": {"responsesFile": "files/batch-1"}}}))
        .unwrap();
        assert_eq!(
            (done.batch_state(), done.responses_file()),
            (Some("BATCH_STATE_SUCCEEDED"), Some("files/batch-1"))
        );
        let other: Operation = serde_json::from_value(
            json!({"name": "batches/2", "response": {"responsesFile": "files/batch-2"}}),
        )
        .unwrap();
        assert_eq!(other.responses_file(), Some("files/batch-2"));
    }

    #[test]
    fn an_interactions_video_is_its_last_model_outputs_last_video() {
        let interaction = json!({"status": "completed", "steps": [
            {"type": "user_input", "content": [{"type": "text", "text": "a cat"}]},
            {"type": "thought", "content": []},
            {"type": "model_output", "content": [
                {"type": "video", "uri": "https://g/v1/files/first:download?alt=media"},
                {"type": "text", "text": "here"},
                {"type": "video", "uri": "https://g/v1/files/abc:download?alt=media", "mime_type": "video/mp4"},
            ]},
        ]});
        assert_eq!(
            interaction_video(&interaction),
            Some(InteractionVideo::Uri("https://g/v1/files/abc:download?alt=media".into()))
        );
        let inline = json!({"steps": [{"type": "model_output", "content": [
            {"type": "video", "data": "AAAA", "uri": null, "mime_type": "video/mp4"}]}]});
        assert_eq!(
            interaction_video(&inline),
            Some(InteractionVideo::Inline { data: "AAAA".into(), mime_type: Some("video/mp4".into()) })
        );
        // A video before the latest user input is an earlier turn's, and text is no video.
        let earlier = json!({"steps": [
            {"type": "model_output", "content": [{"type": "video", "uri": "https://g/v1/files/old"}]},
            {"type": "user_input", "content": []},
            {"type": "model_output", "content": [{"type": "text", "text": "no video this time"}]},
        ]});
        assert_eq!(interaction_video(&earlier), None);
        assert_eq!(interaction_video(&json!({"status": "completed"})), None);
    }
}
