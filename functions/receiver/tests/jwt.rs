//! The documented JWT form, end to end at the receiver against DynamoDB in the emulator: a token signs
//! no body, so each verified token is held to the first delivery it came with. Gemini's retries of that
//! delivery get through; the same token with another body or `webhook-id` (a captured token replayed)
//! is refused, and so is a genuine token without the endpoint's URL token.

mod support;

use lambda_http::http::StatusCode;
use receiver::{JwtTokens, SqsDeliveryQueues, handle};
use serde_json::json;
use shared::keys::jwks_document;
use shared::signature::sign::{RsaJwtSigner, SignedHeaders};
use support::*;
use testkit::{Emulator, HttpRequest, PayloadFormat, Stack};

const AUDIENCE: &str = "https://abc.lambda-url.us-east-1.on.aws/";

#[tokio::test]
async fn a_token_is_good_for_its_first_delivery_and_that_deliverys_retries_alone() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let rsa = RsaJwtSigner::generate("rsa-1").unwrap();
    let jwks = jwks_document([ED25519.public_jwk(None), rsa.public_jwk()]).to_string();
    let config = config(&[
        ("JWKS_JSON", &jwks),
        ("ACCEPTED_SCHEMES", "v1,v1a,jwt"),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWT_TOKENS_TABLE", &stack.jwt_tokens_table),
    ]);
    let queues = SqsDeliveryQueues::new(emulator.sqs().await, &stack.ingest.url, &stack.quarantine.url);
    let tokens = JwtTokens::new(emulator.dynamodb().await, &stack.jwt_tokens_table);
    let receiver = receiver_with(&config, queues).await.with_jwt_tokens(tokens);
    let token = rsa.token(&json!({"aud": AUDIENCE, "iat": NOW, "exp": NOW + 300}));
    let post = |id: &str, body: &[u8], url_token: Option<&str>| {
        let signed = SignedHeaders::new(id, NOW, std::slice::from_ref(&token));
        let mut request = HttpRequest::signed(&signed, body);
        if let Some(url_token) = url_token {
            request = request.with_url_token(url_token);
        }
        lambda_request(PayloadFormat::FunctionUrl, &request)
    };

    // Without the endpoint's URL token, or with a wrong one: someone else's job.
    assert_eq!(handle(&receiver, post("msg_jwt", BODY, None)).await.status(), StatusCode::UNAUTHORIZED);
    let wrong = Some("tok_0123456789abcdefghijklmX");
    assert_eq!(handle(&receiver, post("msg_jwt", BODY, wrong)).await.status(), StatusCode::UNAUTHORIZED);

    // The first delivery, and Gemini's retry of it (same id, same body): accepted.
    assert_eq!(handle(&receiver, post("msg_jwt", BODY, Some(URL_TOKEN))).await.status(), StatusCode::OK);
    assert_eq!(handle(&receiver, post("msg_jwt", BODY, Some(URL_TOKEN))).await.status(), StatusCode::OK);

    // The captured token with another body, or another id: refused.
    let forged_body = br#"{"type":"batch.succeeded","data":{"id":"batches/theirs"}}"#;
    for (id, body) in [("msg_jwt", &forged_body[..]), ("msg_other", BODY)] {
        let response = handle(&receiver, post(id, body, Some(URL_TOKEN))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{id}");
        assert_eq!(json_body(&response)["error"], "jwt_replayed");
    }
    let enqueued = testkit::drain_queue(&emulator.sqs().await, &stack.ingest.url).await.unwrap();
    assert_eq!(enqueued.len(), 2, "the delivery and its retry; the recorder keeps one");
    for message in &enqueued {
        let message = shared::message::IngestMessage::from_sqs_body(message.body().unwrap()).unwrap();
        assert_eq!(message.provenance.scheme.as_str(), "jwt", "downstream can tell a JWT from a signed body");
    }
}

#[tokio::test]
async fn a_verified_token_with_its_ledger_down_is_a_503_never_a_200() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let rsa = RsaJwtSigner::generate("rsa-1").unwrap();
    let jwks = jwks_document([rsa.public_jwk()]).to_string();
    let config = config(&[
        ("JWKS_JSON", &jwks),
        ("ACCEPTED_SCHEMES", "jwt"),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWT_TOKENS_TABLE", "no-such-table"),
    ]);
    let queues = SqsDeliveryQueues::new(emulator.sqs().await, &stack.ingest.url, &stack.quarantine.url);
    let tokens = JwtTokens::new(emulator.dynamodb().await, "no-such-table");
    let receiver = receiver_with(&config, queues).await.with_jwt_tokens(tokens);
    let token = rsa.token(&json!({"aud": AUDIENCE, "iat": NOW, "exp": NOW + 300}));
    let signed = SignedHeaders::new("msg_jwt_down", NOW, &[token]);
    let request = HttpRequest::signed(&signed, BODY).with_url_token(URL_TOKEN);

    let response = handle(&receiver, lambda_request(PayloadFormat::FunctionUrl, &request)).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "Gemini retries");
    assert!(testkit::drain_queue(&emulator.sqs().await, &stack.ingest.url).await.unwrap().is_empty());
}
