//! The quarantine end to end: verified deliveries the receiver cannot turn into ingest messages are
//! answered 202, kept whole and alarmed; the CLI lists them and releases them fixed; each is then
//! recorded and routed downstream exactly once.

mod support;

use aws_sdk_sqs::types::QueueAttributeName;
use local_stack::Pipeline;
use serde_json::json;
use shared::clock::SystemClock;
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use testkit::{Emulator, HttpRequest, PayloadFormat, http_event};

fn post(signed: &SignedHeaders, body: &[u8]) -> lambda_http::Request {
    let request = HttpRequest { base64: true, ..HttpRequest::signed(signed, body) };
    lambda_http::request::from_str(&http_event(PayloadFormat::FunctionUrl, &request).to_string()).unwrap()
}

/// Runs the built CLI against the emulator; its standard output.
fn cli(emulator: &Emulator, args: &[&str]) -> String {
    let mut command = support::cli();
    command.args(args).args(["--endpoint", emulator.endpoint()]);
    support::run(command).succeeded()
}

#[tokio::test]
async fn quarantined_deliveries_are_released_by_the_cli_and_delivered_downstream_once() {
    let emulator = Emulator::shared().unwrap();
    let secret = SigningSecret::generate();
    let pipeline = Pipeline::with_secret(emulator, &secret).await.unwrap();
    let now = shared::clock::Clock::unix_now(&SystemClock);
    shared::metrics::capture();
    // Verified, but not an event: no `type`.
    let not_an_event = br#"{"kind":"batch.succeeded","data":{"id":"batches/q1"}}"#.to_vec();
    // Verified, but over the size budget: 205 KB of U+FFFF, which SQS takes only escaped (6 bytes
    // each), make a table item over DynamoDB's 400 KB.
    let over_budget =
        json!({"type": "batch.succeeded", "data": {"id": "batches/q2", "note": "\u{FFFF}".repeat(68_500)}})
            .to_string()
            .into_bytes();
    for (id, body) in [("msg_q1", &not_an_event), ("msg_q2", &over_budget)] {
        let response = pipeline.deliver(post(&SignedHeaders::v1(&secret, id, now, body), body)).await;
        assert_eq!(response.status(), 202, "{id}");
    }

    // Alarmed: the receiver's metric, and the queue depth QuarantineAlarm watches.
    let metrics = shared::metrics::take_captured();
    assert_eq!(metrics.iter().filter(|m| m["Quarantined"] == 1).count(), 2, "{metrics:?}");
    let depth = pipeline
        .sqs
        .get_queue_attributes()
        .queue_url(&pipeline.stack.quarantine.url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(depth.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessages], "2");

    let quarantine = ["--queue", pipeline.stack.quarantine.url.as_str()];
    let listed = cli(emulator, &[&["quarantine", "list"][..], &quarantine].concat());
    assert!(listed.contains("msg_q1") && listed.contains("invalid_event"), "{listed}");
    assert!(listed.contains("msg_q2") && listed.contains("over_budget"), "{listed}");
    let shown = cli(emulator, &[&["quarantine", "show", "msg_q1"][..], &quarantine].concat());
    assert!(shown.contains(r#"\"kind\":\"batch.succeeded\""#), "the body as received: {shown}");
    // Listing and showing leave everything held.
    assert!(pipeline.drain().await.unwrap().ingested == 0);

    let dir = std::env::temp_dir().join(format!("quarantine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixed = [
        ("msg_q1", json!({"type": "batch.succeeded", "data": {"id": "batches/q1"}})),
        (
            "msg_q2",
            json!({"type": "batch.succeeded", "data": {"id": "batches/q2"}, "user_metadata": {"a": "m"}}),
        ),
    ];
    for (id, body) in &fixed {
        let path = dir.join(format!("{id}.json"));
        std::fs::write(&path, body.to_string()).unwrap();
        let ingest = [
            "--ingest-queue",
            pipeline.stack.ingest.url.as_str(),
            "--table",
            pipeline.stack.table.as_str(),
            "--body",
            path.to_str().unwrap(),
        ];
        let released = cli(emulator, &[&["quarantine", "release", id][..], &ingest, &quarantine].concat());
        assert!(released.contains("released"), "{released}");
    }
    pipeline.drain().await.unwrap();

    let downstream = pipeline.take_downstream().await.unwrap();
    let mut ids: Vec<&str> = downstream["batch"].iter().map(|m| m.provenance.webhook_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["msg_q1", "msg_q2"], "each released event downstream exactly once");
    for message in &downstream["batch"] {
        assert!(
            message.provenance.released_at.is_some() && message.provenance.body_edited,
            "marked: {message:?}"
        );
    }
    let listed = cli(emulator, &[&["quarantine", "list", "--json"][..], &quarantine].concat());
    assert_eq!(listed.lines().count(), 0, "nothing held: {listed}");
}

#[tokio::test]
async fn a_release_whose_id_is_recorded_already_is_refused_with_why_and_stays_held() {
    let emulator = Emulator::shared().unwrap();
    let secret = SigningSecret::generate();
    let pipeline = Pipeline::with_secret(emulator, &secret).await.unwrap();
    let now = shared::clock::Clock::unix_now(&SystemClock);
    // One id, two verified bodies: an event, recorded; then something that is not one, held.
    let event = br#"{"type":"batch.succeeded","data":{"id":"batches/c1"}}"#.to_vec();
    let not_an_event = br#"{"kind":"batch.failed"}"#.to_vec();
    for body in [&event, &not_an_event] {
        pipeline.deliver(post(&SignedHeaders::v1(&secret, "msg_c1", now, body), body)).await;
    }
    pipeline.drain().await.unwrap();
    pipeline.take_downstream().await.unwrap();

    let path = std::env::temp_dir().join(format!("conflict-{}.json", std::process::id()));
    std::fs::write(&path, br#"{"type":"batch.failed","data":{"id":"batches/c1"}}"#).unwrap();
    let args = [
        "quarantine",
        "release",
        "msg_c1",
        "--queue",
        pipeline.stack.quarantine.url.as_str(),
        "--ingest-queue",
        pipeline.stack.ingest.url.as_str(),
        "--table",
        pipeline.stack.table.as_str(),
        "--body",
        path.to_str().unwrap(),
    ];
    let mut command = support::cli();
    command.args(args).args(["--endpoint", emulator.endpoint()]);
    let run = support::run(command);
    let stderr = run.stderr;
    assert_eq!(run.code, Some(1), "{stderr}");
    assert!(
        stderr.contains("recorded already, with another body") && stderr.contains("stays held"),
        "{stderr}"
    );
    assert_eq!(pipeline.drain().await.unwrap().ingested, 0, "nothing sent");
    let quarantine = ["--queue", pipeline.stack.quarantine.url.as_str()];
    assert!(
        cli(emulator, &[&["quarantine", "list"][..], &quarantine].concat()).contains("msg_c1"),
        "still held"
    );
}
