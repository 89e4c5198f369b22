//! The sample events in `events/` parse as the events Lambda delivers, and the receiver's verify.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use shared::aws::schedules::CheckRequest;
use shared::clock::ManualClock;
use shared::config::FromVars;
use shared::fixtures::sample_events::{DEMO_SECRET, DEMO_URL_TOKEN, LocalStack, sample_events};
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
            "reconciler-check",
            "starter-sqs",
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
                assert_eq!(record.provenance.webhook_id.as_str(), "msg_sample_0001");
            }
            "consumer-sqs" => {
                let sqs: SqsEvent = serde_json::from_value(event.clone()).unwrap();
                DownstreamMessage::from_sqs_body(sqs.records[0].body.as_deref().unwrap()).unwrap();
            }
            "reconciler-check" => {
                let check: CheckRequest = serde_json::from_value(event.clone()).unwrap();
                assert!(shared::ledger::key(&check.job).is_some(), "a job name");
            }
            "starter-sqs" => {
                let sqs: SqsEvent = serde_json::from_value(event.clone()).unwrap();
                let unusable =
                    shared::workflow::request::parse(sqs.records[0].body.as_deref().unwrap()).unwrap_err();
                assert_eq!(unusable.token, None, "a request naming no task: kept, with nothing to call");
            }
            other => panic!("unexpected sample event {other}"),
        }
    }
}

#[test]
fn the_env_vars_for_sam_local_name_what_each_function_reads_and_hold_no_secret() {
    let env = LocalStack::default_local().env_vars();
    for (function, read) in [
        ("ReceiverFunction", receiver::Config::variables()),
        ("RecorderFunction", recorder::Config::variables()),
        ("FanoutFunction", fanout::Config::variables()),
        ("ConsumerFunction", consumer::Config::variables()),
        ("ReconcilerFunction", reconciler::Config::variables()),
        ("StarterFunction", starter::Config::variables()),
    ] {
        let vars = env[function].as_object().unwrap();
        for name in vars.keys() {
            assert!(read.iter().any(|v| v.name == name), "{function}: {name} is not read");
        }
        for variable in read.iter().filter(|v| v.required) {
            assert!(vars.contains_key(variable.name), "{function} lacks {}", variable.name);
        }
        assert!(vars["AWS_ENDPOINT_URL"].as_str().unwrap().starts_with("http://host.docker.internal:"));
    }
    let text = env.to_string();
    assert!(!text.contains("whsec_") && !text.contains(DEMO_URL_TOKEN), "env.json holds no secret");
    fanout::Config::from_lookup(|name| env["FanoutFunction"][name].as_str().map(str::to_owned))
        .expect("the local routes parse as the fanout parses them");
}

#[test]
fn the_committed_events_are_the_generated_ones_signed_with_the_demo_secret() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"));
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("env.json")).unwrap()).unwrap();
    assert_eq!(
        env,
        LocalStack::default_local().env_vars(),
        "events/env.json: run `gemini-webhooks fixtures`"
    );
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("receiver-function-url.json")).unwrap())
            .unwrap();
    let request = lambda_http::request::from_str(&committed.to_string()).unwrap();
    let timestamp: i64 = request.headers()["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    let verifier = Verifier::builder()
        .secret(SigningSecret::parse(DEMO_SECRET).unwrap())
        .clock(Arc::new(ManualClock::at(timestamp)))
        .build()
        .unwrap();
    assert!(verifier.verify_with_keys(request.headers(), request.body().as_ref(), None, None).is_ok());
}
