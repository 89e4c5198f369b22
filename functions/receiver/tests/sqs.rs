//! The receiver against SQS in the emulator, through the real SDK: what a 200 means (exactly one
//! message, in the contract's shape) and what an outage means (503, nothing acknowledged).

mod support;

use lambda_http::http::StatusCode;
use receiver::{SqsIngestQueue, handle};
use shared::message::{BodySha256, IngestMessage};
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use support::*;
use testkit::{Emulator, PayloadFormat, Stack};

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    testkit::drain_queue(sqs, url).await.unwrap()
}

#[tokio::test]
async fn a_signed_delivery_becomes_exactly_one_ingest_message_in_the_contract_shape() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let receiver = receiver_with(&config(&[]), SqsIngestQueue::new(sqs.clone(), &stack.ingest.url)).await;

    let response = handle(&receiver, signed_post("msg_sqs", BODY)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let messages = receive_all(&sqs, &stack.ingest.url).await;
    assert_eq!(messages.len(), 1);
    let message: IngestMessage = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(message.webhook_id.as_str(), "msg_sqs");
    assert_eq!(message.webhook_timestamp.unix(), NOW);
    assert_eq!(message.body_sha256, BodySha256::of(BODY));
    assert_eq!(message.event.event_type(), "batch.succeeded");
    let attributes = messages[0].message_attributes().unwrap();
    assert_eq!(attributes["webhook_id"].string_value(), Some("msg_sqs"));
    assert_eq!(attributes["event_type"].string_value(), Some("batch.succeeded"));
}

#[tokio::test]
async fn a_forged_delivery_gets_401_and_enqueues_nothing() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let receiver = receiver_with(&config(&[]), SqsIngestQueue::new(sqs.clone(), &stack.ingest.url)).await;
    let forged = SignedHeaders::v1(&SigningSecret::generate(), "msg_forged", NOW, BODY);

    let response =
        handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", headers_of(&forged), BODY, false))
            .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(receive_all(&sqs, &stack.ingest.url).await.is_empty());
}

#[tokio::test]
async fn a_missing_queue_gets_503_and_nothing_is_acknowledged() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let missing = stack.ingest.url.replace("-ingest", "-no-such-queue");
    let receiver = receiver_with(&config(&[]), SqsIngestQueue::new(sqs.clone(), missing)).await;

    let response = handle(&receiver, signed_post("msg_missing", BODY)).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(receive_all(&sqs, &stack.ingest.url).await.is_empty());
}

#[tokio::test]
async fn a_stopped_emulator_gets_503() {
    let emulator = Emulator::start().unwrap();
    let stack = Stack::create(&emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let receiver = receiver_with(&config(&[]), SqsIngestQueue::new(sqs, &stack.ingest.url)).await;
    emulator.stop();

    let response = handle(&receiver, signed_post("msg_outage", BODY)).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(&response)["error"], "enqueue_failed");
}
