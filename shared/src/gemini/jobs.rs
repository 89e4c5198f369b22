//! Starting the long jobs this project exists for, each with a dynamic webhook, and reading them back:
//! a batch (`models/{model}:batchGenerateContent`, `batch.webhookConfig`), a background interaction
//! (`/interactions`, `background: true` and `webhook_config`), a video (`models/{model}:predictLongRunning`,
//! `webhookConfig` at the top level). Shapes follow the reference and the google-genai SDK's requests
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

    /// Starts a video generation from `prompt`, its events to `webhook`.
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
}
