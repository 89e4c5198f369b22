//! Sample Lambda events for every function, for `sam local invoke -e` (written by
//! `gemini-webhooks events`) and checked by the tests against the real parsers.

use crate::lambda_events::{HttpRequest, PayloadFormat, http_event};
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord, StreamViewType};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use shared::event::Event;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use shared::signature::sign::SignedHeaders;
use shared::signature::{Scheme, SigningSecret, Verified};
use shared::{WebhookId, WebhookTimestamp};

/// A secret for local invocations only: it is public, never configure it in AWS.
pub const DEMO_SECRET: &str = "whsec_ZGVtby1vbmx5LXNlY3JldC1kby1ub3QtdXNlIQ==";

const BODY: &str = r#"{"type":"batch.succeeded","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/sample123","output_file_uri":"gs://my-bucket/results.jsonl"},"user_metadata":{"team":"ml"}}"#;

/// Every sample event by file name (without `.json`), the receiver's signed with `secret_text` at `now`,
/// plus `env` (the variables for `sam local invoke --env-vars`).
pub fn sample_events(
    secret_text: &str,
    now: i64,
) -> Result<Vec<(&'static str, Value)>, Box<dyn std::error::Error>> {
    let secret = SigningSecret::parse(secret_text)?;
    let mut events = Vec::new();

    let signed = SignedHeaders::v1(&secret, "msg_sample_0001", now, BODY.as_bytes());
    for (name, format) in [
        ("receiver-function-url", PayloadFormat::FunctionUrl),
        ("receiver-http-api", PayloadFormat::HttpApi),
        ("receiver-rest-api", PayloadFormat::RestApi),
        ("receiver-alb", PayloadFormat::Alb),
    ] {
        let request = HttpRequest::signed(&signed, BODY.as_bytes());
        events.push((name, http_event(format, &request)));
    }

    let verified = Verified {
        webhook_id: WebhookId::parse("msg_sample_0001")?,
        timestamp: WebhookTimestamp::from_unix(now),
        scheme: Scheme::V1,
    };
    let ingest = IngestMessage::new(verified, BODY.as_bytes(), Event::parse(BODY.as_bytes())?, now * 1000);
    let mut message = SqsMessage::default();
    message.message_id = Some("0b9a2e5c-6f1d-4a3b-8c7e-1d2f3a4b5c6d".into());
    message.receipt_handle = Some("sample-receipt-handle".into());
    message.body = Some(serde_json::to_string(&ingest)?);
    message.event_source = Some("aws:sqs".into());
    message.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:gemini-webhooks-IngestQueue".into());
    message.aws_region = Some("us-east-1".into());
    events.push(("recorder-sqs", serde_json::to_value(sqs_event(message.clone()))?));

    let record = EventRecord::new(ingest, now * 1000 + 25, 604_800);
    let mut insert = StreamRecord::default();
    insert.event_id = "c4ca4238a0b923820dcc509a6f75849b".into();
    insert.event_name = "INSERT".into();
    insert.event_version = Some("1.1".into());
    insert.event_source = Some("aws:dynamodb".into());
    insert.aws_region = "us-east-1".into();
    insert.event_source_arn =
        Some("arn:aws:dynamodb:us-east-1:123456789012:table/gemini-webhooks-EventsTable/stream/2026-01-22T12:00:00.000".into());
    insert.change.keys = serde_dynamo::to_item(json!({"webhook_id": "msg_sample_0001"}))?;
    insert.change.new_image = serde_dynamo::to_item(&record)?;
    insert.change.sequence_number = Some("111100000000000000000001".into());
    insert.change.size_bytes = 512;
    insert.change.stream_view_type = Some(StreamViewType::NewImage);
    let mut stream = StreamEvent::default();
    stream.records = vec![insert];
    events.push(("fanout-stream", serde_json::to_value(stream)?));

    let mut downstream = message;
    downstream.body = Some(serde_json::to_string(&DownstreamMessage::from(record))?);
    downstream.event_source_arn =
        Some("arn:aws:sqs:us-east-1:123456789012:gemini-webhooks-BatchQueue".into());
    events.push(("consumer-sqs", serde_json::to_value(sqs_event(downstream))?));

    // `sam local invoke --env-vars`: the functions talk to a moto server on the Docker host.
    let local = |extra: Value| {
        let mut vars = json!({"AWS_ENDPOINT_URL": "http://host.docker.internal:5000",
                              "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"});
        if let (Some(vars), Some(extra)) = (vars.as_object_mut(), extra.as_object()) {
            vars.extend(extra.clone());
        }
        vars
    };
    events.push((
        "env",
        json!({
            "ReceiverFunction": local(json!({"WEBHOOK_SECRETS": secret_text,
                "INGEST_QUEUE_URL": "http://host.docker.internal:5000/123456789012/gemini-webhooks-ingest"})),
            "RecorderFunction": local(json!({"EVENTS_TABLE": "gemini-webhooks-events"})),
            "FanoutFunction": local(json!({
                "DEFAULT_QUEUE_URL": "http://host.docker.internal:5000/123456789012/gemini-webhooks-default"})),
        }),
    ));
    Ok(events)
}

fn sqs_event(message: SqsMessage) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}
