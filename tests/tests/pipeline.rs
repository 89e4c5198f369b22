//! The full pipeline against the emulator: HTTP delivery to the receiver, the ingest queue, the
//! recorder, the table and its stream, the fanout, and the routed queues, through the real handlers and
//! the real AWS SDK.

use std::sync::{Arc, LazyLock};

use aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader;
use lambda_http::Request;
use local_stack::Pipeline;
use serde_json::json;
use shared::EventKind;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::fixtures::lambda_events::{sqs_event, sqs_record};
use shared::keys::jwks_document;
use shared::signature::SigningSecret;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use testkit::{Emulator, HttpRequest, PayloadFormat, http_event};

const NOW: i64 = 1_769_083_200;
static SECRET: LazyLock<SigningSecret> = LazyLock::new(SigningSecret::generate);
static ED25519: LazyLock<Ed25519Signer> = LazyLock::new(Ed25519Signer::generate);

async fn pipeline() -> Pipeline {
    let vars = [
        ("WEBHOOK_SECRETS", SECRET.expose_whsec()),
        ("WEBHOOK_URL_TOKEN", URL_TOKEN.to_owned()),
        ("JWKS_JSON", jwks_document([ED25519.public_jwk(None)]).to_string()),
    ];
    Pipeline::start(Emulator::shared().unwrap(), &vars, Arc::new(ManualClock::at(NOW))).await.unwrap()
}

/// The endpoint's URL token: dynamic deliveries are posted to the URL carrying it.
const URL_TOKEN: &str = "tok_0123456789abcdefghijklmn";

/// A delivery posted as Gemini posts it: a dynamic (`v1a`) one to the URL with the token.
fn post(signed: &SignedHeaders, body: &[u8]) -> Request {
    let mut request = HttpRequest::signed(signed, body);
    if signed.signature.starts_with("v1a,") {
        request = request.with_url_token(URL_TOKEN);
    }
    let event = http_event(PayloadFormat::FunctionUrl, &request);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn body_for(event_type: &str, job: &str) -> Vec<u8> {
    let data = match EventKind::of(event_type) {
        EventKind::BatchSucceeded => json!({"id": job, "output_file_uri": "gs://bucket/results.jsonl"}),
        EventKind::VideoGenerated => {
            json!({"id": job, "output_file_uri": "gs://bucket/v.mp4", "file_name": "v.mp4"})
        }
        kind if kind.is_failure() => json!({"id": job, "error_code": 13, "error_message": "internal"}),
        _ => json!({"id": job}),
    };
    json!({"type": event_type, "version": "v1", "timestamp": "2026-01-22T12:00:00Z", "data": data})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn every_event_type_signed_either_way_reaches_its_routed_queue_exactly_once() {
    let pipeline = pipeline().await;
    let types: Vec<&str> = EventKind::CATALOG.iter().map(|(name, _)| *name).chain(["model.tuned"]).collect();
    let mut sent = Vec::new();
    for event_type in &types {
        let body = body_for(event_type, &format!("jobs/{event_type}"));
        for (scheme, signed) in [
            ("v1", SignedHeaders::v1(&SECRET, &format!("msg_{event_type}_v1"), NOW, &body)),
            ("v1a", SignedHeaders::v1a(&ED25519, &format!("msg_{event_type}_v1a"), NOW, &body)),
        ] {
            let response = pipeline.deliver(post(&signed, &body)).await;
            assert_eq!(response.status(), 200, "{event_type} {scheme}");
            sent.push(signed.id);
        }
    }

    let drained = pipeline.drain().await.unwrap();

    assert_eq!((drained.ingested, drained.inserts), (20, 20));
    assert_eq!((drained.ingest_failures, drained.stream_failures), (0, 0));
    let downstream = pipeline.take_downstream().await.unwrap();
    let family =
        |queue: &str| -> Vec<&str> { downstream[queue].iter().map(|m| m.event_type.as_str()).collect() };
    assert!(family("batch").iter().all(|t| t.starts_with("batch.")) && family("batch").len() == 8);
    assert!(
        family("interaction").iter().all(|t| t.starts_with("interaction."))
            && family("interaction").len() == 8
    );
    assert_eq!(family("video"), ["video.generated", "video.generated"]);
    assert_eq!(family("default"), ["model.tuned", "model.tuned"]);
    let mut received: Vec<String> =
        downstream.values().flatten().map(|m| m.provenance.webhook_id.to_string()).collect();
    received.sort();
    sent.sort();
    assert_eq!(received, sent, "each delivery exactly once");
}

#[tokio::test]
async fn ten_deliveries_of_one_webhook_id_give_one_downstream_message() {
    let pipeline = pipeline().await;
    let body = body_for("batch.succeeded", "batches/retried");
    let signed = SignedHeaders::v1(&SECRET, "msg_retried", NOW, &body);
    for attempt in 0..10 {
        assert_eq!(pipeline.deliver(post(&signed, &body)).await.status(), 200, "attempt {attempt}");
    }

    let drained = pipeline.drain().await.unwrap();

    assert_eq!((drained.ingested, drained.inserts), (10, 1));
    let downstream = pipeline.take_downstream().await.unwrap();
    assert_eq!(downstream["batch"].len(), 1);
    assert_eq!(downstream["batch"][0].provenance.webhook_id.as_str(), "msg_retried");
    assert_eq!(downstream["batch"][0].event.output_uri(), Some("gs://bucket/results.jsonl"));
    assert!(downstream.iter().filter(|(q, _)| **q != "batch").all(|(_, m)| m.is_empty()));
}

#[tokio::test]
async fn forged_and_stale_deliveries_get_401_and_reach_nothing() {
    let pipeline = pipeline().await;
    let body = body_for("batch.succeeded", "batches/forged");
    let forged = SignedHeaders::v1(&SigningSecret::generate(), "msg_forged", NOW, &body);
    let stale = SignedHeaders::v1(&SECRET, "msg_stale", NOW - 301, &body);
    let stranger = SignedHeaders::v1a(&Ed25519Signer::generate(), "msg_stranger", NOW, &body);
    for signed in [forged, stale, stranger] {
        assert_eq!(pipeline.deliver(post(&signed, &body)).await.status(), 401, "{}", signed.id);
    }

    let drained = pipeline.drain().await.unwrap();

    assert_eq!(drained, local_stack::Drained::default(), "nothing was enqueued");
    assert!(pipeline.take_downstream().await.unwrap().values().all(Vec::is_empty));
}

#[tokio::test]
async fn an_event_with_characters_sqs_refuses_reaches_its_routed_queue_as_the_same_json() {
    let pipeline = pipeline().await;
    // U+FFFE and U+FFFF where a job's own data goes: user_metadata and an error message.
    let body = json!({"type": "batch.failed", "data": {"id": "batches/nc", "error_code": 13,
                      "error_message": "bad \u{FFFF} output \u{FFFE}"},
                      "user_metadata": {"note": "\u{FFFF}", "team\u{FFFE}": "ml"}})
    .to_string();
    let signed = SignedHeaders::v1(&SECRET, "msg_nonchars", NOW, body.as_bytes());

    let response = pipeline.deliver(post(&signed, body.as_bytes())).await;
    pipeline.drain().await.unwrap();

    assert_eq!(response.status(), 200);
    // Every message read back, at every stage, is checked against SQS's allowed characters.
    let downstream = pipeline.take_downstream().await.unwrap();
    let batch = &downstream["batch"];
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].event.error_message(), Some("bad \u{FFFF} output \u{FFFE}"));
    assert_eq!(batch[0].user_metadata.as_ref().unwrap()["team\u{FFFE}"], "ml");
    assert_eq!(
        serde_json::to_value(&batch[0].event).unwrap(),
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    );
}

/// What `work` returns, and every line it logged on this thread, as the function writes them.
async fn logged<T>(work: impl std::future::Future<Output = T>) -> (T, Vec<serde_json::Value>) {
    let logs = testkit::capture_logs();
    let output = work.await;
    (output, logs.lines())
}

/// The `trace_id` of the delivery span a line was written in, if any.
fn trace_id_of(line: &serde_json::Value) -> Option<&str> {
    line["spans"].as_array()?.iter().find(|span| span["name"] == "delivery")?["trace_id"].as_str()
}

#[tokio::test]
async fn one_delivery_is_followed_by_its_trace_id_from_the_receiver_s_log_to_the_consumer_s() {
    let pipeline = pipeline().await;
    let emulator = Emulator::shared().unwrap();
    let consumer = pipeline.consumer(emulator, "http://127.0.0.1:9", "unused-key").await.unwrap();
    // What Lambda gives the receiver's invocation, Lambda's loop-detection lineage included.
    let lambda_header =
        "Root=1-69720b40-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0";
    let (trace_id, canonical) = (
        "1-69720b40-0123456789abcdef01234567",
        "Root=1-69720b40-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    );
    let body = body_for("batch.failed", "batches/traced");
    let signed = SignedHeaders::v1(&SECRET, "msg_traced", NOW, &body);
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(lambda_header.into());
    let request = lambda_http::RequestExt::with_lambda_context(post(&signed, &body), context);

    let (response, receiver_log) = logged(pipeline.deliver(request)).await;
    let ingest = &pipeline.stack.ingest.url;
    let peek = pipeline.sqs.receive_message().queue_url(ingest).visibility_timeout(0);
    let peeked = peek.message_system_attribute_names(AwsTraceHeader.clone()).send().await.unwrap();
    let (drained, recorder_log) = logged(pipeline.drain_ingest()).await;
    let (routed, fanout_log) = logged(pipeline.drain_stream()).await;
    let batch_queue = &pipeline.stack.routed["batch"].url;
    let messages = testkit::receive_batch(&pipeline.sqs, batch_queue, 0).await.unwrap();
    let records = messages.iter().map(|m| sqs_record(m, batch_queue)).collect();
    let mut invocation = lambda_runtime::LambdaEvent::new(sqs_event(records), Default::default());
    invocation.context.deadline = u64::try_from(SystemClock.unix_now_ms()).unwrap() + 300_000;
    let (answered, consumer_log) = logged(consumer::handle(&consumer, invocation)).await;

    assert_eq!(response.status(), 200);
    assert_eq!((drained.unwrap().ingested, routed.unwrap().inserts), (1, 1));
    assert!(fanout_log.is_empty(), "the fanout logs no line for an event it routes: {fanout_log:?}");
    // SQS carries the trace as the ingest message's AWSTraceHeader, for X-Ray to link the hop (the
    // emulator drops it from SendMessageBatch, the routed hop: that entry is checked in shared).
    let carried = peeked.messages()[0].attributes().and_then(|a| a.get(&AwsTraceHeader));
    assert_eq!(carried.map(String::as_str), Some(canonical), "the ingest message's AWSTraceHeader");
    assert_eq!(messages.len(), 1);
    assert!(answered.unwrap().batch_item_failures.is_empty());
    for (function, log, says) in [
        ("receiver", &receiver_log, "delivery accepted"),
        ("recorder", &recorder_log, "recorded"),
        ("consumer", &consumer_log, "followed up"),
    ] {
        let line = log.iter().find(|line| line["fields"]["message"] == says);
        let line = line.unwrap_or_else(|| panic!("the {function} wrote no {says:?} line: {log:?}"));
        assert_eq!(trace_id_of(line), Some(trace_id), "the {function}'s line: {line}");
    }
    assert_eq!(receiver_log.iter().find_map(|l| l["fields"]["webhook_id"].as_str()), Some("msg_traced"));
}
