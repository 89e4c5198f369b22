//! The example consumer against DynamoDB in the emulator: each event is acted on once however often
//! it arrives, and only what failed is redelivered. (Here rather than in the consumer's crate, so the
//! crate users copy has no test dependencies.)

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use consumer::{Consumer, Outcome, handle, process};
use lambda_runtime::{Context, LambdaEvent};
use shared::WebhookId;
use shared::aws::idempotency::{Claim, Idempotency};
use shared::clock::ManualClock;
use testkit::{Emulator, Stack};

const NOW: i64 = 1_769_083_200;

fn body(id: &str) -> String {
    format!(
        r#"{{"webhook_id":"{id}","type":"batch.succeeded","data_id":"batches/1","user_metadata":null,
            "event":{{"type":"batch.succeeded","data":{{"id":"batches/1"}}}},"scheme":"v1",
            "webhook_timestamp":1769083200,"received_at":1769083200100,"recorded_at":1769083200200}}"#
    )
}

fn record(message_id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id.into());
    message.body = Some(body.into());
    message
}

/// Claims in a fresh stack's claims table, as the template creates it.
async fn claims(clock: Arc<ManualClock>) -> Idempotency {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    Idempotency::new(emulator.dynamodb().await, stack.claims_table, 60, 7 * 24 * 3600, clock)
}

#[tokio::test]
async fn a_redelivered_event_is_acted_on_once_and_only_the_unparseable_record_fails() {
    let consumer = Consumer { once: claims(Arc::new(ManualClock::at(NOW))).await };
    let mut event = SqsEvent::default();
    event.records = vec![record("a", &body("msg_1")), record("b", "{}"), record("c", &body("msg_1"))];

    let response = handle(&consumer, LambdaEvent::new(event, Context::default())).await.unwrap();

    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["b"]);
    assert_eq!(process(&consumer, &record("d", &body("msg_1"))).await, Outcome::Duplicate);
    assert_eq!(process(&consumer, &record("e", &body("msg_2"))).await, Outcome::Acted);
}

#[tokio::test]
async fn a_claim_is_a_lease_a_failed_attempt_releases_it_and_a_dead_one_runs_out() {
    let clock = Arc::new(ManualClock::at(NOW));
    let once = claims(clock.clone()).await;
    let id = WebhookId::parse("msg_lease").unwrap();

    assert_eq!(once.claim(&id).await.unwrap(), Claim::Acquired);
    assert_eq!(once.claim(&id).await.unwrap(), Claim::InProgress, "another invocation holds it");
    once.release(&id).await.unwrap();
    assert_eq!(once.claim(&id).await.unwrap(), Claim::Acquired, "released after a failure");
    clock.advance(61);
    assert_eq!(once.claim(&id).await.unwrap(), Claim::Acquired, "the holder died: its lease ran out");
    once.done(&id).await.unwrap();
    clock.advance(3600);
    assert_eq!(once.claim(&id).await.unwrap(), Claim::AlreadyDone);
    once.release(&id).await.unwrap();
    assert_eq!(once.claim(&id).await.unwrap(), Claim::AlreadyDone, "done is never released");
}
