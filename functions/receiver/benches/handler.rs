//! The receiver's own cost per request: verify, parse, build the ingest message and make the SQS
//! call through the real SDK (serialisation, SigV4 signing), with the HTTP exchange stubbed at the
//! client level so no network time is counted.
//!
//! Run with `cargo bench -p receiver`.

use std::sync::Arc;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lambda_http::Request;
use receiver::{Config, DeliveryQueues, EnqueueError, Receiver, SqsDeliveryQueues, handle};
use shared::aws::queue::SendError;
use shared::clock::ManualClock;
use shared::config::FromVars;
use shared::message::{IngestMessage, QuarantinedDelivery};
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use testkit::{HttpRequest, PayloadFormat, http_event};

const NOW: i64 = 1_769_083_200;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn body(size: usize) -> Vec<u8> {
    let head = r#"{"type":"batch.succeeded","version":"v1","timestamp":"2026-01-22T12:00:00Z","data":{"id":"batches/123","output_file_uri":"gs://bucket/out.jsonl","pad":""#;
    let mut body = head.as_bytes().to_vec();
    body.resize(size - 3, b'x');
    body.extend_from_slice(br#""}}"#);
    body
}

fn stubbed_sqs() -> aws_sdk_sqs::Client {
    let http = infallible_client_fn(|_request| {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.0")
            .body(r#"{"MD5OfMessageBody":"0","MessageId":"5fea7756-0ea4-451a-a703-a558b933e274"}"#)
            .unwrap()
    });
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench"))
        .http_client(http)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Queues that accept everything at no cost beyond encoding the message as the SQS adapter does:
/// isolates the handler's own work.
struct NoQueue;

impl DeliveryQueues for NoQueue {
    async fn enqueue(&self, message: &IngestMessage) -> Result<(), EnqueueError> {
        std::hint::black_box(message.to_sqs_body()?);
        Ok(())
    }

    async fn quarantine(&self, _delivery: &QuarantinedDelivery) -> Result<(), SendError> {
        Ok(())
    }
}

fn handler(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = Config::from_lookup(|name| match name {
        "WEBHOOK_SECRETS" => Some(SECRET.into()),
        "ACCEPTED_SCHEMES" => Some("v1".into()),
        "INGEST_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/123456789012/ingest".into()),
        "QUARANTINE_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/123456789012/quarantine".into()),
        _ => None,
    })
    .unwrap();
    let clock = Arc::new(ManualClock::at(NOW));
    let verifier =
        || runtime.block_on(receiver::build_verifier(&config, || unreachable!(), clock.clone())).unwrap().0;
    let queues =
        SqsDeliveryQueues::new(stubbed_sqs(), &config.ingest_queue_url, &config.quarantine_queue_url);
    let receiver = Receiver::new(verifier(), queues, config.max_body_bytes, clock.clone());
    let own_work = Receiver::new(verifier(), NoQueue, config.max_body_bytes, clock);

    let body = body(1024);
    let signed = SignedHeaders::v1(&SigningSecret::parse(SECRET).unwrap(), "msg_bench", NOW, &body);
    let event = http_event(PayloadFormat::FunctionUrl, &HttpRequest::signed(&signed, &body)).to_string();
    let request = || -> Request { lambda_http::request::from_str(&event).unwrap() };
    assert_eq!(runtime.block_on(handle(&receiver, request())).status(), 200);

    c.bench_function("receiver/handle_1KiB_v1_sqs_stubbed", |b| {
        b.iter_batched(request, |req| runtime.block_on(handle(&receiver, req)), BatchSize::SmallInput)
    });

    c.bench_function("receiver/handle_1KiB_v1_no_queue", |b| {
        b.iter_batched(request, |req| runtime.block_on(handle(&own_work, req)), BatchSize::SmallInput)
    });

    // The floor any Lambda pays for the same enqueue: the SDK's SendMessage alone (serialisation,
    // SigV4, orchestration) with the same stub, carrying a message of the same size.
    let sqs = stubbed_sqs();
    let message = format!(r#"{{"webhook_id":"msg_bench","event":{}}}"#, String::from_utf8_lossy(&body));
    c.bench_function("receiver/sdk_send_message_alone_1KiB", |b| {
        b.iter(|| {
            runtime
                .block_on(
                    sqs.send_message()
                        .queue_url(&config.ingest_queue_url)
                        .message_body(message.clone())
                        .message_attributes(
                            "webhook_id",
                            aws_sdk_sqs::types::MessageAttributeValue::builder()
                                .data_type("String")
                                .string_value("msg_bench")
                                .build()
                                .unwrap(),
                        )
                        .message_attributes(
                            "event_type",
                            aws_sdk_sqs::types::MessageAttributeValue::builder()
                                .data_type("String")
                                .string_value("batch.succeeded")
                                .build()
                                .unwrap(),
                        )
                        .send(),
                )
                .unwrap()
        })
    });
}

criterion_group!(benches, handler);
criterion_main!(benches);
