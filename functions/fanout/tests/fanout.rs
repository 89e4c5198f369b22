//! The fanout against the emulator: real PutItems on the table, the stream read back through the
//! DynamoDB Streams API in Lambda's event shape, the handler invoked, and the queues read.

use shared::aws::task_tokens::StepFunctions;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use fanout::{BatchResult, Fanout, Outgoing, Publisher, SqsPublisher, fan_out, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use shared::aws::queue::{SendError, SqsQueue};
use shared::clock::ManualClock;
use shared::event::Event;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use shared::routing::Routes;
use shared::signature::{Scheme, Verified};
use shared::{WebhookId, WebhookTimestamp};
use testkit::{Emulator, Stack, StreamReader, create_fifo_queue};

const NOW_MS: i64 = 1_769_083_200_000;

/// A publisher that counts SendMessageBatch calls on the way to SQS.
struct Counting {
    inner: SqsPublisher,
    calls: AtomicUsize,
}

impl Publisher for Counting {
    async fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> BatchResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.send_batch(queue_url, batch).await
    }
}

/// A publisher whose calls to one queue fail as throttled: a transient fault, for the retry logic.
struct Throttled {
    inner: SqsPublisher,
    queue: String,
}

impl Publisher for Throttled {
    async fn send_batch(&self, queue_url: &str, batch: &[Outgoing]) -> BatchResult {
        if queue_url == self.queue {
            return BatchResult::CallFailed(SendError::Transient("RequestThrottled".into()));
        }
        self.inner.send_batch(queue_url, batch).await
    }
}

struct World {
    stack: Stack,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sfn: aws_sdk_sfn::Client,
    stream: StreamReader,
}

async fn world() -> World {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let stream = StreamReader::open(&emulator.sdk_config().await, &stack.stream_arn).await.unwrap();
    let sfn = aws_sdk_sfn::Client::new(&emulator.sdk_config().await);
    World { sqs: emulator.sqs().await, dynamodb: emulator.dynamodb().await, sfn, stack, stream }
}

impl World {
    /// The stack's routing: each family to its queue, the rest to the default queue.
    fn routes(&self) -> Routes {
        let q = |name: &str| self.stack.routed(name).url.clone();
        let rules = json!([
            {"match": "batch.*", "queues": [q("batch")]},
            {"match": "interaction.*", "queues": [q("interaction")]},
            {"match": "video.*", "queues": [q("video")]},
        ]);
        Routes::parse(Some(&rules.to_string()), q("default")).unwrap()
    }

    fn fanout<P: Publisher>(&self, routes: Routes, publisher: P) -> Fanout<P, SqsQueue> {
        Fanout {
            routes,
            publisher,
            dead_letters: SqsQueue::new(self.sqs.clone(), &self.stack.fanout_dlq.url),
            workflows: StepFunctions::new(self.sfn.clone()),
            max_attempts: 3,
            clock: Arc::new(ManualClock::at(NOW_MS / 1000)),
        }
    }

    /// Records an event as the recorder would: one PutItem of the contract item.
    async fn record(&self, id: &str, body: serde_json::Value) {
        let body = body.to_string();
        let verified = Verified {
            webhook_id: WebhookId::parse(id).unwrap(),
            timestamp: WebhookTimestamp::from_unix(NOW_MS / 1000),
            scheme: Scheme::V1a,
            jwt: None,
        };
        let ingest =
            IngestMessage::new(verified, body.as_bytes(), Event::parse(body.as_bytes()).unwrap(), NOW_MS);
        let item = serde_dynamo::to_item(EventRecord::new(ingest, NOW_MS + 40, 604_800)).unwrap();
        self.dynamodb.put_item().table_name(&self.stack.table).set_item(Some(item)).send().await.unwrap();
    }

    async fn stream_event(&mut self) -> StreamEvent {
        self.stream.next_event().await.unwrap()
    }

    /// Everything waiting in `url`.
    async fn drain(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        testkit::drain_queue(&self.sqs, url).await.unwrap()
    }

    async fn ids_in(&self, url: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .drain(url)
            .await
            .iter()
            .map(|m| {
                DownstreamMessage::from_sqs_body(m.body().unwrap()).unwrap().provenance.webhook_id.to_string()
            })
            .collect();
        ids.sort();
        ids
    }
}

fn invoke(event: StreamEvent) -> LambdaEvent<StreamEvent> {
    LambdaEvent::new(event, Context::default())
}

#[tokio::test]
async fn each_event_lands_in_its_routed_queue_with_the_contract_fields() {
    let mut w = world().await;
    let fanout = w.fanout(w.routes(), SqsPublisher::new(w.sqs.clone()));
    w.record(
        "msg_b",
        json!({"type": "batch.succeeded", "data": {"id": "batches/1", "output_file_uri": "gs://b/o.jsonl"},
                             "user_metadata": {"team": "ml"}}),
    )
    .await;
    w.record("msg_i", json!({"type": "interaction.completed", "data": {"id": "interactions/2"}})).await;
    w.record(
        "msg_v",
        json!({"type": "video.generated", "data": {"id": "operations/3", "video_uri": "gs://b/v.mp4"}}),
    )
    .await;
    w.record("msg_u", json!({"type": "model.tuned", "data": {"id": "tunedModels/4"}})).await;

    let response = handle(&fanout, invoke(w.stream_event().await)).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    let batch = w.drain(&w.stack.routed("batch").url).await;
    assert_eq!(batch.len(), 1);
    let message = DownstreamMessage::from_sqs_body(batch[0].body().unwrap()).unwrap();
    assert_eq!(message.provenance.webhook_id.as_str(), "msg_b");
    assert_eq!(message.event_type, "batch.succeeded");
    assert_eq!(message.data_id.as_deref(), Some("batches/1"));
    assert_eq!(message.user_metadata.unwrap()["team"], "ml");
    assert_eq!(message.event.output_uri(), Some("gs://b/o.jsonl"));
    assert_eq!(message.provenance.scheme, Scheme::V1a);
    assert_eq!(message.provenance.webhook_timestamp.unix(), NOW_MS / 1000);
    assert_eq!((message.provenance.received_at, message.recorded_at), (NOW_MS, NOW_MS + 40));
    let attributes = batch[0].message_attributes().unwrap();
    assert_eq!(attributes["webhook_id"].string_value(), Some("msg_b"));
    assert_eq!(attributes["event_type"].string_value(), Some("batch.succeeded"));
    assert_eq!(w.ids_in(&w.stack.routed("interaction").url).await, ["msg_i"]);
    assert_eq!(w.ids_in(&w.stack.routed("video").url).await, ["msg_v"]);
    assert_eq!(
        w.ids_in(&w.stack.routed("default").url).await,
        ["msg_u"],
        "unmatched types go to the default queue"
    );
}

#[tokio::test]
async fn twenty_five_events_in_one_batch_are_sent_in_three_calls_and_all_delivered() {
    let mut w = world().await;
    let counting = Counting { inner: SqsPublisher::new(w.sqs.clone()), calls: AtomicUsize::new(0) };
    let fanout = w.fanout(w.routes(), counting);
    for i in 0..25 {
        w.record(
            &format!("msg_{i:02}"),
            json!({"type": "batch.succeeded", "data": {"id": format!("batches/{i}")}}),
        )
        .await;
    }
    let event = w.stream_event().await;
    assert_eq!(event.records.len(), 25);

    let response = handle(&fanout, invoke(event)).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(fanout.publisher.calls.load(Ordering::SeqCst), 3, "10 + 10 + 5");
    let expected: Vec<String> = (0..25).map(|i| format!("msg_{i:02}")).collect();
    assert_eq!(w.ids_in(&w.stack.routed("batch").url).await, expected);
}

#[tokio::test]
async fn an_event_two_rules_match_reaches_both_queues() {
    let mut w = world().await;
    let (batch, alerts) = (w.stack.routed("batch").url.clone(), w.stack.routed("interaction").url.clone());
    let rules = json!([{"match": "batch.*", "queues": [batch]}, {"match": "*.failed", "queues": [alerts]}]);
    let routes = Routes::parse(Some(&rules.to_string()), w.stack.routed("default").url.clone()).unwrap();
    let fanout = w.fanout(routes, SqsPublisher::new(w.sqs.clone()));
    w.record("msg_failed", json!({"type": "batch.failed", "data": {"id": "batches/9", "error_code": 13}}))
        .await;

    handle(&fanout, invoke(w.stream_event().await)).await.unwrap();

    assert_eq!(w.ids_in(&batch).await, ["msg_failed"]);
    assert_eq!(w.ids_in(&alerts).await, ["msg_failed"]);
    assert!(w.ids_in(&w.stack.routed("default").url).await.is_empty());
}

#[tokio::test]
async fn a_fifo_queue_dedupes_by_webhook_id_and_keeps_each_jobs_order() {
    let mut w = world().await;
    let fifo = create_fifo_queue(&w.sqs, &w.stack.prefix, "jobs").await.unwrap();
    let rules = json!([{"match": "*", "queues": [fifo]}]);
    let routes = Routes::parse(Some(&rules.to_string()), w.stack.routed("default").url.clone()).unwrap();
    let fanout = w.fanout(routes, SqsPublisher::new(w.sqs.clone()));
    for (i, kind) in ["interaction.requires_action", "interaction.completed"].iter().enumerate() {
        w.record(&format!("msg_job_a_{i}"), json!({"type": kind, "data": {"id": "interactions/a"}})).await;
        w.record(&format!("msg_job_b_{i}"), json!({"type": kind, "data": {"id": "interactions/b"}})).await;
    }
    let event = w.stream_event().await;
    let replay = event.clone();

    handle(&fanout, invoke(event)).await.unwrap();
    // The trigger retrying the same batch (after a timeout, say) sends the same ids again.
    handle(&fanout, invoke(replay)).await.unwrap();

    let received: Vec<DownstreamMessage> = w
        .drain(&fifo)
        .await
        .iter()
        .map(|m| DownstreamMessage::from_sqs_body(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(received.len(), 4, "each webhook-id once");
    for job in ["interactions/a", "interactions/b"] {
        let order: Vec<&str> = received
            .iter()
            .filter(|m| m.data_id.as_deref() == Some(job))
            .map(|m| m.event_type.as_str())
            .collect();
        assert_eq!(order, ["interaction.requires_action", "interaction.completed"], "{job}");
    }
}

#[tokio::test]
async fn a_missing_queue_keeps_its_records_whole_in_the_fanout_dlq_and_the_rest_are_delivered() {
    let mut w = world().await;
    let missing = w.stack.routed("batch").url.replace("-batch", "-deleted");
    let rules = json!([{"match": "batch.*", "queues": [missing]},
                       {"match": "interaction.*", "queues": [w.stack.routed("interaction").url]}]);
    let routes = Routes::parse(Some(&rules.to_string()), w.stack.routed("default").url.clone()).unwrap();
    let fanout = w.fanout(routes, SqsPublisher::new(w.sqs.clone()));
    w.record("msg_lost_route", json!({"type": "batch.succeeded", "data": {"id": "batches/1"}})).await;
    w.record("msg_fine", json!({"type": "interaction.completed", "data": {"id": "interactions/1"}})).await;

    let response = handle(&fanout, invoke(w.stream_event().await)).await.unwrap();

    assert!(
        response.batch_item_failures.is_empty(),
        "a queue that does not exist will not appear on a retry"
    );
    assert_eq!(w.ids_in(&w.stack.routed("interaction").url).await, ["msg_fine"]);
    let kept = w.drain(&w.stack.fanout_dlq.url).await;
    assert_eq!(kept.len(), 1);
    let message = DownstreamMessage::from_sqs_body(kept[0].body().unwrap()).unwrap();
    assert_eq!(message.provenance.webhook_id.as_str(), "msg_lost_route");
    let attributes = kept[0].message_attributes().unwrap();
    assert_eq!(attributes["destination_queue"].string_value(), Some(missing.as_str()));
    assert!(
        attributes["failure_reason"].string_value().unwrap().contains("NonExistentQueue")
            || attributes["failure_reason"].string_value() == Some("QueueDoesNotExist")
    );
}

#[tokio::test]
async fn permanently_bad_records_among_thirty_are_dead_lettered_and_every_good_one_arrives_once() {
    let mut w = world().await;
    let batch = w.stack.routed("batch").url.clone();
    let fifo = create_fifo_queue(&w.sqs, &w.stack.prefix, "jobs").await.unwrap();
    // A queue whose owner lowered its size limit: a 2 KB message can never go there.
    let small = w
        .sqs
        .create_queue()
        .queue_name(format!("{}-small", w.stack.prefix))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let missing = w.stack.routed("batch").url.replace("-batch", "-deleted");
    let rules = json!([
        {"match": "batch.*", "queues": [batch]},
        {"match": "interaction.*", "queues": [fifo]},
        {"match": "video.*", "queues": [small]},
        {"match": "*.lost", "queues": [missing]},
    ]);
    let routes = Routes::parse(Some(&rules.to_string()), w.stack.routed("default").url.clone()).unwrap();
    let fanout = w.fanout(routes, SqsPublisher::new(w.sqs.clone()));
    let long_id = format!("msg_{}", "l".repeat(196)); // 200 bytes: over FIFO's 128-byte dedup id
    let mut good_batch = Vec::new();
    for i in 0..30 {
        let id = format!("msg_{i:02}");
        match i {
            // Bad for good: over the small queue's limit, in the same SendMessageBatch as a good one.
            3 => {
                w.record(
                    &id,
                    json!({"type": "video.generated", "data": {"id": "op/3", "pad": "p".repeat(2048)}}),
                )
                .await
            }
            4 => w.record(&id, json!({"type": "video.generated", "data": {"id": "op/4"}})).await,
            // Bad for good: routed to a queue that does not exist.
            17 => w.record(&id, json!({"type": "model.lost", "data": {"id": "m/17"}})).await,
            // Edge cases FIFO must still take: an empty job id, an id too long to deduplicate by.
            5 => w.record(&id, json!({"type": "interaction.completed", "data": {"id": ""}})).await,
            9 => {
                w.record(&long_id, json!({"type": "interaction.completed", "data": {"id": "interactions/9"}}))
                    .await
            }
            _ => {
                w.record(&id, json!({"type": "batch.succeeded", "data": {"id": format!("batches/{i}")}}))
                    .await;
                good_batch.push(id);
            }
        }
    }
    let event = w.stream_event().await;
    assert_eq!(event.records.len(), 30);

    let response = handle(&fanout, invoke(event)).await.unwrap();

    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    good_batch.sort();
    assert_eq!(w.ids_in(&batch).await, good_batch);
    assert_eq!(w.ids_in(&fifo).await, ["msg_05".to_owned(), long_id]);
    assert_eq!(w.ids_in(&small).await, ["msg_04"]);
    let mut kept: Vec<(String, String, String)> = w
        .drain(&w.stack.fanout_dlq.url)
        .await
        .iter()
        .map(|m| {
            let message = DownstreamMessage::from_sqs_body(m.body().unwrap()).unwrap();
            let attributes = m.message_attributes().unwrap();
            (
                message.provenance.webhook_id.to_string(),
                attributes["destination_queue"].string_value().unwrap().to_owned(),
                attributes["failure_reason"].string_value().unwrap().to_owned(),
            )
        })
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(
        (kept[0].0.as_str(), kept[0].1.as_str(), kept[0].2.as_str()),
        ("msg_03", small.as_str(), "InvalidParameterValue")
    );
    assert_eq!((kept[1].0.as_str(), kept[1].1.as_str()), ("msg_17", missing.as_str()));
}

#[tokio::test]
async fn modify_and_remove_records_produce_no_messages() {
    let mut w = world().await;
    let fanout = w.fanout(w.routes(), SqsPublisher::new(w.sqs.clone()));
    w.record("msg_changes", json!({"type": "batch.succeeded", "data": {"id": "batches/1"}})).await;
    w.stream_event().await; // the INSERT, consumed
    let key = HashMap::from([("webhook_id".to_owned(), AttributeValue::S("msg_changes".into()))]);
    w.dynamodb
        .update_item()
        .table_name(&w.stack.table)
        .set_key(Some(key.clone()))
        .update_expression("SET recorded_at = :t")
        .expression_attribute_values(":t", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    w.dynamodb.delete_item().table_name(&w.stack.table).set_key(Some(key)).send().await.unwrap();
    let event = w.stream_event().await;
    let names: Vec<&str> = event.records.iter().map(|r| r.event_name.as_str()).collect();
    assert_eq!(names, ["MODIFY", "REMOVE"]);

    let report = fan_out(&fanout, event.records).await;

    assert_eq!(report.skipped, 2);
    assert!(report.failed.is_empty());
    for queue in w.stack.routed.values() {
        assert!(w.drain(&queue.url).await.is_empty(), "{}", queue.name);
    }
}

#[tokio::test]
async fn after_a_window_with_a_transient_failure_nothing_later_is_sent_so_the_retry_sends_it_once() {
    let mut w = world().await;
    let batch = w.stack.routed("batch").url.clone();
    let interaction = w.stack.routed("interaction").url.clone();
    let throttled = Throttled { inner: SqsPublisher::new(w.sqs.clone()), queue: batch.clone() };
    let fanout = w.fanout(w.routes(), throttled);
    for i in 0..15 {
        let kind = if i == 3 { "batch.succeeded" } else { "interaction.completed" };
        w.record(&format!("msg_w{i:02}"), json!({"type": kind, "data": {"id": format!("jobs/{i}")}})).await;
    }
    let event = w.stream_event().await;
    assert_eq!(event.records.len(), 15);

    let report = fan_out(&fanout, event.records).await;

    assert_eq!(report.failed.iter().copied().collect::<Vec<_>>(), [3]);
    assert_eq!(report.deferred, 5, "the second window waits for the retry");
    assert!(report.dead_lettered.is_empty(), "a transient fault is never dead-lettered");
    let sent = w.ids_in(&interaction).await;
    let first_window: Vec<String> = (0..10).filter(|i| *i != 3).map(|i| format!("msg_w{i:02}")).collect();
    assert_eq!(sent, first_window);
    assert!(w.drain(&w.stack.fanout_dlq.url).await.is_empty());
}

#[tokio::test]
async fn an_outage_defers_and_the_retry_delivers_every_record_once() {
    let mut w = world().await;
    let emulator = Emulator::shared().unwrap();
    let proxy = testkit::FaultProxy::start(emulator.endpoint()).await.unwrap();
    let through_proxy = testkit::sdk_config_for(&proxy.endpoint(), fanout::TIMEOUTS).await;
    let fanout = w.fanout(w.routes(), SqsPublisher::new(aws_sdk_sqs::Client::new(&through_proxy)));
    for i in 0..12 {
        w.record(
            &format!("msg_o{i:02}"),
            json!({"type": "batch.succeeded", "data": {"id": format!("b/{i}")}}),
        )
        .await;
    }
    let event = w.stream_event().await;
    proxy.set(testkit::Fault::Refuse);

    let during = fan_out(&fanout, event.records.clone()).await;

    assert_eq!(during.failed.len(), 10, "the first window, retried by the trigger");
    assert_eq!(during.deferred, 2);
    assert!(during.dead_lettered.is_empty());
    proxy.set(testkit::Fault::None);
    // The trigger retries from the first failed record: here, the whole batch.
    let after = fan_out(&fanout, event.records).await;
    assert!(after.failed.is_empty());
    let expected: Vec<String> = (0..12).map(|i| format!("msg_o{i:02}")).collect();
    assert_eq!(w.ids_in(&w.stack.routed("batch").url).await, expected);
    assert!(w.drain(&w.stack.fanout_dlq.url).await.is_empty());
}
