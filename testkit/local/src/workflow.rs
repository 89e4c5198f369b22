//! The chained workflow (`workflows/chained.asl.json`) on this machine: its state machine in the
//! emulator's Step Functions, and the starter its tasks hand job requests to, played here: each request
//! starts a Gemini job with the dynamic webhook, tracked with the task's token, so the job's end,
//! through the pipeline, resumes the workflow. `make demo` and the tests run it.

use std::time::Duration;

use serde_json::{Map, Value, json};
use shared::aws::jobs_ledger::JobsLedger;
use shared::clock::{Clock, SystemClock};
use shared::gemini::{GeminiClient, WebhookConfig, file_name};
use shared::ledger::{self, Deadlines, JobEntry, JobName, TaskToken};
use testkit::Emulator;

use crate::{Endpoint, Pipeline};

type Error = Box<dyn std::error::Error>;

/// The workflow's definition, as the repository keeps it.
pub const DEFINITION: &str = include_str!("../../../workflows/chained.asl.json");

/// What a task asks the starter for.
#[derive(Debug)]
pub struct Request {
    /// `batch` or `summarise`.
    pub kind: String,
    /// The model.
    pub model: String,
    /// A batch's prompts.
    pub prompts: Vec<String>,
    /// The results file a summary reads (`output_file_uri` of the batch's end).
    pub results: Option<String>,
    /// The task waiting on the job.
    pub token: TaskToken,
}

/// The chained workflow's state machine and its job-requests queue, in the emulator.
pub struct ChainedWorkflow {
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    requests: String,
    /// The state machine's ARN.
    pub state_machine: String,
}

impl ChainedWorkflow {
    /// Creates the queue and the state machine (named after `pipeline`'s stack).
    pub async fn create(emulator: &Emulator, pipeline: &Pipeline) -> Result<Self, Error> {
        let config = emulator.sdk_config().await;
        let (sfn, sqs) = (aws_sdk_sfn::Client::new(&config), aws_sdk_sqs::Client::new(&config));
        let prefix = &pipeline.stack.prefix;
        let created = sqs.create_queue().queue_name(format!("{prefix}-job-requests")).send().await?;
        let requests = created.queue_url().ok_or("no queue URL")?.to_owned();
        let state_machine = sfn
            .create_state_machine()
            .name(format!("{prefix}-chained"))
            .role_arn("arn:aws:iam::123456789012:role/workflow")
            .definition(DEFINITION.replace("${JobRequestsQueueUrl}", &requests))
            .send()
            .await?
            .state_machine_arn;
        Ok(Self { sfn, sqs, requests, state_machine })
    }

    /// Starts an execution named `name` on `prompts`, the batch by `batch_model` and the summary by
    /// `summary_model`; returns its ARN.
    pub async fn start(
        &self,
        name: &str,
        prompts: &[&str],
        batch_model: &str,
        summary_model: &str,
    ) -> Result<String, Error> {
        let input = json!({"prompts": prompts, "batch_model": batch_model, "summary_model": summary_model});
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await?;
        Ok(started.execution_arn)
    }

    /// The next job request a task sent (waited for, a few seconds at most), taken off the queue.
    pub async fn next_request(&self) -> Result<Request, Error> {
        for _ in 0..250 {
            let page = self.sqs.receive_message().queue_url(&self.requests).send().await?;
            let Some(message) = page.messages().first() else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            if let Some(receipt) = message.receipt_handle() {
                self.sqs.delete_message().queue_url(&self.requests).receipt_handle(receipt).send().await?;
            }
            let body: Value = serde_json::from_str(message.body().unwrap_or("{}"))?;
            let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
            let prompts = body["prompts"].as_array().into_iter().flatten().filter_map(Value::as_str);
            return Ok(Request {
                kind: text("kind"),
                model: text("model"),
                prompts: prompts.map(str::to_owned).collect(),
                results: body["results"].as_str().map(str::to_owned),
                token: TaskToken::parse(&text("task_token"))?,
            });
        }
        Err("the workflow sent no job request".into())
    }
}

/// The starter: starts the job `request` asks for with the dynamic webhook (a batch over its prompts,
/// or an interaction summarising the answers in a batch's results file) and tracks it with the task's
/// token. Returns the job's name.
pub async fn start_job(
    client: &GeminiClient,
    endpoint: &Endpoint,
    ledger: &JobsLedger,
    request: Request,
) -> Result<String, Error> {
    let webhook = WebhookConfig { uris: vec![endpoint.dynamic.clone()], user_metadata: marked() };
    let job = if request.kind == "batch" {
        let lines: Vec<String> = request
            .prompts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({"key": format!("q{i}"), "request": {"contents": [{"parts": [{"text": p}]}]}})
                    .to_string()
            })
            .collect();
        let file =
            client.upload_file(lines.join("\n").into_bytes(), "prompts.jsonl", "application/jsonl").await?;
        client.create_batch(&request.model, &file.name, "prompts", &webhook).await?.name
    } else {
        let results = request.results.as_deref().and_then(file_name).ok_or("no results file to summarise")?;
        let bytes = client.download_file(&results).await?.bytes().await?;
        let answers: Vec<String> = String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|line| {
                line["response"]["candidates"][0]["content"]["parts"][0]["text"].as_str().map(str::to_owned)
            })
            .collect();
        let input = format!("Summarise these answers in one paragraph: {}", answers.join(" | "));
        client.create_interaction(&request.model, &input, &webhook).await?.id
    };
    let name = JobName::parse(&job)?;
    let deadlines = Deadlines::default_for(name.kind());
    let entry = JobEntry::new(&name, webhook.user_metadata, deadlines, SystemClock.unix_now_ms())
        .with_task_token(request.token);
    ledger.track(&entry).await?;
    Ok(job)
}

/// `user_metadata` marked as a tracked job's.
fn marked() -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("team".into(), json!("demo"));
    ledger::mark(&mut metadata);
    metadata
}
