//! The recorder against DynamoDB in the emulator, through the real SDK.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};
use recorder::{DynamoDbEventStore, Outcome, Recorder, handle, record_batch};
use shared::aws::queue::SqsQueue;
use shared::clock::ManualClock;
use shared::event::Event;
use shared::message::{BodySha256, IngestMessage};
use shared::signature::{Scheme, Verified};
use shared::{WebhookId, WebhookTimestamp};
use testkit::{Emulator, Stack};

const NOW_MS: i64 = 1_769_083_200_250;
const BODY: &str = r#"{"type":"video.generated","data":{"id":"operations/v42","output_file_uri":"gs://b/v.mp4","file_name":"v.mp4"}}"#;

fn ingest_body(id: &str, body: &str) -> String {
    let verified = Verified {
        webhook_id: WebhookId::parse(id).unwrap(),
        timestamp: WebhookTimestamp::from_unix(NOW_MS / 1000 - 2),
        scheme: Scheme::V1,
        jwt: None,
    };
    let message =
        IngestMessage::new(verified, body.as_bytes(), Event::parse(body.as_bytes()).unwrap(), NOW_MS - 900);
    serde_json::to_string(&message).unwrap()
}

fn sqs_event(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("m-{i}"));
            message.body = Some(body.clone());
            message
        })
        .collect();
    event
}

async fn recorder_for(
    emulator: &Emulator,
    table: &str,
    dlq_url: &str,
) -> Recorder<DynamoDbEventStore, SqsQueue> {
    Recorder {
        store: DynamoDbEventStore::new(emulator.dynamodb().await, table),
        dead_letters: SqsQueue::new(emulator.sqs().await, dlq_url),
        ttl_secs: 7 * 24 * 3600,
        ledger: None,
        clock: Arc::new(ManualClock::at(NOW_MS / 1000)),
    }
}

async fn item(
    emulator: &Emulator,
    table: &str,
    id: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    let dynamodb = emulator.dynamodb().await;
    let got = dynamodb
        .get_item()
        .table_name(table)
        .key("webhook_id", AttributeValue::S(id.into()))
        .send()
        .await
        .unwrap();
    got.item().cloned()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[tokio::test]
async fn a_new_event_becomes_one_item_with_every_contract_attribute() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let recorder = recorder_for(emulator, &stack.table, &stack.ingest.dlq_url).await;

    let response =
        handle(&recorder, LambdaEvent::new(sqs_event(&[ingest_body("msg_new", BODY)]), Context::default()))
            .await
            .unwrap();

    assert!(response.batch_item_failures.is_empty());
    let item = item(emulator, &stack.table, "msg_new").await.expect("recorded");
    let recorded_at = (NOW_MS / 1000) * 1000;
    assert_eq!(item["webhook_id"], s("msg_new"));
    assert_eq!(item["type"], s("video.generated"));
    assert_eq!(item["data_id"], s("operations/v42"));
    assert_eq!(item["body_sha256"], s(BodySha256::of(BODY.as_bytes()).as_str()));
    assert_eq!(item["scheme"], s("v1"));
    assert_eq!(item["webhook_timestamp"], n(NOW_MS / 1000 - 2));
    assert_eq!(item["received_at"], n(NOW_MS - 900));
    assert_eq!(item["recorded_at"], n(recorded_at));
    assert_eq!(item["expires_at"], n(NOW_MS / 1000 + 7 * 24 * 3600), "TTL in seconds, a week out");
    let AttributeValue::S(event) = &item["event"] else { panic!("event is a JSON string") };
    assert_eq!(Event::parse(event.as_bytes()).unwrap(), Event::parse(BODY.as_bytes()).unwrap());
    assert_eq!(item.len(), 10, "no attribute beyond the contract: {:?}", item.keys());
}

#[tokio::test]
async fn fifty_deliveries_of_one_id_over_concurrent_invocations_record_one_item() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let recorder = Arc::new(recorder_for(emulator, &stack.table, &stack.ingest.dlq_url).await);
    let body = ingest_body("msg_storm", BODY);

    // Five concurrent invocations of ten records each, as SQS would deliver a retry storm.
    let invocations: Vec<_> = (0..5)
        .map(|_| {
            let (recorder, event) = (recorder.clone(), sqs_event(&vec![body.clone(); 10]));
            tokio::spawn(async move { record_batch(&recorder, &event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for invocation in invocations {
        outcomes.extend(invocation.await.unwrap().into_iter().map(|(_, o)| o));
    }

    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Recorded).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Duplicate).count(), 49);
    let scan = emulator.dynamodb().await.scan().table_name(&stack.table).send().await.unwrap();
    assert_eq!(scan.count(), 1);
}

#[tokio::test]
async fn a_reused_id_with_another_body_is_a_conflict_and_the_first_stands() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let recorder = recorder_for(emulator, &stack.table, &stack.ingest.dlq_url).await;
    let other = r#"{"type":"video.generated","data":{"id":"operations/other"}}"#;

    let first = record_batch(&recorder, &sqs_event(&[ingest_body("msg_reused", BODY)])).await;
    let second = record_batch(&recorder, &sqs_event(&[ingest_body("msg_reused", other)])).await;

    assert_eq!(first[0].1, Outcome::Recorded);
    assert_eq!(second[0].1, Outcome::Conflict);
    let item = item(emulator, &stack.table, "msg_reused").await.unwrap();
    assert_eq!(item["data_id"], s("operations/v42"), "the first delivery stands");
    let response = handle(
        &recorder,
        LambdaEvent::new(sqs_event(&[ingest_body("msg_reused", other)]), Context::default()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "a conflict is not retried: retrying cannot change it");
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_at_once_with_its_reason_and_the_batch_goes_on() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let recorder = recorder_for(emulator, &stack.table, &stack.ingest.dlq_url).await;
    let poison = r#"{"not":"an ingest message"}"#;
    let batch = [ingest_body("msg_ok_1", BODY), poison.to_owned(), ingest_body("msg_ok_2", BODY)];

    let response = handle(&recorder, LambdaEvent::new(sqs_event(&batch), Context::default())).await.unwrap();

    assert!(response.batch_item_failures.is_empty(), "nothing to retry: retrying cannot fix it");
    assert!(item(emulator, &stack.table, "msg_ok_1").await.is_some());
    assert!(item(emulator, &stack.table, "msg_ok_2").await.is_some());
    let kept = testkit::drain_queue(&emulator.sqs().await, &stack.ingest.dlq_url).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body(), Some(poison));
    let attributes = kept[0].message_attributes().unwrap();
    assert_eq!(attributes["failure_reason"].string_value(), Some("not_an_ingest_message"));
}

#[tokio::test]
async fn an_item_dynamodb_refuses_goes_to_the_dlq_at_once() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let recorder = recorder_for(emulator, &stack.table, &stack.ingest.dlq_url).await;
    // Over DynamoDB's 400 KB item: the receiver's budget never lets one through, a hand-made message can.
    let huge = format!(r#"{{"type":"batch.succeeded","data":{{"pad":"{}"}}}}"#, "x".repeat(420_000));
    let batch = [ingest_body("msg_huge", &huge), ingest_body("msg_fine", BODY)];

    let outcomes = record_batch(&recorder, &sqs_event(&batch)).await;

    assert_eq!(outcomes[0].1, Outcome::DeadLettered("refused_by_dynamodb"));
    assert_eq!(outcomes[1].1, Outcome::Recorded);
    let kept = testkit::drain_queue(&emulator.sqs().await, &stack.ingest.dlq_url).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        IngestMessage::from_sqs_body(kept[0].body().unwrap()).unwrap().provenance.webhook_id.as_str(),
        "msg_huge"
    );
}

#[tokio::test]
async fn a_poison_message_is_retried_while_the_dlq_is_unreachable() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let missing_dlq = stack.ingest.dlq_url.replace("-dlq", "-no-such-dlq");
    let recorder = recorder_for(emulator, &stack.table, &missing_dlq).await;

    let outcomes = record_batch(&recorder, &sqs_event(&["{}".to_owned()])).await;

    assert!(outcomes[0].1.is_failure(), "kept nowhere, so not acknowledged: {:?}", outcomes[0].1);
}

#[tokio::test]
async fn a_missing_table_fails_every_record_so_nothing_is_lost() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let recorder = recorder_for(emulator, "no-such-table", &stack.ingest.dlq_url).await;
    let batch = [ingest_body("msg_a", BODY), ingest_body("msg_b", BODY)];

    let response = handle(&recorder, LambdaEvent::new(sqs_event(&batch), Context::default())).await.unwrap();

    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m-0", "m-1"]);
}

#[tokio::test]
async fn a_stopped_emulator_fails_every_record_so_nothing_is_lost() {
    let emulator = Emulator::start().unwrap();
    let stack = Stack::create(&emulator).await.unwrap();
    let recorder = recorder_for(&emulator, &stack.table, &stack.ingest.dlq_url).await;
    emulator.stop();
    let batch = [ingest_body("msg_a", BODY), ingest_body("msg_b", BODY), ingest_body("msg_c", BODY)];

    let response = handle(&recorder, LambdaEvent::new(sqs_event(&batch), Context::default())).await.unwrap();

    assert_eq!(response.batch_item_failures.len(), 3);
}
