//! Two Gemini jobs chained by a Step Functions workflow (`workflows/chained.asl.json`), run by the
//! emulator's Step Functions: a batch, then an interaction that summarises the batch's results. Each
//! task hands a job request and its token to the job-requests queue; the starter (`functions/starter`)
//! starts the job with the dynamic webhook, tracked with the token; Gemini finishes the job, and its
//! webhook, through the whole pipeline, resumes the workflow. Nothing polls a job; the summary's end reaches the example consumer, which
//! stores it.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use consumer::Outcome;
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::workflow::ChainedWorkflow;
use local_stack::{Endpoint, Pipeline};
use serde_json::Value;
use shared::fixtures::lambda_events::sqs_record;
use shared::gemini::GeminiClient;
use testkit::Emulator;

type Error = Box<dyn std::error::Error>;

/// Runs the chained workflow; returns whether every expectation held.
pub(crate) async fn run(
    emulator: &Emulator,
    pipeline: &Pipeline,
    endpoint: &Endpoint,
    gemini: &Simulator,
    _client: &GeminiClient,
) -> Result<bool, Error> {
    println!("a workflow: a batch, then a second model summarising its results, resumed by each job's end");
    let workflow = ChainedWorkflow::create(emulator, pipeline).await?;
    let starter = pipeline.starter(emulator, gemini.base_url(), gemini.api_key(), endpoint).await?;
    let started = Instant::now();
    let at = || format!("{:>6} ms", started.elapsed().as_millis());
    let prompts = ["Name three uses of a dead-letter queue", "What does a webhook-id dedupe?"];
    let execution = workflow.start("demo", &prompts, "gemini-2.5-flash", "gemini-2.5-pro").await?;
    println!("{}  started the workflow {} (workflows/chained.asl.json)", at(), short(&execution));

    let mut resumed = 0;
    for _ in 0..2 {
        let request = workflow.next_request().await?;
        let asked: Value = serde_json::from_str(request.body.as_deref().unwrap_or("{}"))?;
        let (kind, model) = (asked["kind"].as_str().unwrap_or("?"), asked["model"].as_str().unwrap_or("?"));
        let job = match starter::process(&starter, &request).await {
            starter::Outcome::Started(job) => job,
            other => return Err(format!("the starter did not start the {kind}: {other:?}").into()),
        };
        println!(
            "{}  the workflow asked for a {kind} ({model}): the starter started {}, tracked with its task token",
            at(),
            short(&job)
        );
        let ids = gemini.finish(&job, JobOutcome::Succeed);
        if let Some(id) = ids.first() {
            gemini.answered(id, Duration::from_secs(5)).await;
        }
        let drained = pipeline.drain().await?;
        let status = workflow.sfn.describe_execution().execution_arn(&execution).send().await?.status;
        resumed += usize::from(drained.inserts == 1);
        println!(
            "{}    Gemini finished it; its webhook was recorded and routed, and resumed the workflow ({})",
            at(),
            status.as_str().to_lowercase()
        );
    }
    let ended = workflow.sfn.describe_execution().execution_arn(&execution).send().await?;
    let output: Value = serde_json::from_str(ended.output().unwrap_or("{}"))?;
    let summary_job = output["summary"]["data_id"].as_str().unwrap_or_default().to_owned();

    // The summary's end also reached the example consumer's queue: it stores the interaction.
    let consumer = pipeline.consumer(emulator, gemini.base_url(), gemini.api_key()).await?;
    let queue = &pipeline.stack.consumer.url;
    let mut stored = Vec::new();
    for message in testkit::drain_queue(&emulator.sqs().await, queue).await? {
        if let Outcome::Stored(keys) = consumer::process(&consumer, &sqs_record(&message, queue)).await {
            stored.extend(keys.into_iter().filter(|k| !summary_job.is_empty() && k.contains(&summary_job)));
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

/// The last part of a name or ARN, shortened for a line.
fn short(name: &str) -> String {
    let last = name.rsplit([':', '/']).next().unwrap_or(name);
    if last.len() > 12 { format!("{}...", &last[..12]) } else { last.to_owned() }
}
