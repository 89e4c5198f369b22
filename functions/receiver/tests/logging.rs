//! What a flood of refusals writes to the logs, as the receiver writes them (`testkit::capture_logs`).

mod support;

use receiver::handle;
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;
use support::*;
use testkit::PayloadFormat;

/// A forged `v1` delivery: a well-formed entry under a secret the endpoint does not hold.
fn forged(id: &str) -> lambda_http::Request {
    let signed = SignedHeaders::v1(&SigningSecret::generate(), id, NOW, BODY);
    request(PayloadFormat::FunctionUrl, "POST", headers_of(&signed), BODY, false)
}

#[tokio::test]
async fn a_flood_of_refusals_logs_one_info_line_per_reason_a_minute_and_counts_every_one() {
    let clock = std::sync::Arc::new(shared::clock::ManualClock::at(NOW));
    let receiver = receiver_on(&config(&[]), RecordingQueue::default(), clock.clone()).await;
    let logs = testkit::capture_logs();
    shared::metrics::capture();
    for i in 0..50 {
        assert_eq!(handle(&receiver, forged(&format!("msg_flood_{i}"))).await.status(), 401);
    }
    for _ in 0..3 {
        handle(&receiver, dynamic_post(PayloadFormat::FunctionUrl, "msg_theirs", BODY, None)).await;
    }
    assert_eq!(shared::metrics::take_captured().len(), 53, "the metric counts every refusal");
    let lines = logs.lines();
    let reasons: Vec<&str> = lines.iter().filter_map(|l| l["fields"]["reason"].as_str()).collect();
    assert_eq!(reasons, ["signature_mismatch", "dynamic_token_mismatch"], "{lines:?}");

    clock.advance(receiver::REFUSAL_LOG_WINDOW_SECS);
    handle(&receiver, forged("msg_flood_after")).await;
    let lines = logs.lines();
    let last = &lines.last().unwrap()["fields"];
    assert_eq!((last["reason"].as_str(), last["quieted"].as_u64()), (Some("signature_mismatch"), Some(49)));
}
