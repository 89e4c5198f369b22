//! Sample Lambda events for every function, for `sam local invoke -e` (written by
//! `gemini-webhooks fixtures`) and checked by the tests against the real parsers; and the `--env-vars`
//! file pointing the functions at a local stack whose names are known in advance ([`LocalStack`]).
//!
//! No secret is in `env.json`: the receiver reads the local stack's endpoint secret from the emulator's
//! Secrets Manager, exactly as it reads its own in AWS. The receiver's events are signed with
//! [`DEMO_SECRET`], which that secret holds.

use crate::lambda_events::{HttpRequest, PayloadFormat, http_event, sqs_event};
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord, StreamViewType};
use aws_lambda_events::event::sqs::SqsMessage;
use serde_json::{Value, json};
use shared::event::Event;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use shared::signature::sign::SignedHeaders;
use shared::signature::{Scheme, SigningSecret, Verified};
use shared::{WebhookId, WebhookTimestamp};

/// A secret for local invocations only: it is public, never configure it in AWS.
pub const DEMO_SECRET: &str = "whsec_ZGVtby1vbmx5LXNlY3JldC1kby1ub3QtdXNlIQ==";

/// The local stack's URL token: public too, for local invocations only.
pub const DEMO_URL_TOKEN: &str = "demoOnlyUrlTokenDoNotUseInAws0123456789";

const BODY: &str = r#"{"type":"batch.succeeded","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/sample123","output_file_uri":"gs://my-bucket/results.jsonl"},"user_metadata":{"team":"ml"}}"#;

/// The consumer's sample: a failed batch, whose follow-up (a failure record in the results bucket) needs
/// no Gemini API, so it runs under `sam local` with the emulator alone.
const FAILED_BODY: &str = r#"{"type":"batch.failed","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/sample123","error_code":3,"error_message":"Request 17 of the input file has no contents"},"user_metadata":{"team":"ml"}}"#;

/// Every sample event by file name (without `.json`), the receiver's signed with `secret_text` at `now`.
pub fn sample_events(
    secret_text: &str,
    now: i64,
) -> Result<Vec<(&'static str, Value)>, Box<dyn std::error::Error + Send + Sync>> {
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
        jwt: None,
    };
    let ingest =
        IngestMessage::new(verified.clone(), BODY.as_bytes(), Event::parse(BODY.as_bytes())?, now * 1000);
    let mut message = SqsMessage::default();
    message.message_id = Some("0b9a2e5c-6f1d-4a3b-8c7e-1d2f3a4b5c6d".into());
    message.receipt_handle = Some("sample-receipt-handle".into());
    message.body = Some(serde_json::to_string(&ingest)?);
    message.event_source = Some("aws:sqs".into());
    message.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:gemini-webhooks-IngestQueue".into());
    message.aws_region = Some("us-east-1".into());
    events.push(("recorder-sqs", serde_json::to_value(sqs_event(vec![message.clone()]))?));

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

    let failed = IngestMessage::new(
        verified,
        FAILED_BODY.as_bytes(),
        Event::parse(FAILED_BODY.as_bytes())?,
        now * 1000,
    );
    let mut downstream = message;
    let failed_record = EventRecord::new(failed, now * 1000 + 25, 604_800);
    downstream.body = Some(serde_json::to_string(&DownstreamMessage::from(failed_record))?);
    downstream.event_source_arn =
        Some("arn:aws:sqs:us-east-1:123456789012:gemini-webhooks-BatchQueue".into());
    events.push(("consumer-sqs", serde_json::to_value(sqs_event(vec![downstream]))?));

    Ok(events)
}

/// A stack in a local AWS emulator, under names known in advance (`{prefix}-ingest`, ...), as the
/// functions' containers reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStack {
    /// The emulator's URL from inside a container, e.g. `http://host.docker.internal:5000`.
    pub endpoint: String,
    /// The prefix of every name.
    pub prefix: String,
}

impl LocalStack {
    /// What `sam local` users get by default: the emulator on the Docker host's port 5000.
    pub fn default_local() -> Self {
        Self { endpoint: "http://host.docker.internal:5000".into(), prefix: LOCAL_PREFIX.into() }
    }

    /// A queue's URL.
    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/123456789012/{}-{name}", self.endpoint, self.prefix)
    }

    /// A table's or secret's name.
    pub fn name(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// The variables for `sam local invoke --env-vars`, by function: every resource the template
    /// names (SAM cannot resolve them locally) and the endpoint override. No secret.
    pub fn env_vars(&self) -> Value {
        let routes = json!([
            {"match": "batch.*", "queues": [self.queue_url("batch")]},
            {"match": "interaction.*", "queues": [self.queue_url("interaction")]},
            {"match": "video.*", "queues": [self.queue_url("video")]},
        ]);
        let local = |vars: Value| {
            let mut all = json!({"AWS_ENDPOINT_URL": self.endpoint});
            if let (Some(all), Some(vars)) = (all.as_object_mut(), vars.as_object()) {
                all.extend(vars.clone());
            }
            all
        };
        json!({
            "ReceiverFunction": local(json!({
                "INGEST_QUEUE_URL": self.queue_url("ingest"),
                "QUARANTINE_QUEUE_URL": self.queue_url("quarantine"),
                "WEBHOOK_SECRETS_ARN": self.name(ENDPOINT_SECRET),
            })),
            "RecorderFunction": local(json!({
                "EVENTS_TABLE": self.name("events"),
                "INGEST_DLQ_URL": self.queue_url("ingest-dlq"),
            })),
            "FanoutFunction": local(json!({
                "DEFAULT_QUEUE_URL": self.queue_url("default"),
                "FANOUT_DLQ_URL": self.queue_url("fanout-dlq"),
                "ROUTES": routes.to_string(),
            })),
            "ConsumerFunction": local(json!({
                "IDEMPOTENCY_TABLE": self.name("claims"),
                "RESULTS_BUCKET": self.name("results"),
                "GEMINI_API_KEY_SECRET_ARN": self.name("gemini-api-key"),
            })),
        })
    }
}

/// The prefix of the local stack's names.
pub const LOCAL_PREFIX: &str = "gemini-webhooks-local";

/// The local stack's endpoint secret, after the prefix.
pub const ENDPOINT_SECRET: &str = "endpoint";

/// The value of the local stack's endpoint secret: the demo secret and token, in the console's shape.
pub fn demo_secret_value() -> String {
    json!({"signing_secrets": DEMO_SECRET, "url_token": DEMO_URL_TOKEN}).to_string()
}
