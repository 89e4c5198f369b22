//! The built receiver, started with a bad setting, stops with one line naming the variable and what to
//! do (never the value: it may be a secret).

use testkit::start_up;

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
