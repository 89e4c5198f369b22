//! The built receiver, started with a bad setting, stops with one line naming the variable and what to
//! do (never the value: it may be a secret); started well, under a local Lambda Runtime API, it serves
//! one invocation at a time, or as many at once as Lambda Managed Instances allow.

use std::time::Duration;

use testkit::{HttpRequest, Invocation, Outcome, PayloadFormat, Running, RuntimeApi, http_event, start_up};

const BIN: &str = env!("CARGO_BIN_EXE_receiver");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A configuration that passes, with `changes` applied (an empty value removes the variable).
fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("INGEST_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/ingest"),
        ("QUARANTINE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/quarantine"),
        ("WEBHOOK_SECRETS", SECRET),
        ("WEBHOOK_URL_TOKEN", "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE"),
    ];
    for (name, value) in changes {
        vars.retain(|(n, _)| n != name);
        if !value.is_empty() {
            vars.push((name, value));
        }
    }
    vars
}

#[test]
fn a_secret_that_is_not_one_is_named_with_its_variable_and_never_echoed() {
    let started = start_up(BIN, &with(&[("WEBHOOK_SECRETS", "whsec_notasecret!")]));
    let message = started.refused("WEBHOOK_SECRETS");
    assert!(!message.contains("notasecret"), "{message}");
}

#[test]
fn comma_separated_secrets_get_the_hint_to_use_spaces() {
    let started = start_up(
        BIN,
        &with(&[(
            "WEBHOOK_SECRETS",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        )]),
    );
    assert!(started.refused("WEBHOOK_SECRETS").contains("spaces"), "{}", started.stderr);
}

#[test]
fn a_plain_http_key_url_is_named() {
    start_up(BIN, &with(&[("JWKS_URL", "http://keys.example.com/jwks.json")])).refused("JWKS_URL");
}

#[test]
fn inline_keys_that_are_not_a_jwks_are_named() {
    start_up(BIN, &with(&[("JWKS_JSON", r#"{"not": "a key set"}"#)])).refused("JWKS_JSON");
}

#[test]
fn accepting_only_v1_without_a_secret_names_what_v1_needs() {
    let started = start_up(BIN, &with(&[("ACCEPTED_SCHEMES", "v1"), ("WEBHOOK_SECRETS", "")]));
    assert!(started.refused("ACCEPTED_SCHEMES").contains("WEBHOOK_SECRETS"), "{}", started.stderr);
}

#[test]
fn a_missing_or_misnamed_queue_is_named() {
    start_up(BIN, &with(&[("INGEST_QUEUE_URL", "")])).refused("INGEST_QUEUE_URL");
    let started = start_up(BIN, &with(&[("QUARANTINE_QUEUE_URL", "quarantine")]));
    assert!(started.refused("QUARANTINE_QUEUE_URL").contains("not a queue URL"), "{}", started.stderr);
}

#[test]
fn an_unknown_scheme_and_a_bad_number_are_named() {
    start_up(BIN, &with(&[("ACCEPTED_SCHEMES", "v1,v2")])).refused("ACCEPTED_SCHEMES");
    start_up(BIN, &with(&[("MAX_BODY_BYTES", "lots")])).refused("MAX_BODY_BYTES");
}

/// Polls come within milliseconds of a start: waiting longer only bounds a failure.
const START: Duration = Duration::from_secs(10);

#[tokio::test]
async fn on_managed_instances_it_asks_for_as_many_invocations_as_lambda_allows() {
    let mut api = RuntimeApi::start("receiver", Duration::from_secs(30)).await.unwrap();
    let _receiver = Running::under(&api, BIN, &with(&[]), Some("4"));

    // Four pollers at once, before any invocation is handed out.
    for poll in 1..=4 {
        assert!(api.poll_within(START).await.is_some(), "poll {poll} of 4");
    }
}

#[tokio::test]
async fn on_classic_lambda_it_asks_for_the_next_invocation_only_once_it_answered_the_last() {
    let mut api = RuntimeApi::start("receiver", Duration::from_secs(30)).await.unwrap();
    let _receiver = Running::under(&api, BIN, &with(&[]), None);
    assert!(api.poll_within(START).await.is_some());
    let request =
        HttpRequest { method: "GET", headers: Vec::new(), body: b"", base64: false, query: Vec::new() };
    let payload = http_event(PayloadFormat::FunctionUrl, &request).to_string().into_bytes();
    api.invoke(Invocation { request_id: "r-1".into(), payload });

    let (answered_at, outcome) = api.next_outcome_at().await.unwrap();
    let second_poll = api.poll_within(START).await.unwrap();

    let Outcome::Response { request_id, body } = outcome else { panic!("{outcome:?}") };
    assert_eq!(request_id, "r-1");
    assert!(String::from_utf8_lossy(&body).contains("405"), "a GET is refused: {body:?}");
    assert!(second_poll > answered_at, "the second poll came before the first answer");
}
