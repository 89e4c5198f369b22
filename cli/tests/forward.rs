//! `forward` and `tail` on the built binary, against routed queues in the emulator filled by the real
//! pipeline: every message reaches the local endpoint once, a message it answers 500 (or reports in
//! `batchItemFailures`) stays in the queue, and `tail` leaves every message visible at once unless told
//! to consume them.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::types::QueueAttributeName;
use lambda_http::{Body, Request, Response};
use local_stack::Pipeline;
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::message::DownstreamMessage;
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use testkit::{Emulator, HttpRequest, PayloadFormat, http_event};
use tokio::net::TcpListener;

/// A pipeline whose batch queue holds `count` events, `msg_fwd_0` .. `msg_fwd_{count-1}`.
async fn filled(emulator: &Emulator, count: usize) -> Pipeline {
    let secret = SigningSecret::generate();
    let pipeline = Pipeline::with_secret(emulator, &secret).await.unwrap();
    let now = SystemClock.unix_now();
    for i in 0..count {
        let body = json!({"type": "batch.succeeded", "data": {"id": format!("batches/{i}")}, "user_metadata": {"n": i}})
            .to_string();
        let signed = SignedHeaders::v1(&secret, &format!("msg_fwd_{i}"), now, body.as_bytes());
        let request = HttpRequest::signed(&signed, body.as_bytes());
        let event = http_event(PayloadFormat::FunctionUrl, &request).to_string();
        let response = pipeline.deliver(lambda_http::request::from_str(&event).unwrap()).await;
        assert_eq!(response.status(), 200);
    }
    pipeline.drain().await.unwrap();
    pipeline
}

/// A local endpoint that records every body it is sent and answers with `answer(body)`.
async fn endpoint(answer: fn(&Value) -> (u16, Value)) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let handle = move |request: Request| {
        let body: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
        let (status, reply) = answer(&body);
        recorded.lock().unwrap().push(body);
        let mut response = Response::new(Body::Text(reply.to_string()));
        *response.status_mut() = status.try_into().unwrap();
        std::future::ready(response)
    };
    tokio::spawn(local_stack::http::serve(listener, Arc::new(handle)));
    (url, seen)
}

async fn run_cli(args: Vec<String>) -> (Option<i32>, String, String) {
    let mut command = support::cli();
    command.args(args);
    support::run_async(command).await.parts()
}

async fn depth(pipeline: &Pipeline, queue: &str) -> usize {
    let attributes = pipeline
        .sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|name| attributes[name].parse::<usize>().unwrap())
    .sum()
}

fn webhook_id(message: &Value) -> String {
    message["webhook_id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_delivers_each_message_once_and_leaves_what_the_endpoint_refused() {
    let emulator = Emulator::shared().unwrap();
    let pipeline = filled(emulator, 12).await;
    let queue = pipeline.stack.routed("batch").url.clone();
    // The endpoint refuses every third event.
    let (url, seen) = endpoint(|body| {
        let refused = body["user_metadata"]["n"].as_u64().is_some_and(|n| n % 3 == 0);
        if refused { (500, json!({"error": "boom"})) } else { (200, json!({})) }
    })
    .await;

    let args = [
        "forward",
        "--queue",
        &queue,
        "--to",
        &url,
        "--idle",
        "2",
        "--json",
        "--endpoint",
        emulator.endpoint(),
    ];
    let (code, stdout, stderr) = run_cli(args.map(String::from).to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");

    let mut posted: BTreeMap<String, usize> = BTreeMap::new();
    for message in seen.lock().unwrap().iter() {
        DownstreamMessage::from_sqs_body(&message.to_string()).expect("the downstream message, as queued");
        *posted.entry(webhook_id(message)).or_default() += 1;
    }
    assert_eq!(posted.len(), 12, "every message posted");
    assert!(posted.values().all(|n| *n == 1), "each once: {posted:?}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 12, "{stdout}");
    let left: Vec<&Value> = lines.iter().filter(|l| l["delivered"] == false).collect();
    assert_eq!(left.len(), 4, "{stdout}");
    assert!(left.iter().all(|l| l["status"] == 500), "{stdout}");
    assert_eq!(depth(&pipeline, &queue).await, 4, "the refused ones stay in the queue, the rest are deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_as_an_sqs_event_leaves_what_the_function_reports_failed() {
    let emulator = Emulator::shared().unwrap();
    let pipeline = filled(emulator, 4).await;
    let queue = pipeline.stack.routed("batch").url.clone();
    // A function under `cargo lambda watch`: fails the event whose metadata says 1.
    let (url, seen) = endpoint(|event| {
        let record = &event["Records"][0];
        let body: Value =
            serde_json::from_str(record["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        let failures = if body["user_metadata"]["n"] == 1 {
            vec![json!({"itemIdentifier": record["messageId"]})]
        } else {
            vec![]
        };
        (200, json!({"batchItemFailures": failures}))
    })
    .await;

    let args = [
        "forward",
        "--queue",
        &queue,
        "--to",
        &url,
        "--format",
        "sqs-event",
        "--idle",
        "2",
        "--endpoint",
        emulator.endpoint(),
    ];
    let (code, stdout, stderr) = run_cli(args.map(String::from).to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");
    let events = seen.lock().unwrap().clone();
    assert_eq!(events.len(), 4);
    for event in &events {
        assert_eq!(event["Records"][0]["eventSource"], "aws:sqs");
        assert!(event["Records"][0]["eventSourceARN"].as_str().unwrap().ends_with("-batch"), "{event}");
    }
    assert!(stdout.contains("left in the queue: the function reported it in batchItemFailures"), "{stdout}");
    assert_eq!(depth(&pipeline, &queue).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_every_message_once_and_leaves_each_visible_at_once_unless_told_to_consume() {
    let emulator = Emulator::shared().unwrap();
    let pipeline = filled(emulator, 3).await;
    let queue = pipeline.stack.routed("batch").url.clone();
    let args = ["tail", &queue, "--json", "--endpoint", emulator.endpoint()];
    let (code, stdout, stderr) = run_cli(args.map(String::from).to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut ids: Vec<String> = lines.iter().map(webhook_id).collect();
    ids.sort();
    assert_eq!(ids, ["msg_fwd_0", "msg_fwd_1", "msg_fwd_2"]);
    assert!(
        lines.iter().all(|l| l["type"] == "batch.succeeded"
            && l["scheme"] == "v1"
            && l["user_metadata"]["n"].is_u64())
    );

    // Visible again at once: a second reader gets all three now, not after the visibility timeout.
    let again = pipeline.take_downstream().await.unwrap();
    assert_eq!(again["batch"].len(), 3);

    // A pass is bounded by count: the rest stay, unread, and the CLI says more may be waiting.
    let pipeline = filled(emulator, 3).await;
    let queue = pipeline.stack.routed("batch").url.clone();
    let args = ["tail", &queue, "--max", "2", "--endpoint", emulator.endpoint()];
    let (code, stdout, stderr) = run_cli(args.map(String::from).to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stderr.contains("more may be waiting"), "{stderr}");
    assert_eq!(depth(&pipeline, &queue).await, 3, "nothing consumed");

    // With --consume, each message is deleted once printed.
    let pipeline = filled(emulator, 2).await;
    let queue = pipeline.stack.routed("batch").url.clone();
    let args = ["tail", &queue, "--consume", "--idle", "1", "--endpoint", emulator.endpoint()];
    let (code, stdout, stderr) = run_cli(args.map(String::from).to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("batch.succeeded") && stdout.contains(r#"{"n":0}"#), "{stdout}");
    assert_eq!(depth(&pipeline, &queue).await, 0);
}
