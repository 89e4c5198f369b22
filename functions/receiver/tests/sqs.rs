//! The receiver against SQS in the emulator, through the real SDK: what a 200 means (exactly one
//! message, in the contract's shape) and what an outage means (503, nothing acknowledged).

mod support;

use lambda_http::http::StatusCode;
use receiver::{SqsDeliveryQueues, handle};
use serde_json::json;
use shared::message::{BodySha256, IngestMessage, QuarantineReason, QuarantinedDelivery};
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use support::*;
use testkit::{Emulator, PayloadFormat, Stack};

fn queues(sqs: &aws_sdk_sqs::Client, stack: &Stack) -> SqsDeliveryQueues {
    SqsDeliveryQueues::new(sqs.clone(), &stack.ingest.url, &stack.quarantine.url)
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    testkit::drain_queue(sqs, url).await.unwrap()
}

#[tokio::test]
async fn a_signed_delivery_becomes_exactly_one_ingest_message_in_the_contract_shape() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let receiver = receiver_with(&config(&[]), queues(&sqs, &stack)).await;

    let response = handle(&receiver, signed_post("msg_sqs", BODY)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let messages = receive_all(&sqs, &stack.ingest.url).await;
    assert_eq!(messages.len(), 1);
    let message: IngestMessage = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(message.provenance.webhook_id.as_str(), "msg_sqs");
    assert_eq!(message.provenance.webhook_timestamp.unix(), NOW);
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
    let receiver = receiver_with(&config(&[]), queues(&sqs, &stack)).await;
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
    let receiver =
        receiver_with(&config(&[]), SqsDeliveryQueues::new(sqs.clone(), &missing, &stack.quarantine.url))
            .await;

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
    let receiver = receiver_with(&config(&[]), queues(&sqs, &stack)).await;
    emulator.stop();

    let response = handle(&receiver, signed_post("msg_outage", BODY)).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(&response)["error"], "enqueue_failed");
}

#[tokio::test]
async fn a_delivery_with_characters_sqs_refuses_is_accepted_and_enqueued_as_the_same_json() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let receiver = receiver_with(&config(&[]), queues(&sqs, &stack)).await;
    let body = json!({"type": "batch.failed\u{FFFF}", "data": {"id": "batches/nc", "error_message": "bad \u{FFFE}\u{FFFF} bytes"},
                      "user_metadata": {"note\u{FFFF}": "\u{FFFE}"}})
    .to_string();

    let response = handle(&receiver, signed_post("msg_nonchars", body.as_bytes())).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    // receive_all checks every message's body and attributes against SQS's allowed characters.
    let messages = receive_all(&sqs, &stack.ingest.url).await;
    assert_eq!(messages.len(), 1);
    let message = IngestMessage::from_sqs_body(messages[0].body().unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&message.event).unwrap(),
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    );
    assert_eq!(message.body_sha256, BodySha256::of(body.as_bytes()));
    assert_eq!(
        messages[0].message_attributes().unwrap()["event_type"].string_value(),
        Some("batch.failed\\uffff")
    );
}

#[tokio::test]
async fn a_verified_delivery_that_is_not_an_event_is_kept_whole_in_the_quarantine_queue() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let receiver = receiver_with(&config(&[]), queues(&sqs, &stack)).await;
    let body = b"{\"status\": \"ok\"} \xff";

    let request = request(PayloadFormat::FunctionUrl, "POST", v1_headers("msg_junk", NOW, body), body, true);
    let response = handle(&receiver, request).await;

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(receive_all(&sqs, &stack.ingest.url).await.is_empty());
    let kept = receive_all(&sqs, &stack.quarantine.url).await;
    assert_eq!(kept.len(), 1);
    let delivery = QuarantinedDelivery::from_sqs_body(kept[0].body().unwrap()).unwrap();
    assert_eq!(
        (delivery.provenance.webhook_id.as_str(), delivery.reason),
        ("msg_junk", QuarantineReason::InvalidEvent)
    );
    assert_eq!(delivery.body, body);
    assert_eq!(kept[0].message_attributes().unwrap()["failure_reason"].string_value(), Some("invalid_event"));
}
