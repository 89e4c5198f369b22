//! `redrive` on the built CLI against the emulator, whose SQS has StartMessageMoveTask as SQS documents
//! it: the fanout DLQ's full messages reach the queue that refused them once it exists, the ingest DLQ's
//! messages are recorded and routed, a routed queue's DLQ goes back to it; an interrupted redrive run
//! again sends nothing twice; what cannot be redriven stays, named.

mod support;

use std::collections::BTreeMap;

use local_stack::Pipeline;
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::event::Event;
use shared::message::{DownstreamMessage, IngestMessage};
use shared::routing::Routes;
use shared::signature::sign::SignedHeaders;
use shared::signature::{Scheme, SigningSecret, Verified};
use shared::{WebhookId, WebhookTimestamp};
use testkit::{Emulator, HttpRequest, PayloadFormat, http_event};

async fn cli(emulator: &'static Emulator, args: Vec<String>) -> (Option<i32>, String, String) {
    let mut command = support::cli();
    command.args(&args).args(["--endpoint", emulator.endpoint()]);
    support::run_async(command).await.parts()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

async fn depth(emulator: &Emulator, queue: &str) -> usize {
    let sqs = emulator.sqs().await;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap()
}

/// Webhook ids downstream, with how often each arrived.
fn counted(messages: &[DownstreamMessage]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in messages {
        *counts.entry(m.webhook_id().to_string()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fanout_dlq_goes_to_the_queue_that_refused_it_once_even_when_interrupted() {
    let emulator = Emulator::shared().unwrap();
    let secret = SigningSecret::generate();
    let mut pipeline = Pipeline::with_secret(emulator, &secret).await.unwrap();
    // Batch events also go to a queue that does not exist yet: the fanout keeps them in its DLQ.
    let late = format!("{}/123456789012/{}-late", emulator.endpoint(), pipeline.stack.prefix);
    let routes =
        json!([{"match": "batch.*", "queues": [pipeline.stack.routed("batch").url, late]}]).to_string();
    pipeline.set_routes(Routes::parse(Some(&routes), pipeline.stack.routed("default").url.clone()).unwrap());
    let now = SystemClock.unix_now();
    for i in 0..7 {
        let body = json!({"type": "batch.succeeded", "data": {"id": format!("batches/{i}")}}).to_string();
        let signed = SignedHeaders::v1(&secret, &format!("msg_late_{i}"), now, body.as_bytes());
        let event = http_event(PayloadFormat::FunctionUrl, &HttpRequest::signed(&signed, body.as_bytes()));
        assert_eq!(
            pipeline.deliver(lambda_http::request::from_str(&event.to_string()).unwrap()).await.status(),
            200
        );
    }
    pipeline.drain().await.unwrap();
    let dlq = pipeline.stack.fanout_dlq.url.clone();
    assert_eq!(depth(emulator, &dlq).await, 7, "kept whole in the fanout DLQ");
    // Fixed: the queue exists now.
    let sqs = emulator.sqs().await;
    let name = format!("{}-late", pipeline.stack.prefix);
    sqs.create_queue().queue_name(&name).send().await.unwrap();

    let (code, stdout, stderr) =
        cli(emulator, strings(&["redrive", "fanout", "--fanout-dlq", &dlq, "--max", "3", "--json"])).await;
    assert_eq!(code, Some(0), "an interrupted run is not a failure: {stdout}{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!((summary["moved"].as_u64(), summary["stopped"].as_bool()), (Some(3), Some(true)), "{summary}");

    // Meanwhile, what a stream trigger leaves when it gives up: a pointer, not a message.
    let pointer = json!({"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {"shardId": "s"}});
    sqs.send_message().queue_url(&dlq).message_body(pointer.to_string()).send().await.unwrap();

    let (code, stdout, stderr) = cli(emulator, strings(&["redrive", "fanout", "--fanout-dlq", &dlq])).await;
    assert_eq!(code, Some(1), "the pointer cannot be redriven: {stdout}{stderr}");
    assert!(stdout.contains("moved 4 message(s)") && stdout.contains("stream batch pointer"), "{stdout}");
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains("1 have nowhere to go"), "{stderr}");
    assert_eq!(depth(emulator, &dlq).await, 1, "only the pointer is left");

    let arrived: Vec<DownstreamMessage> = testkit::drain_queue(&sqs, &late)
        .await
        .unwrap()
        .iter()
        .map(|m| DownstreamMessage::from_sqs_body(m.body().unwrap()).unwrap())
        .collect();
    let counts = counted(&arrived);
    assert_eq!(counts.len(), 7, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "each once across both runs: {counts:?}");
}

fn ingest_message(id: &str, now: i64) -> String {
    let body =
        json!({"type": "interaction.completed", "data": {"id": format!("interactions/{id}")}}).to_string();
    let verified = Verified {
        webhook_id: WebhookId::parse(id).unwrap(),
        timestamp: WebhookTimestamp::from_unix(now / 1000),
        scheme: Scheme::V1,
        jwt: None,
    };
    let message = IngestMessage::new(verified, body.as_bytes(), Event::parse(body.as_bytes()).unwrap(), now);
    message.to_sqs_body().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ingest_dlq_is_recorded_and_routed_once_by_message_and_by_sqs_move_task() {
    let emulator = Emulator::shared().unwrap();
    let secret = SigningSecret::generate();
    let pipeline = Pipeline::with_secret(emulator, &secret).await.unwrap();
    let sqs = emulator.sqs().await;
    let (ingest, dlq) = (pipeline.stack.ingest.url.clone(), pipeline.stack.ingest.dlq_url.clone());
    let now = SystemClock.unix_now_ms();
    for i in 0..6 {
        sqs.send_message()
            .queue_url(&dlq)
            .message_body(ingest_message(&format!("msg_dlq_{i}"), now))
            .send()
            .await
            .unwrap();
    }
    let flags = ["--ingest-dlq", dlq.as_str(), "--ingest-queue", ingest.as_str()];

    // Two by message, then the rest by SQS's own move task.
    let (code, _, stderr) =
        cli(emulator, strings(&[&["redrive", "ingest", "--max", "2"][..], &flags].concat())).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(depth(emulator, &dlq).await, 4);
    let (code, stdout, stderr) = cli(emulator, strings(&[&["redrive", "ingest"][..], &flags].concat())).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("StartMessageMoveTask") && stdout.contains("moved 4"), "{stdout}{stderr}");
    assert_eq!(depth(emulator, &dlq).await, 0);

    pipeline.drain().await.unwrap();
    let downstream = pipeline.take_downstream().await.unwrap();
    let counts = counted(&downstream["interaction"]);
    assert_eq!(counts.len(), 6, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");

    // A routed queue's DLQ goes back to its queue.
    let batch = pipeline.stack.routed("batch").clone();
    sqs.send_message().queue_url(&batch.dlq_url).message_body("{\"kept\":true}").send().await.unwrap();
    let (code, stdout, stderr) = cli(emulator, strings(&["redrive", &batch.url])).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("moved 1"), "{stdout}");
    assert_eq!(depth(emulator, &batch.url).await, 1);

    // What is not there to redrive is one line.
    let missing = format!("{}/123456789012/no-such-queue", emulator.endpoint());
    let (code, _, stderr) = cli(emulator, strings(&["redrive", &missing])).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.lines().next().unwrap().contains("no-such-queue") && !stderr.contains('{'), "{stderr}");
    let (code, _, stderr) = cli(emulator, strings(&["redrive", "everything"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = cli(emulator, strings(&["redrive", &pipeline.stack.ingest.dlq_url])).await;
    assert_eq!(code, Some(1), "a queue with no DLQ of its own: {stderr}");
    assert!(stderr.contains("no dead-letter queue"), "{stderr}");
}
