//! The scenario this project exists for, hop by hop: the receiver registered with the local Gemini, a
//! batch started with the receiver's dynamic URL, Gemini finishing it and delivering its end (the first
//! answer lost, so retried), the pipeline recording it once and routing it, and the consumer storing the
//! results in S3. Prints each hop with its time and the first lines of the stored results; returns
//! whether every expectation held.

use std::time::{Duration, Instant};

use consumer::Outcome;
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::{Endpoint, Pipeline};
use serde_json::{Map, json};
use shared::fixtures::lambda_events::sqs_record;
use shared::gemini::{GeminiClient, WebhookConfig};
use testkit::Emulator;

type Error = Box<dyn std::error::Error>;

/// The requests of the demo's batch.
const REQUESTS: &str = r#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "Summarise the Standard Webhooks spec"}]}]}}
{"key": "q2", "request": {"contents": [{"parts": [{"text": "Name three uses of a dead-letter queue"}]}]}}
{"key": "q3", "request": {"contents": [{"parts": [{"text": "Why verify a webhook's signature?"}]}]}}
"#;

/// Prints one hop, with the time since the story began.
struct Hops(Instant);

impl Hops {
    fn say(&self, what: impl std::fmt::Display) {
        println!("  {:>6} ms  {what}", self.0.elapsed().as_millis());
    }
}

/// Runs the story against `pipeline` (served at `endpoint`) and `gemini`, which the receiver trusts.
pub(crate) async fn run(
    emulator: &Emulator,
    pipeline: &Pipeline,
    endpoint: &Endpoint,
    gemini: &Simulator,
    client: &GeminiClient,
    webhook_id: &str,
) -> Result<bool, Error> {
    println!("the loop: a batch with a dynamic webhook, from start to results in S3");
    let hops = Hops(Instant::now());
    hops.say(format!("receiver {} registered with the local Gemini as webhook {webhook_id}", endpoint.plain));
    let file =
        client.upload_file(REQUESTS.as_bytes().to_vec(), "requests.jsonl", "application/jsonl").await?;
    hops.say(format!("uploaded {} ({} requests)", file.name, REQUESTS.lines().count()));
    let mut metadata = Map::new();
    metadata.insert("team".into(), json!("demo"));
    let webhook = WebhookConfig { uris: vec![endpoint.dynamic.clone()], user_metadata: metadata };
    let batch = client.create_batch("gemini-2.5-flash", &file.name, "demo", &webhook).await?;
    hops.say(format!("started {} with webhook_config.uris = [{}?token=...]", batch.name, endpoint.plain));

    gemini.lose_next_answers(1);
    let delivery = gemini.finish(&batch.name, JobOutcome::Succeed).pop().ok_or("no delivery")?;
    let results_file =
        client.get_operation(&batch.name).await?.responses_file().unwrap_or_default().to_owned();
    hops.say(format!(
        "Gemini finished {}: results in {results_file}; batch.succeeded delivered as {delivery}, signed v1a",
        batch.name
    ));
    let mut attempts = Vec::new();
    for _ in 0..500 {
        attempts = gemini.attempts().into_iter().filter(|a| a.webhook_id == delivery).collect();
        if attempts.iter().any(|a| a.status == Some(200)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for attempt in &attempts {
        let answer =
            attempt.status.map_or("its answer lost: Gemini retries".to_owned(), |s| format!("answered {s}"));
        hops.say(format!("  attempt {}: the receiver verified it, {answer}", attempt.attempt));
    }

    let drained = pipeline.drain().await?;
    let sqs = emulator.sqs().await;
    let yours = testkit::drain_queue(&sqs, &pipeline.stack.routed("batch").url).await?;
    let consumer_queue = &pipeline.stack.consumer.url;
    let routed = testkit::drain_queue(&sqs, consumer_queue).await?;
    hops.say(format!(
        "recorder: {} ingest messages, {} recorded (the retry was a duplicate); fanout: routed to batch \
         ({} there for your Lambda) and the example consumer's own queue",
        drained.ingested,
        drained.inserts,
        yours.len()
    ));

    let consumer = pipeline.consumer(emulator, gemini.base_url(), gemini.api_key()).await?;
    let mut stored = Vec::new();
    for message in &routed {
        let record = sqs_record(message, consumer_queue);
        match consumer::process(&consumer, &record).await {
            Outcome::Stored(keys) => stored.extend(keys),
            other => hops.say(format!("consumer: {other:?}")),
        }
    }
    let bucket = &pipeline.stack.results_bucket;
    let mut lines = Vec::new();
    if let Some(key) = stored.first() {
        let object = emulator.s3().await.get_object().bucket(bucket).key(key).send().await?;
        let bytes = object.body.collect().await?.into_bytes();
        hops.say(format!(
            "consumer: downloaded {results_file}, stored s3://{bucket}/{key} ({} bytes)",
            bytes.len()
        ));
        lines = String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect();
    }
    for line in lines.iter().take(2) {
        let line: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let text =
            line["response"]["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap_or_default();
        println!("             {}: {text}", line["key"].as_str().unwrap_or_default());
    }
    let held =
        attempts.len() == 2 && yours.len() == 1 && routed.len() == 1 && stored.len() == 1 && lines.len() == 3;
    println!(
        "  {}",
        if held {
            "the loop held: one event, delivered twice, recorded and stored once"
        } else {
            "THE LOOP DID NOT HOLD"
        }
    );
    println!();
    Ok(held)
}
