//! The harness itself, proven against the emulator with the real SDK: one test per service, plus the
//! settings the stack is created with.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, StreamViewType, TimeToLiveStatus,
};
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use testkit::{EVENTS_TABLE, Emulator, INGEST_QUEUE, Stack};

fn item(id: &str, sha: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("webhook_id".to_owned(), AttributeValue::S(id.to_owned())),
        ("body_sha256".to_owned(), AttributeValue::S(sha.to_owned())),
    ])
}

#[tokio::test]
async fn a_conditional_put_fails_the_second_time_with_the_typed_error() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let dynamodb = emulator.dynamodb().await;
    let put = |sha: &'static str| {
        dynamodb
            .put_item()
            .table_name(&stack.table)
            .set_item(Some(item("msg_once", sha)))
            .condition_expression("attribute_not_exists(webhook_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
    };

    put("first").await.expect("the first write is accepted");
    let err = put("second").await.expect_err("the second write is refused");

    let PutItemError::ConditionalCheckFailedException(failed) = err.into_service_error() else {
        panic!("expected ConditionalCheckFailedException");
    };
    let stored = dynamodb
        .get_item()
        .table_name(&stack.table)
        .key("webhook_id", AttributeValue::S("msg_once".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.item().unwrap()["body_sha256"], AttributeValue::S("first".into()), "first write kept");
    let old = failed.item().expect("ALL_OLD returns the stored item with the error");
    assert_eq!(old["body_sha256"], AttributeValue::S("first".into()));
}

#[tokio::test]
async fn an_sqs_message_round_trips_with_its_attributes() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    let attribute =
        |v: &str| MessageAttributeValue::builder().data_type("String").string_value(v).build().unwrap();

    sqs.send_message()
        .queue_url(&stack.ingest.url)
        .message_body(r#"{"webhook_id":"msg_rt"}"#)
        .message_attributes("webhook_id", attribute("msg_rt"))
        .message_attributes("event_type", attribute("batch.succeeded"))
        .send()
        .await
        .unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&stack.ingest.url)
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body(), Some(r#"{"webhook_id":"msg_rt"}"#));
    let attributes = messages[0].message_attributes().unwrap();
    assert_eq!(attributes["webhook_id"].string_value(), Some("msg_rt"));
    assert_eq!(attributes["event_type"].string_value(), Some("batch.succeeded"));
}

#[tokio::test]
async fn the_table_has_its_stream_and_ttl() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let dynamodb = emulator.dynamodb().await;
    let table = dynamodb.describe_table().table_name(&stack.table).send().await.unwrap();
    let table = table.table().unwrap();
    assert_eq!(table.key_schema()[0].attribute_name(), EVENTS_TABLE.partition_key);
    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    let ttl = dynamodb.describe_time_to_live().table_name(&stack.table).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some(EVENTS_TABLE.ttl_attribute));
}

#[tokio::test]
async fn every_queue_redrives_to_its_dlq() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let sqs = emulator.sqs().await;
    for queue in std::iter::once(&stack.ingest).chain(stack.routed.values()) {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attributes = attributes.attributes().unwrap();
        let redrive: serde_json::Value =
            serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue.dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        assert_eq!(redrive["deadLetterTargetArn"], dlq_arn.as_str(), "{}", queue.name);
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            INGEST_QUEUE.max_receive_count.to_string()
        );
        assert_eq!(
            attributes[&QueueAttributeName::VisibilityTimeout],
            INGEST_QUEUE.visibility_timeout_secs.to_string()
        );
    }
}

#[tokio::test]
async fn tests_sharing_an_emulator_get_separate_resources() {
    let emulator = Emulator::shared().unwrap();
    let (a, b) = (Stack::create(emulator).await.unwrap(), Stack::create(emulator).await.unwrap());
    assert_ne!(a.table, b.table);
    assert_ne!(a.ingest.url, b.ingest.url);
}

#[tokio::test]
async fn a_stopped_emulator_refuses_connections() {
    let emulator = Emulator::start().unwrap();
    let sqs = emulator.sqs().await;
    sqs.list_queues().send().await.expect("reachable while running");
    emulator.stop();
    assert!(sqs.list_queues().send().await.is_err(), "unreachable once stopped");
}
