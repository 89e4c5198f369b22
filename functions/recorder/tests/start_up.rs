//! The built recorder, started with a bad setting, stops with one line naming the variable.
//! Started well, it asks for as many invocations at once as Lambda Managed Instances allow.

use std::time::Duration;

use testkit::{Running, RuntimeApi, start_up};

const BIN: &str = env!("CARGO_BIN_EXE_recorder");
const DLQ: (&str, &str) = ("INGEST_DLQ_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/ingest-dlq");

#[test]
fn each_bad_setting_is_named() {
    start_up(BIN, &[DLQ]).refused("EVENTS_TABLE");
    start_up(BIN, &[("EVENTS_TABLE", "events")]).refused("INGEST_DLQ_URL");
    start_up(BIN, &[("EVENTS_TABLE", "events"), ("INGEST_DLQ_URL", "ingest-dlq")]).refused("INGEST_DLQ_URL");
    start_up(BIN, &[("EVENTS_TABLE", "events"), DLQ, ("RECORD_TTL_SECS", "a week")])
        .refused("RECORD_TTL_SECS");
}

#[tokio::test]
async fn on_managed_instances_it_asks_for_as_many_invocations_as_lambda_allows() {
    let mut api = RuntimeApi::start("recorder", Duration::from_secs(30)).await.unwrap();
    let _recorder = Running::under(&api, BIN, &[("EVENTS_TABLE", "events"), DLQ], Some("4"));

    for poll in 1..=4 {
        assert!(api.poll_within(Duration::from_secs(10)).await.is_some(), "poll {poll} of 4");
    }
}
