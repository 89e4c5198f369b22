//! The example consumer against the emulator (DynamoDB, S3, Secrets Manager) and the local Gemini: each
//! job's follow-up stored once however often its event arrives, only what failed redelivered, and what
//! failed because S3 or the Files API was down done on redelivery. (Here rather than in the consumer's
//! crate, so the crate users copy has no test dependencies.)

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use base64::Engine as _;
use consumer::{
    Consumer, FUNCTION_TIMEOUT_SECS, GeminiAccess, KEEP_SECS, LEASE_SECS, MAX_RESULT_BYTES, Outcome,
    ResultsBucket, handle, process,
};
use gemini_sim::{Outcome as JobOutcome, Settings, Simulator};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::WebhookId;
use shared::aws::clients::Clients;
use shared::aws::idempotency::{Claim, Idempotency};
use shared::clock::ManualClock;
use shared::gemini::{
    ApiLocation, DEFAULT_API_VERSION, DEFAULT_VIDEO_MODEL, GeminiClient, InteractionVideo, WebhookConfig,
    interaction_video,
};
use testkit::{Emulator, Fault, FaultProxy, Stack};

const NOW: i64 = 1_769_083_200;
const KEY: &str = "consumer-test-key";

/// A downstream message for `event` (its `data.id` the job).
fn body(id: &str, event: &Value) -> String {
    json!({
        "webhook_id": id, "type": event["type"], "data_id": event["data"]["id"], "user_metadata": event["user_metadata"],
        "event": event, "scheme": "v1a", "webhook_timestamp": NOW, "received_at": NOW * 1000 + 100,
        "recorded_at": NOW * 1000 + 200,
    })
    .to_string()
}

fn record(message_id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id.into());
    message.body = Some(body.into());
    message
}

/// The consumer as `main` wires it, on a fresh stack in the emulator, its S3 reached through `s3` (the
/// emulator, or a fault proxy in front of it), and the Gemini API at `gemini_base`.
async fn consumer_on(stack: &Stack, s3: &str, gemini_base: &str, clock: Arc<ManualClock>) -> Consumer {
    let emulator = Emulator::shared().unwrap();
    let secret = emulator
        .secretsmanager()
        .await
        .create_secret()
        .name(format!("{}-gemini-api-key", stack.prefix))
        .secret_string(KEY)
        .send()
        .await
        .unwrap();
    let (direct, through) = (clients(emulator.endpoint()).await, clients(s3).await);
    Consumer {
        once: Idempotency::new(
            direct.dynamodb(),
            &stack.claims_table,
            consumer::NAMESPACE,
            LEASE_SECS,
            KEEP_SECS,
            clock.clone(),
        ),
        results: ResultsBucket::new(
            consumer::bucket::s3_client(&through),
            &stack.results_bucket,
            MAX_RESULT_BYTES,
        ),
        gemini: GeminiAccess::new(
            direct.secretsmanager(),
            secret.arn().unwrap(),
            ApiLocation { base: gemini_base.to_owned(), ..ApiLocation::default() },
            consumer::FOLLOW_UP_LIMIT,
        ),
        clock,
    }
}

/// An invocation of `event` that began at `started_ms`, with the function's whole timeout before it.
fn invocation(event: SqsEvent, started_ms: i64) -> LambdaEvent<SqsEvent> {
    let mut context = Context::default();
    context.deadline = u64::try_from(started_ms).unwrap() + FUNCTION_TIMEOUT_SECS * 1000;
    LambdaEvent::new(event, context)
}

async fn clients(endpoint: &str) -> Clients {
    let config = testkit::sdk_config_for(endpoint, testkit::HARNESS_TIMEOUTS).await;
    Clients::from_sdk_config(config, Some(endpoint.to_owned()))
}

async fn stored(stack: &Stack, key: &str) -> Option<Vec<u8>> {
    let s3 = Emulator::shared().unwrap().s3().await;
    let object = s3.get_object().bucket(&stack.results_bucket).key(key).send().await.ok()?;
    Some(object.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn objects(stack: &Stack) -> Vec<String> {
    let s3 = Emulator::shared().unwrap().s3().await;
    let listed = s3.list_objects_v2().bucket(&stack.results_bucket).send().await.unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

fn no_auto_finish() -> Settings {
    Settings { finish_jobs_after: None, first_retry: Duration::from_millis(20), ..Settings::default() }
}

/// A consumer on a fresh stack, for events with nothing to fetch (its Gemini is unreachable).
async fn failures_consumer() -> (Stack, Consumer) {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let consumer =
        consumer_on(&stack, emulator.endpoint(), "http://127.0.0.1:9", Arc::new(ManualClock::at(NOW))).await;
    (stack, consumer)
}

/// A `batch.failed` event for `job`.
fn batch_failed(job: &str) -> Value {
    json!({"type": "batch.failed", "data": {"id": job, "error_code": 13, "error_message": "internal"}})
}

#[tokio::test]
async fn a_redelivered_event_is_followed_up_once_and_only_the_unparseable_record_fails() {
    let (stack, consumer) = failures_consumer().await;
    let failed = batch_failed("batches/1");
    let mut event = SqsEvent::default();
    event.records =
        vec![record("a", &body("msg_1", &failed)), record("b", "{}"), record("c", &body("msg_1", &failed))];

    let response = handle(&consumer, invocation(event, NOW * 1000)).await.unwrap();

    let failures: Vec<&str> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failures, ["b"]);
    assert_eq!(process(&consumer, &record("d", &body("msg_1", &failed))).await, Outcome::Duplicate);
    let record_of_failure: Value =
        serde_json::from_slice(&stored(&stack, "batches/1/failure.json").await.unwrap()).unwrap();
    assert_eq!(
        (record_of_failure["error_code"].as_str(), record_of_failure["job"].as_str()),
        (Some("13"), Some("batches/1"))
    );
    let other = json!({"type": "model.tuned", "data": {"id": "tunedModels/1"}});
    assert_eq!(process(&consumer, &record("e", &body("msg_2", &other))).await, Outcome::Ignored);
    assert_eq!(objects(&stack).await, ["batches/1/failure.json"]);
}

#[tokio::test]
async fn a_replay_is_handled_once_more_and_its_redelivery_is_not() {
    let (stack, consumer) = failures_consumer().await;
    let failed = batch_failed("batches/7");
    let original = body("msg_7", &failed);
    let replay = |at: i64| {
        let mut message: Value = serde_json::from_str(&original).unwrap();
        message["replayed_at"] = json!(at);
        message.to_string()
    };
    let stored = Outcome::Stored(vec!["batches/7/failure.json".into()]);

    assert_eq!(process(&consumer, &record("a", &original)).await, stored);
    assert_eq!(process(&consumer, &record("b", &original)).await, Outcome::Duplicate);
    // `gemini-webhooks replay` after a consumer bug: handled again, rewriting the same object...
    let first = replay(NOW * 1000 + 60_000);
    assert_eq!(process(&consumer, &record("c", &first)).await, stored, "a replay is asked for");
    // ...once, however often SQS delivers that replay; a later replay of the same window runs again.
    assert_eq!(process(&consumer, &record("d", &first)).await, Outcome::Duplicate);
    assert_eq!(process(&consumer, &record("e", &replay(NOW * 1000 + 120_000))).await, stored);
    assert_eq!(objects(&stack).await, ["batches/7/failure.json"]);
}

#[tokio::test]
async fn a_claim_is_a_lease_its_holders_own_and_its_consumers_own() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let clock = Arc::new(ManualClock::at(NOW));
    let once = Idempotency::new(
        emulator.dynamodb().await,
        &stack.claims_table,
        "a",
        60,
        7 * 24 * 3600,
        clock.clone(),
    );
    let id = WebhookId::parse("msg_lease").unwrap();
    let acquired = |claim| match claim {
        Claim::Acquired(held) => held,
        other => panic!("{other:?}"),
    };

    let first = acquired(once.claim(&id).await.unwrap());
    assert_eq!(once.claim(&id).await.unwrap(), Claim::InProgress, "another invocation holds it");
    once.release(&first).await.unwrap();
    let second = acquired(once.claim(&id).await.unwrap());
    clock.advance(61);
    let third = acquired(once.claim(&id).await.unwrap());
    // The holder whose lease ran out comes back late: it can neither release nor complete the claim its
    // successor holds now.
    once.release(&second).await.unwrap();
    assert_eq!(once.claim(&id).await.unwrap(), Claim::InProgress, "the late release gave up nothing");
    assert!(!once.done(&second).await.unwrap(), "the late done marks nothing");
    assert_eq!(once.claim(&id).await.unwrap(), Claim::InProgress);
    assert!(once.done(&third).await.unwrap());
    clock.advance(3600);
    assert_eq!(once.claim(&id).await.unwrap(), Claim::AlreadyDone);
    once.release(&third).await.unwrap();
    assert_eq!(once.claim(&id).await.unwrap(), Claim::AlreadyDone, "done is never released");

    // Another consumer sharing the table has its own claims on the same event.
    let other =
        Idempotency::new(emulator.dynamodb().await, &stack.claims_table, "b", 60, 7 * 24 * 3600, clock);
    assert!(matches!(other.claim(&id).await.unwrap(), Claim::Acquired(_)), "not suppressed by a's");
}

/// A job started at `simulator` and finished: its event, as the fanout would route it.
async fn finished_batch(simulator: &Simulator, outcome: JobOutcome) -> (String, Value) {
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let input = br#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "one"}]}]}}
{"key": "q2", "request": {"contents": [{"parts": [{"text": "two"}]}]}}
"#;
    let file = client.upload_file(input.to_vec(), "in.jsonl", "application/jsonl").await.unwrap();
    let batch =
        client.create_batch("gemini-2.5-flash", &file.name, "t", &WebhookConfig::default()).await.unwrap();
    simulator.finish(&batch.name, outcome);
    let done = client.get_operation(&batch.name).await.unwrap();
    let mut data = json!({"id": batch.name});
    if let Some(file) = done.responses_file() {
        data["output_file_uri"] = json!(file);
    }
    if let Some(error) = &done.error {
        data["error_code"] = error["code"].clone();
        data["error_message"] = error["message"].clone();
    }
    let event_type = if done.error.is_some() { "batch.failed" } else { "batch.succeeded" };
    (batch.name, json!({"type": event_type, "data": data}))
}

#[tokio::test]
async fn results_are_streamed_complete_after_an_interrupted_download() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let simulator =
        Simulator::start(KEY, Settings { video_bytes: 11 << 20, ..no_auto_finish() }).await.unwrap();
    let consumer =
        consumer_on(&stack, emulator.endpoint(), simulator.base_url(), Arc::new(ManualClock::at(NOW))).await;

    let (batch, event) = finished_batch(&simulator, JobOutcome::Succeed).await;
    simulator.interrupt_downloads(1, 100);
    let message = body("msg_batch", &event);
    let interrupted = process(&consumer, &record("m1", &message)).await;
    assert!(
        matches!(&interrupted, Outcome::Failed(reason) if reason.contains("broke off")),
        "{interrupted:?}"
    );
    assert!(objects(&stack).await.is_empty(), "nothing partial is stored");
    let key = format!("{batch}/results.jsonl");
    assert_eq!(
        process(&consumer, &record("m1", &message)).await,
        Outcome::Stored(vec![key.clone()]),
        "on redelivery"
    );
    let output = simulator.file(event["data"]["output_file_uri"].as_str().unwrap()).unwrap();
    assert_eq!(stored(&stack, &key).await.unwrap(), output, "complete");

    // A video over one part: a multipart upload, interrupted in its second part, then complete.
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let operation =
        client.generate_video("veo-3.0-generate-001", "a cat", &WebhookConfig::default()).await.unwrap();
    simulator.finish(&operation.name, JobOutcome::Succeed);
    let done = client.get_operation(&operation.name).await.unwrap();
    let uri = done.response["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = shared::gemini::file_name(&uri).unwrap();
    let video = json!({"type": "video.generated", "data": {"id": operation.name, "output_file_uri": file, "file_name": file}});
    simulator.interrupt_downloads(1, 9 << 20);
    let message = body("msg_video", &video);
    assert!(matches!(process(&consumer, &record("v1", &message)).await, Outcome::Failed(_)));
    let key = format!("{}/video.mp4", operation.name);
    assert_eq!(process(&consumer, &record("v1", &message)).await, Outcome::Stored(vec![key.clone()]));
    assert_eq!(stored(&stack, &key).await.unwrap(), simulator.file(&file).unwrap());

    // An interaction: fetched whole, its output in its steps.
    let interaction =
        client.create_interaction("gemini-2.5-flash", "hello", &WebhookConfig::default()).await.unwrap();
    simulator.finish(&interaction.id, JobOutcome::Succeed);
    let completed = json!({"type": "interaction.completed", "data": {"id": interaction.id}});
    let key = format!("interactions/{}/interaction.json", interaction.id);
    assert_eq!(
        process(&consumer, &record("i1", &body("msg_inter", &completed))).await,
        Outcome::Stored(vec![key.clone()])
    );
    let stored_interaction: Value = serde_json::from_slice(&stored(&stack, &key).await.unwrap()).unwrap();
    assert_eq!(stored_interaction["status"], "completed");
    assert_eq!(stored_interaction["steps"][1]["content"][0]["text"], gemini_sim::jobs::answer_to("hello"));
}

#[tokio::test]
async fn a_video_made_through_interactions_is_stored_beside_its_interaction_by_file_or_inline() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let simulator = Simulator::start(KEY, no_auto_finish()).await.unwrap();
    let consumer =
        consumer_on(&stack, emulator.endpoint(), simulator.base_url(), Arc::new(ManualClock::at(NOW))).await;
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();

    // As `jobs video` starts one: delivered as a file of the Files API, downloaded into the bucket.
    let by_file = client
        .create_video_interaction(DEFAULT_VIDEO_MODEL, "a cat", &WebhookConfig::default())
        .await
        .unwrap();
    // As Google's SDK starts one by default: the bytes inline, base64.
    let inline: Value = reqwest::Client::new()
        .post(format!("{}/{DEFAULT_API_VERSION}/interactions", simulator.base_url()))
        .header("x-goog-api-key", KEY)
        .json(&json!({"model": DEFAULT_VIDEO_MODEL, "input": "a dog", "background": true,
            "response_format": {"type": "video"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inline = inline["id"].as_str().unwrap().to_owned();

    for (id, message) in [(by_file.id.as_str(), "msg_video_file"), (inline.as_str(), "msg_video_inline")] {
        simulator.finish(id, JobOutcome::Succeed);
        let completed = json!({"type": "interaction.completed", "data": {"id": id}});
        let (video, whole) =
            (format!("interactions/{id}/video.mp4"), format!("interactions/{id}/interaction.json"));
        assert_eq!(
            process(&consumer, &record(message, &body(message, &completed))).await,
            Outcome::Stored(vec![video.clone(), whole]),
            "{message}"
        );
        let interaction = client.get_interaction(id).await.unwrap();
        let expected = match interaction_video(&interaction).unwrap() {
            InteractionVideo::Uri(uri) => simulator.file(&shared::gemini::file_name(&uri).unwrap()).unwrap(),
            InteractionVideo::Inline { data, .. } => {
                base64::engine::general_purpose::STANDARD.decode(data).unwrap()
            }
        };
        assert!(expected.starts_with(b"\x00\x00\x00\x18ftypmp42"), "{message}: an MP4");
        assert_eq!(stored(&stack, &video).await.unwrap(), expected, "{message}: the video, whole");
    }
}

#[tokio::test]
async fn s3_or_the_files_api_down_fails_the_record_and_redelivery_succeeds() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let simulator = Simulator::start(KEY, no_auto_finish()).await.unwrap();
    let s3 = FaultProxy::start(emulator.endpoint()).await.unwrap();
    let gemini = FaultProxy::start(simulator.base_url()).await.unwrap();
    let consumer =
        consumer_on(&stack, &s3.endpoint(), &gemini.endpoint(), Arc::new(ManualClock::at(NOW))).await;
    let (batch, event) = finished_batch(&simulator, JobOutcome::Succeed).await;
    let message = body("msg_down", &event);
    let key = format!("{batch}/results.jsonl");

    gemini.set(Fault::Refuse);
    assert!(
        matches!(process(&consumer, &record("x", &message)).await, Outcome::Failed(_)),
        "the Files API is down"
    );
    gemini.set(Fault::None);
    s3.set(Fault::Refuse);
    assert!(matches!(process(&consumer, &record("x", &message)).await, Outcome::Failed(_)), "S3 is down");
    s3.set(Fault::None);
    assert_eq!(process(&consumer, &record("x", &message)).await, Outcome::Stored(vec![key.clone()]));
    assert!(stored(&stack, &key).await.is_some());

    // A failed batch: its failure record, with Gemini's error.
    let (failed, event) =
        finished_batch(&simulator, JobOutcome::Fail { code: 13, message: "internal".into() }).await;
    let key = format!("{failed}/failure.json");
    assert_eq!(
        process(&consumer, &record("f", &body("msg_failed", &event))).await,
        Outcome::Stored(vec![key.clone()])
    );
    let record_of_failure: Value = serde_json::from_slice(&stored(&stack, &key).await.unwrap()).unwrap();
    assert_eq!(record_of_failure["error_message"], "internal");
}

#[tokio::test]
async fn a_record_is_started_only_while_the_invocation_has_time_to_finish_it() {
    let (stack, consumer) = failures_consumer().await;
    let batch = |prefix: &str| {
        let mut event = SqsEvent::default();
        event.records = (0..3)
            .map(|i| {
                record(
                    &format!("{prefix}{i}"),
                    &body(&format!("msg_{prefix}{i}"), &batch_failed(&format!("batches/{prefix}{i}"))),
                )
            })
            .collect();
        event
    };
    let needed_ms = i64::try_from((consumer::FOLLOW_UP_LIMIT + consumer::FINISH_MARGIN).as_millis()).unwrap();
    let timeout_ms = i64::try_from(FUNCTION_TIMEOUT_SECS * 1000).unwrap();

    // An invocation with one millisecond too few left: nothing is claimed, fetched or stored.
    let late = invocation(batch("late"), NOW * 1000 - (timeout_ms - needed_ms) - 1);
    let response = handle(&consumer, late).await.unwrap();
    let failures: Vec<&str> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failures, ["late0", "late1", "late2"], "reported unstarted, so SQS brings them back");
    assert!(objects(&stack).await.is_empty());
    let unclaimed = WebhookId::parse("msg_late0").unwrap();
    let Claim::Acquired(held) = consumer.once.claim(&unclaimed).await.unwrap() else {
        panic!("a claim was taken")
    };
    consumer.once.release(&held).await.unwrap();

    // Exactly enough left: every record is handled.
    let on_time = invocation(batch("late"), NOW * 1000 - (timeout_ms - needed_ms));
    assert!(handle(&consumer, on_time).await.unwrap().batch_item_failures.is_empty());
    assert_eq!(objects(&stack).await.len(), 3);
}

/// A finished video of `bytes` bytes at `simulator`: its file and its `video.generated` event.
async fn finished_video(simulator: &Simulator) -> (String, Value) {
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let operation =
        client.generate_video("veo-3.0-generate-001", "a cat", &WebhookConfig::default()).await.unwrap();
    simulator.finish(&operation.name, JobOutcome::Succeed);
    let done = client.get_operation(&operation.name).await.unwrap();
    let uri = done.response["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"].as_str().unwrap();
    let file = shared::gemini::file_name(uri).unwrap();
    let event = json!({"type": "video.generated", "data": {"id": operation.name, "file_name": file}});
    (file, event)
}

#[tokio::test]
async fn the_largest_result_it_stores_is_stored_whole() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let size = usize::try_from(MAX_RESULT_BYTES).unwrap();
    let simulator = Simulator::start(KEY, Settings { video_bytes: size, ..no_auto_finish() }).await.unwrap();
    let consumer =
        consumer_on(&stack, emulator.endpoint(), simulator.base_url(), Arc::new(ManualClock::at(NOW))).await;
    let (file, event) = finished_video(&simulator).await;
    let key = format!("{}/video.mp4", event["data"]["id"].as_str().unwrap());

    assert_eq!(
        process(&consumer, &record("big", &body("msg_big", &event))).await,
        Outcome::Stored(vec![key.clone()])
    );

    let s3 = emulator.s3().await;
    let head = s3.head_object().bucket(&stack.results_bucket).key(&key).send().await.unwrap();
    assert_eq!(head.content_length(), Some(i64::try_from(MAX_RESULT_BYTES).unwrap()));
    // Byte for byte, read back as a stream (the emulator's whole answer held at once would double
    // the test's memory for nothing more).
    let expected = simulator.file(&file).unwrap();
    let mut body = s3.get_object().bucket(&stack.results_bucket).key(&key).send().await.unwrap().body;
    let mut offset = 0;
    while let Some(chunk) = body.try_next().await.unwrap() {
        assert!(chunk[..] == expected[offset..offset + chunk.len()], "bytes from {offset} differ");
        offset += chunk.len();
    }
    assert_eq!(offset, size);
}

#[tokio::test]
async fn a_result_over_the_limit_leaves_a_note_in_its_place_and_nothing_partial() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let simulator =
        Simulator::start(KEY, Settings { video_bytes: 9 << 20, ..no_auto_finish() }).await.unwrap();
    let mut consumer =
        consumer_on(&stack, emulator.endpoint(), simulator.base_url(), Arc::new(ManualClock::at(NOW))).await;
    // The same check at a limit small enough to cross cheaply: one byte under the video.
    consumer.results = ResultsBucket::new(
        consumer::bucket::s3_client(&clients(emulator.endpoint()).await),
        &stack.results_bucket,
        (9 << 20) - 1,
    );
    let (file, event) = finished_video(&simulator).await;
    let job = event["data"]["id"].as_str().unwrap().to_owned();

    let note_key = format!("{job}/too_large.json");
    assert_eq!(
        process(&consumer, &record("over", &body("msg_over", &event))).await,
        Outcome::Stored(vec![note_key.clone()]),
        "handled for good: retrying would only fail again"
    );
    assert_eq!(objects(&stack).await, std::slice::from_ref(&note_key), "no video, not even part of one");
    let note: Value = serde_json::from_slice(&stored(&stack, &note_key).await.unwrap()).unwrap();
    assert_eq!((note["file"].as_str(), note["size_bytes"].as_u64()), (Some(file.as_str()), Some(9 << 20)));
}

#[tokio::test]
async fn a_job_name_in_no_documented_shape_reaches_neither_gemini_nor_a_key() {
    let (stack, consumer) = failures_consumer().await;
    for id in ["batches/../webhooks", "batches/a/../../x", "models/../operations/x"] {
        let event = batch_failed(id);
        let outcome = process(&consumer, &record("bad", &body(&format!("msg_{}", id.len()), &event))).await;
        assert!(
            matches!(&outcome, Outcome::Failed(reason) if reason.contains("not a Gemini job name")),
            "{outcome:?}"
        );
    }
    assert!(objects(&stack).await.is_empty(), "no key was made from it");
}

#[tokio::test]
async fn a_video_named_by_its_display_name_is_fetched_by_its_output_uri() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let simulator = Simulator::start(KEY, no_auto_finish()).await.unwrap();
    let consumer =
        consumer_on(&stack, emulator.endpoint(), simulator.base_url(), Arc::new(ManualClock::at(NOW))).await;
    let (file, mut event) = finished_video(&simulator).await;
    event["data"]["file_name"] = json!("sunset over the sea.mp4");
    event["data"]["output_file_uri"] =
        json!(format!("https://generativelanguage.googleapis.com/v1beta/{file}"));
    let key = format!("{}/video.mp4", event["data"]["id"].as_str().unwrap());

    assert_eq!(
        process(&consumer, &record("v", &body("msg_named", &event))).await,
        Outcome::Stored(vec![key.clone()])
    );
    assert_eq!(stored(&stack, &key).await.unwrap(), simulator.file(&file).unwrap());
}
