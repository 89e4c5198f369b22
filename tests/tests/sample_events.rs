//! The sample events in `events/` parse as the events Lambda delivers, and the receiver's verify.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use gemini_webhooks::sample_events::{DEMO_SECRET, sample_events};
use shared::clock::ManualClock;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use shared::signature::{SigningSecret, Verifier};

const NOW: i64 = 1_769_083_200;

#[test]
fn every_sample_event_is_what_its_function_parses() {
    let events = sample_events(DEMO_SECRET, NOW).unwrap();
    let names: Vec<&str> = events.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "receiver-function-url",
            "receiver-http-api",
            "receiver-rest-api",
            "receiver-alb",
            "recorder-sqs",
            "fanout-stream",
            "consumer-sqs",
            "env"
        ]
    );
    let verifier = Verifier::builder()
        .secret(SigningSecret::parse(DEMO_SECRET).unwrap())
        .clock(Arc::new(ManualClock::at(NOW + 299)))
        .build()
        .unwrap();
    for (name, event) in &events {
        match *name {
            n if n.starts_with("receiver-") => {
                let request = lambda_http::request::from_str(&event.to_string()).unwrap();
                let verified =
                    verifier.verify_with_keys(request.headers(), request.body().as_ref(), None, None);
                assert!(verified.is_ok(), "{name}: {verified:?}");
            }
            "recorder-sqs" => {
                let sqs: SqsEvent = serde_json::from_value(event.clone()).unwrap();
                let body = sqs.records[0].body.as_deref().unwrap();
                serde_json::from_str::<IngestMessage>(body).unwrap();
            }
            "fanout-stream" => {
                let stream: StreamEvent = serde_json::from_value(event.clone()).unwrap();
                assert_eq!(stream.records[0].event_name, "INSERT");
                let record: EventRecord =
                    serde_dynamo::from_item(stream.records[0].change.new_image.clone()).unwrap();
                assert_eq!(record.webhook_id.as_str(), "msg_sample_0001");
            }
            "consumer-sqs" => {
                let sqs: SqsEvent = serde_json::from_value(event.clone()).unwrap();
                DownstreamMessage::from_sqs_body(sqs.records[0].body.as_deref().unwrap()).unwrap();
            }
            _ => assert_eq!(event["ReceiverFunction"]["WEBHOOK_SECRETS"], DEMO_SECRET),
        }
    }
}
