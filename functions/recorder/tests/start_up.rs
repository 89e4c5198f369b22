//! The built recorder, started with a bad setting, stops with one line naming the variable.

use testkit::start_up;

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
