//! Two Gemini jobs chained by a Step Functions workflow (`workflows/chained.asl.json`), run by the
//! emulator's Step Functions: a batch, then an interaction that summarises the batch's results. Each
//! task hands a job request and its token to a queue; the demo plays the starter (it starts the job,
//! tracked with the token), Gemini finishes it, and its webhook, through the whole pipeline, resumes the
//! workflow. Nothing polls a job; the summary's end reaches the example consumer, which stores it.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use consumer::Outcome;
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::{Endpoint, Pipeline};
use serde_json::{Map, Value, json};
use shared::aws::jobs_ledger::JobsLedger;
use shared::clock::{Clock, SystemClock};
use shared::fixtures::lambda_events::sqs_record;
use shared::gemini::{GeminiClient, WebhookConfig, file_name};
use shared::ledger::{self, Deadlines, JobEntry, JobName, TaskToken};
use testkit::Emulator;

type Error = Box<dyn std::error::Error>;

/// The workflow's definition, as the repository keeps it.
const DEFINITION: &str = include_str!("../../../../../workflows/chained.asl.json");

/// What the workflow asks the starter for.
struct Request {
    kind: String,
    model: String,
    prompts: Vec<String>,
    results: Option<String>,
    token: TaskToken,
}

/// Runs the chained workflow; returns whether every expectation held.
pub(crate) async fn run(
    emulator: &Emulator,
    pipeline: &Pipeline,
    endpoint: &Endpoint,
    gemini: &Simulator,
    client: &GeminiClient,
) -> Result<bool, Error> {
    println!("a workflow: a batch, then a second model summarising its results, resumed by each job's end");
    let config = emulator.sdk_config().await;
    let (sfn, sqs) = (aws_sdk_sfn::Client::new(&config), aws_sdk_sqs::Client::new(&config));
    let prefix = &pipeline.stack.prefix;
    let requests = sqs.create_queue().queue_name(format!("{prefix}-job-requests")).send().await?;
    let requests = requests.queue_url().ok_or("no queue URL")?.to_owned();
    let definition = DEFINITION.replace("${JobRequestsQueueUrl}", &requests);
    let machine = sfn
        .create_state_machine()
        .name(format!("{prefix}-chained"))
        .role_arn("arn:aws:iam::123456789012:role/workflow")
        .definition(definition)
        .send()
        .await?
        .state_machine_arn;
    let started = Instant::now();
    let at = || format!("{:>6} ms", started.elapsed().as_millis());
    let input = json!({"prompts": ["Name three uses of a dead-letter queue", "What does a webhook-id dedupe?"],
        "batch_model": "gemini-2.5-flash", "summary_model": "gemini-2.5-pro"});
    let execution = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("demo")
        .input(input.to_string())
        .send()
        .await?
        .execution_arn;
    println!("{}  started the workflow {} (workflows/chained.asl.json)", at(), short(&execution));

    let ledger = JobsLedger::new(emulator.dynamodb().await, &pipeline.stack.jobs_table);
    let mut resumed = 0;
    for _ in 0..2 {
        let request = next_request(&sqs, &requests).await?;
        let job = start(client, endpoint, &request).await?;
        let name = JobName::parse(&job)?;
        let deadlines = Deadlines::default_for(name.kind());
        let entry = JobEntry::new(&name, marked(), deadlines, SystemClock.unix_now_ms())
            .with_task_token(request.token);
        ledger.track(&entry).await?;
        println!(
            "{}  the workflow asked for a {} ({}): started {}, tracked with its task token",
            at(),
            request.kind,
            request.model,
            short(&job)
        );
        let ids = gemini.finish(&job, JobOutcome::Succeed);
        delivered(gemini, ids.first().map(String::as_str).unwrap_or_default()).await;
        let drained = pipeline.drain().await?;
        let status = sfn.describe_execution().execution_arn(&execution).send().await?.status;
        resumed += usize::from(drained.inserts == 1);
        println!(
            "{}    Gemini finished it; its webhook was recorded and routed, and resumed the workflow ({})",
            at(),
            status.as_str().to_lowercase()
        );
    }
    let ended = sfn.describe_execution().execution_arn(&execution).send().await?;
    let output: Value = serde_json::from_str(ended.output().unwrap_or("{}"))?;
    let summary_job = output["summary"]["data_id"].as_str().unwrap_or_default().to_owned();

    // The summary's end also reached the example consumer's queue: it stores the interaction.
    let consumer = pipeline.consumer(emulator, gemini.base_url(), gemini.api_key()).await?;
    let queue = &pipeline.stack.consumer.url;
    let mut stored = Vec::new();
    for message in testkit::drain_queue(&sqs, queue).await? {
        if let Outcome::Stored(keys) = consumer::process(&consumer, &sqs_record(&message, queue)).await {
            stored.extend(keys.into_iter().filter(|k| k.contains(&summary_job) && !summary_job.is_empty()));
        }
    }
    println!(
        "{}  the workflow {}: its output names {} (the summary), stored by the consumer at {}",
        at(),
        ended.status.as_str().to_lowercase(),
        short(&summary_job),
        stored.first().map_or("nothing", String::as_str)
    );
    let held = ended.status == ExecutionStatus::Succeeded && resumed == 2 && stored.len() == 1;
    println!(
        "  {}",
        if held {
            "the workflow held: each job's end started the next step, and nothing polled"
        } else {
            "THE WORKFLOW DID NOT HOLD"
        }
    );
    println!();
    Ok(held)
}

/// The next job request the workflow sent (it waits for it, a few seconds at most), deleted.
async fn next_request(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<Request, Error> {
    for _ in 0..250 {
        let page = sqs.receive_message().queue_url(queue).send().await?;
        let Some(message) = page.messages().first() else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if let Some(receipt) = message.receipt_handle() {
            sqs.delete_message().queue_url(queue).receipt_handle(receipt).send().await?;
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

/// Starts the job `request` asks for, with the dynamic webhook: a batch over its prompts, or an
/// interaction summarising the answers in a batch's results file.
async fn start(client: &GeminiClient, endpoint: &Endpoint, request: &Request) -> Result<String, Error> {
    let webhook = WebhookConfig { uris: vec![endpoint.dynamic.clone()], user_metadata: marked() };
    if request.kind == "batch" {
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
        return Ok(client.create_batch(&request.model, &file.name, "prompts", &webhook).await?.name);
    }
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
    Ok(client.create_interaction(&request.model, &input, &webhook).await?.id)
}

/// `user_metadata` marked as a tracked job's.
fn marked() -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("team".into(), json!("demo"));
    ledger::mark(&mut metadata);
    metadata
}

/// Waits (up to 5 s) until the local Gemini has had a 200 for `id`.
async fn delivered(gemini: &Simulator, id: &str) {
    for _ in 0..500 {
        if gemini.attempts().iter().any(|a| a.webhook_id == id && a.status == Some(200)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The last part of a name or ARN, shortened for a line.
fn short(name: &str) -> String {
    let last = name.rsplit([':', '/']).next().unwrap_or(name);
    if last.len() > 12 { format!("{}...", &last[..12]) } else { last.to_owned() }
}
