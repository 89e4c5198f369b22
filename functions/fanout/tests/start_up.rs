//! The built fanout, started with a bad setting, stops with one line naming the variable.
//! Started well, it asks for as many invocations at once as Lambda Managed Instances allow.

use std::time::Duration;

use testkit::{Running, RuntimeApi, start_up};

const BIN: &str = env!("CARGO_BIN_EXE_fanout");
const DEFAULT: (&str, &str) =
    ("DEFAULT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/default");
const DLQ: (&str, &str) = ("FANOUT_DLQ_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/fanout-dlq");

#[test]
fn each_bad_setting_is_named() {
    start_up(BIN, &[DLQ]).refused("DEFAULT_QUEUE_URL");
    let started = start_up(BIN, &[("DEFAULT_QUEUE_URL", "default"), DLQ]);
    assert!(started.refused("DEFAULT_QUEUE_URL").contains("not a queue URL"), "{}", started.stderr);
    start_up(BIN, &[DEFAULT]).refused("FANOUT_DLQ_URL");
    let routes = ("ROUTES", r#"[{"match": "batch.*", "queues": ["batch"]}]"#);
    let started = start_up(BIN, &[DEFAULT, DLQ, routes]);
    assert!(started.refused("ROUTES").contains("rule #1"), "{}", started.stderr);
}

#[tokio::test]
async fn on_managed_instances_it_asks_for_as_many_invocations_as_lambda_allows() {
    let mut api = RuntimeApi::start("fanout", Duration::from_secs(30)).await.unwrap();
    let _fanout = Running::under(&api, BIN, &[DEFAULT, DLQ], Some("4"));

    for poll in 1..=4 {
        assert!(api.poll_within(Duration::from_secs(10)).await.is_some(), "poll {poll} of 4");
    }
}
