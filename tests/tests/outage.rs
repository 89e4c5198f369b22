//! An outage between the functions and AWS, cut by a fault-injecting proxy in front of the emulator
//! (moto keeps its state only in memory, so it is never restarted): nothing acknowledged is lost,
//! nothing refused is half-accepted, and nothing arrives twice.

use std::sync::{Arc, LazyLock};

use lambda_http::Request;
use local_stack::Pipeline;
use serde_json::json;
use shared::clock::ManualClock;
use shared::keys::jwks_document;
use shared::signature::SigningSecret;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use testkit::{Emulator, Fault, FaultProxy, HttpRequest, PayloadFormat, http_event};

const NOW: i64 = 1_769_083_200;
static SECRET: LazyLock<SigningSecret> = LazyLock::new(SigningSecret::generate);

fn delivery(id: &str) -> Request {
    let body = json!({"type": "batch.succeeded", "data": {"id": format!("batches/{id}")}}).to_string();
    let signed = SignedHeaders::v1(&SECRET, id, NOW, body.as_bytes());
    let request = HttpRequest::signed(&signed, body.as_bytes());
    lambda_http::request::from_str(&http_event(PayloadFormat::FunctionUrl, &request).to_string()).unwrap()
}

#[tokio::test]
async fn an_outage_loses_nothing_acknowledged_and_duplicates_nothing() {
    let emulator = Emulator::shared().unwrap();
    let proxy = FaultProxy::start(emulator.endpoint()).await.unwrap();
    let vars = [
        ("WEBHOOK_SECRETS", SECRET.expose_whsec()),
        ("JWKS_JSON", jwks_document([Ed25519Signer::generate().public_jwk(None)]).to_string()),
    ];
    let clock = Arc::new(ManualClock::at(NOW));
    let pipeline = Pipeline::start_through(emulator, &proxy.endpoint(), &vars, clock).await.unwrap();
    let mut acknowledged = Vec::new();

    // Healthy: two deliveries recorded (not yet fanned out), two more only enqueued.
    for id in ["msg_a0", "msg_a1"] {
        assert_eq!(pipeline.deliver(delivery(id)).await.status(), 200);
        acknowledged.push(id);
    }
    assert_eq!(pipeline.drain_ingest().await.unwrap().ingested, 2);
    for id in ["msg_a2", "msg_a3"] {
        assert_eq!(pipeline.deliver(delivery(id)).await.status(), 200);
        acknowledged.push(id);
    }

    // The outage, in each of its forms: the receiver answers 503 and acknowledges nothing.
    for (fault, id) in [(Fault::Refuse, "msg_b0"), (Fault::Reset, "msg_b1"), (Fault::Stall, "msg_b2")] {
        proxy.set(fault);
        let response = pipeline.deliver(delivery(id)).await;
        assert_eq!(response.status(), 503, "{fault:?}");
        assert_eq!(response.headers()["retry-after"], "5");
    }
    proxy.set(Fault::Refuse);
    // The recorder cannot write and reports every record failed; the fanout cannot send.
    let ingest = pipeline.drain_ingest().await.unwrap();
    assert_eq!((ingest.ingested, ingest.ingest_failures), (2, 2));
    let stream = pipeline.drain_stream().await.unwrap();
    assert_eq!((stream.inserts, stream.stream_failures), (2, 2));

    // Recovery: Gemini retries one refused delivery; the triggers retry what failed.
    proxy.set(Fault::None);
    assert_eq!(pipeline.deliver(delivery("msg_b0")).await.status(), 200);
    acknowledged.push("msg_b0");
    let mut passes = 0;
    loop {
        let drained = pipeline.drain().await.unwrap();
        assert_eq!(drained.ingest_failures + drained.stream_failures, 0);
        if drained.ingested == 0 && drained.inserts == 0 {
            break;
        }
        passes += 1;
        assert!(passes < 5, "the pipeline does not settle");
    }

    let downstream = pipeline.take_downstream().await.unwrap();
    let mut arrived: Vec<String> =
        downstream.values().flatten().map(|m| m.provenance.webhook_id.to_string()).collect();
    arrived.sort();
    acknowledged.sort_unstable();
    assert_eq!(arrived, acknowledged, "every acknowledged delivery exactly once, nothing refused");
}
