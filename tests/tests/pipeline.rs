//! The full pipeline against the emulator: HTTP delivery to the receiver, the ingest queue, the
//! recorder, the table and its stream, the fanout, and the routed queues, through the real handlers and
//! the real AWS SDK.

use std::sync::{Arc, LazyLock};

use lambda_http::Request;
use local_stack::Pipeline;
use serde_json::json;
use shared::EventKind;
use shared::clock::ManualClock;
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
