//! The loop this project exists for, end to end against the local Gemini and the emulator: a batch
//! started through the library with the receiver's dynamic URL completes; its delivery (signed `v1a`
//! by the local Gemini's key, its answer lost once, so retried) is verified, recorded once, routed, and
//! the consumer stores its results in S3, once; a failed batch leaves a failure record, and so does a
//! batch or interaction cancelled through the API.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use consumer::{Outcome, process};
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::GeminiLoop;
use serde_json::{Value, json};
use shared::fixtures::lambda_events::sqs_record;
use shared::gemini::WebhookConfig;
use shared::message::DownstreamMessage;
use testkit::Emulator;

const KEY: &str = "results-test-key";

/// The attempts at delivery `id`, once one was answered 200 (waiting up to 20 s).
async fn delivered(simulator: &Simulator, id: &str) -> Vec<gemini_sim::Attempt> {
    if !simulator.answered(id, Duration::from_secs(20)).await {
        panic!("{id} was never answered 200: {:?}", simulator.attempts());
    }
    simulator.attempts().into_iter().filter(|a| a.webhook_id == id).collect()
}

/// The whole loop on one machine ([`GeminiLoop`]), and the messages read from the example consumer's
/// queue not asked for yet.
struct Loop {
    local: GeminiLoop,
    consumer_queue: tokio::sync::Mutex<Vec<aws_sdk_sqs::types::Message>>,
}

impl std::ops::Deref for Loop {
    type Target = GeminiLoop;
    fn deref(&self) -> &GeminiLoop {
        &self.local
    }
}

impl Loop {
    async fn start(emulator: &'static Emulator) -> Self {
        let local = GeminiLoop::start(emulator, KEY).await.unwrap();
        Self { local, consumer_queue: tokio::sync::Mutex::default() }
    }

    /// The messages of `queue`'s family on the example consumer's own queue once the pipeline has moved
    /// everything, as its trigger hands them over; each is checked to have reached the user's `queue`
    /// too, with the same body.
    async fn routed(&self, emulator: &Emulator, queue: &str) -> Vec<SqsMessage> {
        self.pipeline.drain().await.unwrap();
        let sqs = emulator.sqs().await;
        let url = &self.pipeline.stack.consumer.url;
        let mut pending = self.consumer_queue.lock().await;
        pending.extend(testkit::drain_queue(&sqs, url).await.unwrap());
        let (ours, others): (Vec<_>, Vec<_>) = pending.drain(..).partition(|m| {
            let message = DownstreamMessage::from_sqs_body(m.body().unwrap_or_default()).unwrap();
            local_stack::routed_queue_for(&message.event_type) == queue
        });
        *pending = others;
        let yours = testkit::drain_queue(&sqs, &self.pipeline.stack.routed(queue).url).await.unwrap();
        let bodies = |messages: &[aws_sdk_sqs::types::Message]| {
            let mut bodies: Vec<String> =
                messages.iter().filter_map(|m| m.body().map(str::to_owned)).collect();
            bodies.sort();
            bodies
        };
        assert_eq!(
            bodies(&yours),
            bodies(&ours),
            "every event the example consumer gets reaches {queue} too"
        );
        ours.iter().map(|message| sqs_record(message, url)).collect()
    }

    /// The stored JSON object at `key` in the results bucket.
    async fn stored_json(&self, emulator: &Emulator, key: &str) -> Value {
        let s3 = emulator.s3().await;
        let object =
            s3.get_object().bucket(&self.pipeline.stack.results_bucket).key(key).send().await.unwrap();
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_a_dynamic_webhook_ends_with_its_results_in_s3_once() {
    let emulator = Emulator::shared().unwrap();
    let local = Loop::start(emulator).await;

    // The user's side: upload the requests, start the batch with the dynamic URL.
    let input = br#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "hello"}]}]}}
{"key": "q2", "request": {"contents": [{"parts": [{"text": "world"}]}]}}
"#;
    let file = local.gemini.upload_file(input.to_vec(), "requests.jsonl", "application/jsonl").await.unwrap();
    let mut metadata = serde_json::Map::new();
    metadata.insert("team".into(), json!("ml"));
    let webhook = WebhookConfig { uris: vec![local.endpoint.dynamic.clone()], user_metadata: metadata };
    let batch = local.gemini.create_batch("gemini-2.5-flash", &file.name, "nightly", &webhook).await.unwrap();
    let failed = local.gemini.create_batch("gemini-2.5-flash", &file.name, "broken", &webhook).await.unwrap();

    // Gemini's side: it completes; the first answer to its delivery is lost, so it delivers again.
    local.simulator.lose_next_answers(1);
    let delivery = local.simulator.finish(&batch.name, JobOutcome::Succeed).remove(0);
    let attempts = delivered(&local.simulator, &delivery).await;
    let other =
        local.simulator.finish(&failed.name, JobOutcome::Fail { code: 13, message: "internal error".into() });
    delivered(&local.simulator, &other[0]).await;
    assert_eq!(attempts.len(), 2, "retried once, with the same webhook-id: {attempts:?}");
    assert_eq!(attempts[1].status, Some(200));

    let routed = local.routed(emulator, "batch").await;
    assert_eq!(routed.len(), 2, "each event recorded and routed once: {routed:?}");

    // The consumer on the batch queue; each message delivered to it twice, as SQS may.
    let consumer = local.pipeline.consumer(emulator, local.simulator.base_url(), KEY).await.unwrap();
    let mut outcomes = Vec::new();
    for record in routed.iter().chain(routed.iter()) {
        outcomes.push(process(&consumer, record).await);
    }
    let results = shared::results::key(&batch.name, shared::results::BATCH_RESULTS);
    let failure = shared::results::key(&failed.name, shared::results::FAILURE);
    assert!(outcomes.contains(&Outcome::Stored(vec![results.clone()])), "{outcomes:?}");
    assert!(outcomes.contains(&Outcome::Stored(vec![failure.clone()])), "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Duplicate).count(),
        2,
        "the second delivery of each"
    );

    let s3 = emulator.s3().await;
    let listed = s3.list_objects_v2().bucket(&local.pipeline.stack.results_bucket).send().await.unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort_unstable();
    let mut expected = [results.as_str(), failure.as_str()];
    expected.sort_unstable();
    assert_eq!(keys, expected, "once each");
    let object =
        s3.get_object().bucket(&local.pipeline.stack.results_bucket).key(&results).send().await.unwrap();
    let stored = object.body.collect().await.unwrap().into_bytes();
    let lines: Vec<Value> =
        std::str::from_utf8(&stored).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["response"]["candidates"][0]["content"]["parts"][0]["text"],
        gemini_sim::jobs::answer_to("hello")
    );
    let record = local.stored_json(emulator, &failure).await;
    assert_eq!(
        (record["error_message"].as_str(), record["user_metadata"]["team"].as_str()),
        (Some("internal error"), Some("ml"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_batch_or_interaction_leaves_a_record_of_its_cancellation() {
    let emulator = Emulator::shared().unwrap();
    let local = Loop::start(emulator).await;
    let input = br#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "hello"}]}]}}"#;
    let file = local.gemini.upload_file(input.to_vec(), "requests.jsonl", "application/jsonl").await.unwrap();
    let webhook = WebhookConfig { uris: vec![local.endpoint.dynamic.clone()], ..WebhookConfig::default() };
    let batch = local.gemini.create_batch("gemini-2.5-flash", &file.name, "nightly", &webhook).await.unwrap();
    let interaction = local.gemini.create_interaction("gemini-2.5-flash", "hello", &webhook).await.unwrap();

    // The user changes their mind: both are cancelled through the API, as a user's code would.
    local.gemini.cancel_batch(&batch.name).await.unwrap();
    let cancelled = local.gemini.cancel_interaction(&interaction.id).await.unwrap();
    assert_eq!(cancelled.status.as_deref(), Some("cancelled"));
    let state = local.gemini.get_operation(&batch.name).await.unwrap();
    assert_eq!(state.batch_state(), Some("BATCH_STATE_CANCELLED"));
    // One event for each; cancelling again changes nothing and delivers nothing more. (`emitted`
    // counts each delivery as it begins: exact as soon as the calls have answered.)
    assert_eq!(local.simulator.emitted().len(), 2);
    local.gemini.cancel_batch(&batch.name).await.unwrap();
    local.gemini.cancel_interaction(&interaction.id).await.unwrap();
    assert_eq!(local.simulator.emitted().len(), 2, "no second event");

    for id in local.simulator.emitted() {
        delivered(&local.simulator, &id).await;
    }
    let consumer = local.pipeline.consumer(emulator, local.simulator.base_url(), KEY).await.unwrap();
    for (queue, job, event_type) in [
        ("batch", batch.name.as_str(), "batch.cancelled"),
        ("interaction", &interaction.id, "interaction.cancelled"),
    ] {
        let routed = local.routed(emulator, queue).await;
        assert_eq!(routed.len(), 1, "{event_type}: delivered, recorded and routed once: {routed:?}");
        let failure = shared::results::key(job, shared::results::FAILURE);
        assert_eq!(process(&consumer, &routed[0]).await, Outcome::Stored(vec![failure.clone()]));
        let record = local.stored_json(emulator, &failure).await;
        assert_eq!(
            (record["type"].as_str(), record["job"].as_str()),
            (Some(event_type), Some(job)),
            "{record}"
        );
    }
}
