//! EventBridge buses as route targets, through the pipeline against the emulator: an event routed to a
//! bus reaches a rule's SQS target as EventBridge delivers it (source `gemini-webhooks`, the event's
//! type as the detail type, the downstream message as the detail); an entry over EventBridge's 256 KB
//! (its documented limit, which the emulator does not enforce) is kept whole in the fanout DLQ while the
//! rest of its window is delivered; a bus that does not exist refuses every entry for good, and they are
//! kept too, while the rule's other targets get theirs.

use std::sync::{Arc, LazyLock};

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use local_stack::Pipeline;
use serde_json::{Value, json};
use shared::aws::bus::{MAX_REQUEST_BYTES, SOURCE};
use shared::clock::ManualClock;
use shared::message::{DownstreamMessage, attributes};
use shared::routing::Routes;
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use testkit::{Emulator, HttpRequest, PayloadFormat, http_event};

const NOW: i64 = 1_769_083_200;
static SECRET: LazyLock<SigningSecret> = LazyLock::new(SigningSecret::generate);

async fn pipeline(emulator: &Emulator) -> Pipeline {
    let vars = [("WEBHOOK_SECRETS", SECRET.expose_whsec())];
    Pipeline::start(emulator, &vars, Arc::new(ManualClock::at(NOW))).await.unwrap()
}

/// Delivers a `v1`-signed event of `event_type` for `job`, padded to about `pad` more bytes.
async fn deliver(pipeline: &Pipeline, id: &str, event_type: &str, job: &str, pad: usize) {
    let body = json!({"type": event_type, "version": "v1", "timestamp": "2026-01-22T12:00:00Z",
        "data": {"id": job, "note": "x".repeat(pad)}})
    .to_string();
    let signed = SignedHeaders::v1(&SECRET, id, NOW, body.as_bytes());
    let event = http_event(PayloadFormat::FunctionUrl, &HttpRequest::signed(&signed, body.as_bytes()));
    let response = pipeline.deliver(lambda_http::request::from_str(&event.to_string()).unwrap()).await;
    assert_eq!(response.status(), 200, "{id}");
}

/// A queue of the test's own, and its ARN.
async fn queue(emulator: &Emulator, name: &str) -> (String, String) {
    let sqs = emulator.sqs().await;
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url().unwrap().to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    (url, arn)
}

/// A bus named `name` whose rule sends every event from this project to the queue `queue_arn`.
async fn bus_to_queue(emulator: &Emulator, name: &str, queue_arn: &str) -> String {
    let events = aws_sdk_eventbridge::Client::new(&emulator.sdk_config().await);
    let bus = events.create_event_bus().name(name).send().await.unwrap().event_bus_arn().unwrap().to_owned();
    let pattern = json!({"source": [SOURCE], "detail-type": [{"prefix": "batch."}]}).to_string();
    events.put_rule().name("gemini-ends").event_bus_name(name).event_pattern(pattern).send().await.unwrap();
    let target = Target::builder().id("queue").arn(queue_arn).build().unwrap();
    events.put_targets().rule("gemini-ends").event_bus_name(name).targets(target).send().await.unwrap();
    bus
}

async fn received(emulator: &Emulator, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let sqs = emulator.sqs().await;
    let mut all = Vec::new();
    loop {
        let page = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        if page.messages().is_empty() {
            return all;
        }
        all.extend(page.messages().iter().cloned());
    }
}

#[tokio::test]
async fn an_event_routed_to_a_bus_reaches_its_rules_target_and_an_oversized_one_is_kept() {
    let emulator = Emulator::shared().unwrap();
    let mut pipeline = pipeline(emulator).await;
    let prefix = &pipeline.stack.prefix;
    let (target_url, target_arn) = queue(emulator, &format!("{prefix}-bus-target")).await;
    let bus = bus_to_queue(emulator, &format!("{prefix}-gemini"), &target_arn).await;
    let routes = json!([{"match": "batch.*", "buses": [bus]}]).to_string();
    pipeline.set_routes(Routes::parse(Some(&routes), &pipeline.stack.routed["default"].url).unwrap());

    deliver(&pipeline, "msg_to_bus", "batch.succeeded", "batches/b1", 0).await;
    // Under the receiver's and the table's limits, over EventBridge's once it is a downstream message.
    deliver(&pipeline, "msg_too_large", "batch.succeeded", "batches/b2", MAX_REQUEST_BYTES - 200).await;
    let drained = pipeline.drain().await.unwrap();
    assert_eq!((drained.inserts, drained.stream_failures), (2, 0), "{drained:?}");

    let delivered = received(emulator, &target_url).await;
    assert_eq!(delivered.len(), 1, "the one that fits, through the bus's rule");
    let envelope: Value = serde_json::from_str(delivered[0].body().unwrap()).unwrap();
    assert_eq!(
        (envelope["source"].as_str(), envelope["detail-type"].as_str()),
        (Some(SOURCE), Some("batch.succeeded"))
    );
    let message = DownstreamMessage::from_sqs_body(&envelope["detail"].to_string()).unwrap();
    assert_eq!(
        (message.webhook_id().as_str(), message.data_id.as_deref()),
        ("msg_to_bus", Some("batches/b1"))
    );

    let kept = received(emulator, &pipeline.stack.fanout_dlq.url).await;
    assert_eq!(kept.len(), 1, "the oversized one, kept");
    let attribute =
        |name: &str| kept[0].message_attributes().unwrap()[name].string_value().unwrap().to_owned();
    assert_eq!(attribute(attributes::FAILURE_REASON), "EntryTooLarge");
    assert_eq!(attribute(attributes::DESTINATION_QUEUE), bus);
    let whole = DownstreamMessage::from_sqs_body(kept[0].body().unwrap()).unwrap();
    assert_eq!(whole.webhook_id().as_str(), "msg_too_large", "kept whole, to redrive");
}

#[tokio::test]
async fn a_bus_that_does_not_exist_refuses_for_good_and_the_rules_other_targets_get_theirs() {
    let emulator = Emulator::shared().unwrap();
    let mut pipeline = pipeline(emulator).await;
    let prefix = pipeline.stack.prefix.clone();
    let missing = format!("arn:aws:events:us-east-1:123456789012:event-bus/{prefix}-missing");
    let batch = pipeline.stack.routed["batch"].url.clone();
    let routes = json!([{"match": "batch.*", "queues": [batch], "buses": [missing]}]).to_string();
    pipeline.set_routes(Routes::parse(Some(&routes), &pipeline.stack.routed["default"].url).unwrap());

    deliver(&pipeline, "msg_a", "batch.succeeded", "batches/m1", 0).await;
    deliver(&pipeline, "msg_b", "batch.failed", "batches/m2", 0).await;
    let drained = pipeline.drain().await.unwrap();
    assert_eq!(drained.stream_failures, 0, "refused for good: nothing to retry");

    let downstream = pipeline.take_downstream().await.unwrap();
    assert_eq!(downstream["batch"].len(), 2, "the queue of the same rule got both");
    let kept = received(emulator, &pipeline.stack.fanout_dlq.url).await;
    assert_eq!(kept.len(), 2, "each kept once, for the bus that refused it");
    for message in kept {
        let attributes = message.message_attributes().unwrap();
        assert_eq!(attributes[attributes::FAILURE_REASON].string_value(), Some("ResourceNotFoundException"));
        assert_eq!(attributes[attributes::DESTINATION_QUEUE].string_value(), Some(missing.as_str()));
    }
}
