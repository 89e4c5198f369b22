//! The loop this project exists for, end to end against the local Gemini and the emulator: a batch
//! started through the library with the receiver's dynamic URL completes; its delivery (signed `v1a`
//! by the local Gemini's key, its answer lost once, so retried) is verified, recorded once, routed, and
//! the consumer stores its results in S3, once; a failed batch leaves a failure record.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use consumer::{Outcome, process};
use gemini_sim::{Outcome as JobOutcome, Settings, Simulator};
use local_stack::{Endpoint, Pipeline};
use serde_json::{Value, json};
use shared::clock::SystemClock;
use shared::gemini::{GeminiClient, WebhookConfig};
use shared::signature::{SigningSecret, UrlToken};
use testkit::Emulator;
use tokio::net::TcpListener;

const KEY: &str = "results-test-key";

/// The attempts at delivery `id`, once one was answered 200 (polling, up to 20 s).
async fn delivered(simulator: &Simulator, id: &str) -> Vec<gemini_sim::Attempt> {
    for _ in 0..1000 {
        let attempts: Vec<_> = simulator.attempts().into_iter().filter(|a| a.webhook_id == id).collect();
        if attempts.iter().any(|a| a.status == Some(200)) {
            return attempts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} was never answered 200: {:?}", simulator.attempts());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_a_dynamic_webhook_ends_with_its_results_in_s3_once() {
    let emulator = Emulator::shared().unwrap();
    let settings =
        Settings { finish_jobs_after: None, first_retry: Duration::from_millis(20), ..Settings::default() };
    let simulator = Simulator::start(KEY, settings).await.unwrap();
    let token = UrlToken::generate();
    let vars = [
        ("WEBHOOK_SECRETS", SigningSecret::generate().expose_whsec()),
        ("WEBHOOK_URL_TOKEN", token.expose().to_owned()),
        ("JWKS_URL", simulator.jwks_url()),
    ];
    let pipeline = Pipeline::start(emulator, &vars, Arc::new(SystemClock)).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Endpoint::new(&format!("http://{}/", listener.local_addr().unwrap()), &token);
    pipeline.serve_receiver(listener);

    // The user's side: upload the requests, start the batch with the dynamic URL.
    let gemini = GeminiClient::new(simulator.base_url(), "v1beta", KEY).unwrap();
    let input = br#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "hello"}]}]}}
{"key": "q2", "request": {"contents": [{"parts": [{"text": "world"}]}]}}
"#;
    let file = gemini.upload_file(input.to_vec(), "requests.jsonl", "application/jsonl").await.unwrap();
    let mut metadata = serde_json::Map::new();
    metadata.insert("team".into(), json!("ml"));
    let webhook = WebhookConfig { uris: vec![endpoint.dynamic.clone()], user_metadata: metadata };
    let batch = gemini.create_batch("gemini-2.5-flash", &file.name, "nightly", &webhook).await.unwrap();
    let failed = gemini.create_batch("gemini-2.5-flash", &file.name, "broken", &webhook).await.unwrap();

    // Gemini's side: it completes; the first answer to its delivery is lost, so it delivers again.
    simulator.lose_next_answers(1);
    let delivery = simulator.finish(&batch.name, JobOutcome::Succeed).remove(0);
    let attempts = delivered(&simulator, &delivery).await;
    let other =
        simulator.finish(&failed.name, JobOutcome::Fail { code: 13, message: "internal error".into() });
    delivered(&simulator, &other[0]).await;
    assert_eq!(attempts.len(), 2, "retried once, with the same webhook-id: {attempts:?}");
    assert_eq!(attempts[1].status, Some(200));

    pipeline.drain().await.unwrap();
    let routed =
        testkit::drain_queue(&emulator.sqs().await, &pipeline.stack.routed("batch").url).await.unwrap();
    assert_eq!(routed.len(), 2, "each event recorded and routed once: {routed:?}");

    // The consumer on the batch queue; each message delivered to it twice, as SQS may.
    let consumer = pipeline.consumer(emulator, simulator.base_url(), KEY).await.unwrap();
    let mut outcomes = Vec::new();
    for message in routed.iter().chain(routed.iter()) {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id().map(str::to_owned);
        record.body = message.body().map(str::to_owned);
        outcomes.push(process(&consumer, &record).await);
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
    let listed = s3.list_objects_v2().bucket(&pipeline.stack.results_bucket).send().await.unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort_unstable();
    let mut expected = [results.as_str(), failure.as_str()];
    expected.sort_unstable();
    assert_eq!(keys, expected, "once each");
    let object = s3.get_object().bucket(&pipeline.stack.results_bucket).key(&results).send().await.unwrap();
    let stored = object.body.collect().await.unwrap().into_bytes();
    let lines: Vec<Value> =
        std::str::from_utf8(&stored).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["response"]["candidates"][0]["content"]["parts"][0]["text"],
        gemini_sim::jobs::answer_to("hello")
    );
    let object = s3.get_object().bucket(&pipeline.stack.results_bucket).key(&failure).send().await.unwrap();
    let record: Value = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(
        (record["error_message"].as_str(), record["user_metadata"]["team"].as_str()),
        (Some("internal error"), Some("ml"))
    );
}
