//! The handler called directly with realistic `lambda_http` requests: every answer it can give.

mod support;

use std::sync::atomic::Ordering;

use lambda_http::http::StatusCode;
use receiver::handle;
use serde_json::json;
use shared::message::QuarantineReason;
use shared::signature::sign::{SignedHeaders, v1_entry};
use shared::signature::{Scheme, SigningSecret};
use support::*;
use testkit::{HttpRequest, PayloadFormat};

#[tokio::test]
async fn accepts_a_signed_delivery_in_every_payload_format() {
    for format in PayloadFormat::ALL {
        let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
        let request = request(format, "POST", v1_headers("msg_formats", NOW, BODY), BODY, false);

        let response = handle(&receiver, request).await;

        assert_eq!(response.status(), StatusCode::OK, "{format:?}");
        assert_eq!(json_body(&response), json!({"status": "accepted", "webhook_id": "msg_formats"}));
        assert_eq!(response.headers()["content-type"], "application/json");
        let sent = receiver.queues.sent();
        assert_eq!(sent.len(), 1, "{format:?}");
        let (message, body) = &sent[0];
        assert_eq!(message.provenance.webhook_id.as_str(), "msg_formats");
        assert_eq!(message.provenance.webhook_timestamp.unix(), NOW);
        assert_eq!(message.provenance.scheme, Scheme::V1);
        assert_eq!(message.provenance.received_at, NOW * 1000);
        assert_eq!(message.body_sha256, shared::message::BodySha256::of(BODY));
        assert_eq!(message.event.data_id(), Some("batches/abc123"));
        let contract: serde_json::Value = serde_json::from_str(body).unwrap();
        let mut keys: Vec<&str> = contract.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["body_sha256", "event", "received_at", "scheme", "webhook_id", "webhook_timestamp"]
        );
    }
}

#[tokio::test]
async fn a_base64_encoded_body_is_verified_over_the_decoded_bytes() {
    for format in PayloadFormat::ALL {
        let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
        let request = request(format, "POST", v1_headers("msg_b64", NOW, BODY), BODY, true);
        let response = handle(&receiver, request).await;
        assert_eq!(response.status(), StatusCode::OK, "{format:?}");
        assert_eq!(receiver.queues.sent()[0].0.body_sha256, shared::message::BodySha256::of(BODY));
    }
}

#[tokio::test]
async fn header_names_are_read_in_any_case() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let signed = SignedHeaders::v1(&secret(), "msg_case", NOW, BODY);
    let headers = vec![
        ("Webhook-Id".to_owned(), signed.id),
        ("WEBHOOK-TIMESTAMP".to_owned(), signed.timestamp),
        ("Webhook-Signature".to_owned(), signed.signature),
    ];
    for format in PayloadFormat::ALL {
        let response = handle(&receiver, request(format, "POST", headers.clone(), BODY, false)).await;
        assert_eq!(response.status(), StatusCode::OK, "{format:?}");
    }
}

#[tokio::test]
async fn a_signature_header_with_several_entries_verifies_by_any_of_them() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let ts = NOW.to_string();
    let entries = [
        v1_entry(&SigningSecret::generate(), "msg_multi", &ts, BODY),
        "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=".to_owned(),
        v1_entry(&secret(), "msg_multi", &ts, BODY),
    ];
    let signed = SignedHeaders::new("msg_multi", NOW, &entries);
    let response =
        handle(&receiver, request(PayloadFormat::HttpApi, "POST", headers_of(&signed), BODY, false)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_v1a_delivery_verifies_against_the_jwks_at_the_url_with_the_token() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    for format in PayloadFormat::ALL {
        let response = handle(&receiver, dynamic_post(format, "msg_dynamic", BODY, Some(URL_TOKEN))).await;
        assert_eq!(response.status(), StatusCode::OK, "{format:?}");
    }
    assert_eq!(receiver.queues.sent()[0].0.provenance.scheme, Scheme::V1a);
}

#[tokio::test]
async fn a_v1a_sender_s_whpk_key_pasted_into_jwks_json_verifies_its_deliveries() {
    let key = shared::keys::text::public_key_text(&ED25519.verifying_key());
    let receiver =
        receiver_with(&config(&[("JWKS_JSON", &format!("{key}\n"))]), RecordingQueue::default()).await;
    let response =
        handle(&receiver, dynamic_post(PayloadFormat::FunctionUrl, "msg_whpk", BODY, Some(URL_TOKEN))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(receiver.queues.sent()[0].0.provenance.scheme, Scheme::V1a);
}

#[tokio::test]
async fn a_genuine_dynamic_delivery_without_the_token_or_with_a_wrong_one_gets_401() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    shared::metrics::capture();
    for token in [None, Some("tok_0123456789abcdefghijklmX")] {
        let response =
            handle(&receiver, dynamic_post(PayloadFormat::FunctionUrl, "msg_theirs", BODY, token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(json_body(&response)["error"], "dynamic_token_mismatch");
    }
    let metrics = shared::metrics::take_captured();
    assert!(
        metrics.iter().all(|m| m["reason"] == "dynamic_token_mismatch"),
        "its own metric reason: {metrics:?}"
    );
    assert_eq!(metrics.len(), 2);
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn v1_deliveries_are_unaffected_by_the_token() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let signed = SignedHeaders::v1(&secret(), "msg_static", NOW, BODY);
    for request in
        [HttpRequest::signed(&signed, BODY), HttpRequest::signed(&signed, BODY).with_url_token("wrong")]
    {
        assert_eq!(
            handle(&receiver, lambda_request(PayloadFormat::FunctionUrl, &request)).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn with_no_token_configured_a_genuine_v1a_delivery_gets_401_and_start_up_says_why() {
    let config = config(&[("WEBHOOK_URL_TOKEN", "")]);
    let clock = std::sync::Arc::new(shared::clock::ManualClock::at(NOW));
    let (_, notices) = receiver::build_verifier(&config, || unreachable!(), clock).await.unwrap();
    assert_eq!(notices, [receiver::Notice::NoUrlToken]);
    assert!(receiver::Notice::NoUrlToken.to_string().contains("WEBHOOK_URL_TOKEN"));
    let receiver = receiver_with(&config, RecordingQueue::default()).await;
    let response =
        handle(&receiver, dynamic_post(PayloadFormat::FunctionUrl, "msg_dyn", BODY, Some(URL_TOKEN))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&response)["error"], "no_usable_signature");
}

#[tokio::test]
async fn four_v1a_entries_get_400_before_any_crypto() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let entry = ED25519.entry("msg_many", &NOW.to_string(), BODY);
    let signed = SignedHeaders::new("msg_many", NOW, &vec![entry; 4]);
    let request = lambda_request(
        PayloadFormat::FunctionUrl,
        &HttpRequest::signed(&signed, BODY).with_url_token(URL_TOKEN),
    );
    let response = handle(&receiver, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&response)["error"], "invalid_header");
}

#[tokio::test]
async fn signature_headers_joined_by_a_proxy_verify() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let ts = NOW.to_string();
    let good = v1_entry(&secret(), "msg_joined", &ts, BODY);
    let other = v1_entry(&SigningSecret::generate(), "msg_joined", &ts, BODY);
    for value in [format!("{good}, {other}"), format!("{other},  {good}"), format!(" {good} ")] {
        let headers = vec![
            ("webhook-id".to_owned(), "msg_joined".to_owned()),
            ("webhook-timestamp".to_owned(), ts.clone()),
            ("webhook-signature".to_owned(), value.clone()),
        ];
        let response =
            handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", headers, BODY, false)).await;
        assert_eq!(response.status(), StatusCode::OK, "{value:?}");
    }
}

#[tokio::test]
async fn methods_other_than_post_get_405_with_allow() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    for method in ["GET", "PUT", "DELETE"] {
        let response =
            handle(&receiver, request(PayloadFormat::FunctionUrl, method, vec![], b"", false)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
        assert_eq!(json_body(&response)["error"], "method_not_allowed");
    }
    // HEAD: the same answer without a body, as HTTP requires; OPTIONS: answered, not refused.
    let head = handle(&receiver, request(PayloadFormat::FunctionUrl, "HEAD", vec![], b"", false)).await;
    assert_eq!(
        (head.status(), &head.headers()["allow"]),
        (StatusCode::METHOD_NOT_ALLOWED, &"POST".parse().unwrap())
    );
    assert!(head.body().is_empty(), "no body for HEAD");
    shared::metrics::capture();
    let options = handle(&receiver, request(PayloadFormat::FunctionUrl, "OPTIONS", vec![], b"", false)).await;
    assert_eq!(
        (options.status(), &options.headers()["allow"]),
        (StatusCode::NO_CONTENT, &"POST".parse().unwrap())
    );
    assert!(shared::metrics::take_captured().is_empty(), "not counted as a refusal");
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn a_verified_body_whose_meaning_is_ambiguous_is_quarantined_not_routed() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    for (id, body) in [
        ("msg_twice", &br#"{"type":"batch.succeeded","type":"batch.failed","data":{"id":"batches/1"}}"#[..]),
        (
            "msg_wide",
            &br#"{"type":"batch.failed","data":{"id":"batches/1","error_code":18446744073709551616}}"#[..],
        ),
    ] {
        let response = handle(&receiver, signed_post(id, body)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{id}");
        assert_eq!(json_body(&response)["reason"], "invalid_event", "{id}");
    }
    let held: Vec<String> = receiver.queues.quarantined().iter().map(|d| d.detail.clone()).collect();
    assert!(held[0].contains("twice") && held[1].contains("64 bits"), "{held:?}");
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn signature_entries_a_proxy_joined_with_a_bare_comma_verify() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let ts = NOW.to_string();
    let other = v1_entry(&SigningSecret::generate(), "msg_bare", &ts, BODY);
    let good = v1_entry(&secret(), "msg_bare", &ts, BODY);
    let headers = vec![
        ("webhook-id".to_owned(), "msg_bare".to_owned()),
        ("webhook-timestamp".to_owned(), ts.clone()),
        ("webhook-signature".to_owned(), format!("{other},{good}")),
    ];
    let response = handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", headers, BODY, false)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_body_gets_413_before_any_verification() {
    let receiver = receiver_with(&config(&[("MAX_BODY_BYTES", "1024")]), RecordingQueue::default()).await;
    let body = vec![b'x'; 1025];
    // Unsigned: a 413 (not a 401) shows the size check ran first.
    let response = handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", vec![], &body, false)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(&response)["error"], "body_too_large");
    let exactly = vec![b' '; 1024];
    let response =
        handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", vec![], &exactly, false)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "at the limit the body is read and checked");
}

#[tokio::test]
async fn malformed_webhook_headers_get_400() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let mut missing = v1_headers("msg_400", NOW, BODY);
    missing.retain(|(k, _)| k != "webhook-timestamp");
    let mut not_integer = v1_headers("msg_400", NOW, BODY);
    not_integer[2].1 = "yesterday".into();
    for (headers, code) in [(missing, "missing_header"), (not_integer, "invalid_header")] {
        let response =
            handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", headers, BODY, false)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_body(&response)["error"], code);
    }
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn forged_and_stale_deliveries_get_401_and_enqueue_nothing() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let forged = SignedHeaders::v1(&SigningSecret::generate(), "msg_forged", NOW, BODY);
    let stale = v1_headers("msg_stale", NOW - 301, BODY);
    let tampered = br#"{"type":"batch.succeeded","data":{"id":"batches/evil"}}"#;
    let cases = [
        (headers_of(&forged), BODY, "signature_mismatch"),
        (stale, BODY, "timestamp_too_old"),
        (v1_headers("msg_tampered", NOW, BODY), &tampered[..], "signature_mismatch"),
    ];
    for (headers, body, code) in cases {
        let response =
            handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", headers, body, false)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(json_body(&response)["error"], code);
    }
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn a_verified_body_that_is_not_an_event_is_quarantined_with_202() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    shared::metrics::capture();
    // Not one is a ping (`shared::ping`): JSON, but no event; bytes that are not text; text too long.
    let long_text = "not json ".repeat(200);
    let bodies =
        [&b"[1,2]"[..], br#"{"data":{}}"#, br#"{"type":7}"#, b"\xff\x00binary", long_text.as_bytes()];
    for (i, body) in bodies.into_iter().enumerate() {
        let id = format!("msg_shape_{i}");
        // Base64, as a Function URL passes a body that is not text.
        let request = request(PayloadFormat::FunctionUrl, "POST", v1_headers(&id, NOW, body), body, true);
        let response = handle(&receiver, request).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(body));
        assert_eq!(
            json_body(&response),
            json!({"status": "quarantined", "webhook_id": id, "reason": "invalid_event"})
        );
        let kept = receiver.queues.quarantined().pop().unwrap();
        assert_eq!((kept.provenance.webhook_id.as_str(), kept.body.as_slice()), (id.as_str(), body));
        assert_eq!(kept.reason, QuarantineReason::InvalidEvent);
        assert_eq!((kept.provenance.webhook_timestamp.unix(), kept.provenance.scheme), (NOW, Scheme::V1));
        let metrics = shared::metrics::take_captured();
        assert!(
            metrics.iter().any(|m| m["Quarantined"] == 1),
            "the metric behind the dashboard: {metrics:?}"
        );
    }
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn a_verified_ping_of_either_shape_is_answered_and_counted_and_goes_no_further() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    for (id, body) in [
        ("msg_ping_event", &br#"{"type":"webhook.ping","data":{"id":"webhooks/w1"}}"#[..]),
        ("msg_ping_text", b"Test delivery from the Gemini API"),
        ("msg_ping_empty", b""),
    ] {
        shared::metrics::capture();
        let response = handle(&receiver, signed_post(id, body)).await;
        assert_eq!(response.status(), StatusCode::OK, "{id}");
        assert_eq!(json_body(&response), json!({"status": "ping", "webhook_id": id}));
        let metrics = shared::metrics::take_captured();
        assert_eq!(metrics.len(), 1, "{metrics:?}");
        assert_eq!(metrics[0]["Pings"], 1, "counted as a ping, not quarantined: {metrics:?}");
    }
    assert!(receiver.queues.sent().is_empty(), "a ping is no job's event");
    assert!(receiver.queues.quarantined().is_empty(), "nor is it kept: the quarantine's alarm stays quiet");
}

#[tokio::test]
async fn a_dynamic_delivery_is_never_taken_for_a_ping() {
    // Only registered webhooks are pinged (`v1`): a job's delivery that is no event is kept.
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let response =
        handle(&receiver, dynamic_post(PayloadFormat::FunctionUrl, "msg_dyn_text", b"ping", Some(URL_TOKEN)))
            .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(receiver.queues.quarantined().len(), 1);
}

#[tokio::test]
async fn a_verified_event_over_the_size_budget_is_quarantined_with_202() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    // Under the 256 KiB body limit, but 205 KB of U+FFFF, which SQS takes only escaped (6 bytes each):
    // a table item over DynamoDB's 400 KB.
    let body =
        json!({"type": "batch.succeeded", "data": {"id": "batches/big", "note": "\u{FFFF}".repeat(68_500)}})
            .to_string();
    assert!(body.len() < 256 * 1024);

    let response = handle(&receiver, signed_post("msg_big", body.as_bytes())).await;

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(json_body(&response)["reason"], "over_budget");
    let kept = receiver.queues.quarantined();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, body.as_bytes());
    assert!(kept[0].to_sqs_body().unwrap().len() <= shared::limits::SQS_MAX_MESSAGE_BYTES);
    assert!(receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn a_delivery_that_must_be_quarantined_gets_503_while_the_quarantine_is_down() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    receiver.queues.quarantine_down.store(true, Ordering::SeqCst);
    let response = handle(&receiver, signed_post("msg_nowhere", b"[1,2]")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(receiver.queues.quarantined().is_empty() && receiver.queues.sent().is_empty());
}

#[tokio::test]
async fn a_forged_body_that_is_not_an_event_is_refused_not_quarantined() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let forged = SignedHeaders::v1(&SigningSecret::generate(), "msg_forged_junk", NOW, b"junk");
    let response =
        handle(&receiver, request(PayloadFormat::FunctionUrl, "POST", headers_of(&forged), b"junk", false))
            .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(receiver.queues.quarantined().is_empty());
}

#[tokio::test]
async fn unknown_event_types_are_accepted() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let body = br#"{"type":"webhook.ping","data":{}}"#;
    assert_eq!(handle(&receiver, signed_post("msg_ping", body)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_queue_that_is_down_gets_503_with_retry_after() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    receiver.queues.down.store(true, Ordering::SeqCst);
    let response = handle(&receiver, signed_post("msg_down", BODY)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(json_body(&response)["error"], "enqueue_failed");
}

#[tokio::test]
async fn no_obtainable_signing_keys_gets_503_not_401() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let config = config(&[("JWKS_URL", &url), ("JWKS_JSON", "")]);
    let receiver = receiver_with(&config, RecordingQueue::default()).await;
    let response =
        handle(&receiver, dynamic_post(PayloadFormat::FunctionUrl, "msg_nokeys", BODY, Some(URL_TOKEN)))
            .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(json_body(&response)["error"], "signing_keys_unavailable");
    assert!(receiver.queues.sent().is_empty());
}

/// A forged `v1` delivery: a well-formed entry under a secret the endpoint does not hold.
fn forged(id: &str) -> lambda_http::Request {
    let signed = SignedHeaders::v1(&SigningSecret::generate(), id, NOW, BODY);
    request(PayloadFormat::FunctionUrl, "POST", headers_of(&signed), BODY, false)
}

#[tokio::test]
async fn every_refusal_is_counted_by_reason_and_by_the_class_alarms_watch() {
    let receiver = receiver_with(&config(&[]), RecordingQueue::default()).await;
    let stale =
        request(PayloadFormat::FunctionUrl, "POST", v1_headers("msg_stale", NOW - 600, BODY), BODY, false);
    let unsigned = request(PayloadFormat::FunctionUrl, "POST", Vec::new(), BODY, false);
    let cases = [
        (forged("msg_forged"), "signature_mismatch", "signature"),
        (stale, "timestamp_too_old", "stale"),
        (unsigned, "missing_header", "unsigned"),
        (
            dynamic_post(PayloadFormat::FunctionUrl, "msg_theirs", BODY, None),
            "dynamic_token_mismatch",
            "stranger",
        ),
    ];
    for (request, reason, class) in cases {
        shared::metrics::capture();
        handle(&receiver, request).await;
        let metrics = shared::metrics::take_captured();
        assert_eq!(metrics.len(), 1, "{reason}: {metrics:?}");
        assert_eq!(
            (metrics[0]["reason"].as_str(), metrics[0]["class"].as_str()),
            (Some(reason), Some(class))
        );
        assert_eq!(
            metrics[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "reason"], ["Function", "class"]])
        );
    }
}
