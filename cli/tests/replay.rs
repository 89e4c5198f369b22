//! The events table as a log, against the emulator: 2,000 events recorded over a simulated day, read
//! back for a window across pages and parallel segments, listed by the built CLI, and replayed through
//! the routing, each exactly once and marked as a replay.

mod support;

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::{Value, json};
use shared::EventKind;
use shared::clock::{Clock, SystemClock};
use shared::event::Event;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use shared::signature::{Scheme, Verified};
use shared::{WebhookId, WebhookTimestamp};
use testkit::{Emulator, Stack};

const EVENTS: i64 = 2_000;
const DAY_MS: i64 = 86_400_000;

/// Writes `EVENTS` records over the day before now, one every 43.2 s, types cycling through the
/// catalogue; returns them oldest first.
async fn record_a_day(emulator: &Emulator, stack: &Stack) -> Vec<EventRecord> {
    let now = SystemClock.unix_now_ms();
    let dynamodb = emulator.dynamodb().await;
    let mut records = Vec::new();
    for i in 0..EVENTS {
        let received_at = now - DAY_MS + i * (DAY_MS / EVENTS);
        let (event_type, _) = EventKind::CATALOG[usize::try_from(i).unwrap() % EventKind::CATALOG.len()];
        let body =
            json!({"type": event_type, "data": {"id": format!("jobs/{}", i % 7)}, "user_metadata": {"i": i}});
        let verified = Verified {
            webhook_id: WebhookId::parse(&format!("msg_day_{i:04}")).unwrap(),
            timestamp: WebhookTimestamp::from_unix(received_at / 1000),
            scheme: Scheme::V1,
            jwt: None,
        };
        let bytes = body.to_string().into_bytes();
        let ingest = IngestMessage::new(verified, &bytes, Event::parse(&bytes).unwrap(), received_at);
        records.push(EventRecord::new(ingest, received_at + 20, 604_800));
    }
    for chunk in records.chunks(25) {
        let writes = chunk
            .iter()
            .map(|r| {
                let put =
                    PutRequest::builder().set_item(Some(serde_dynamo::to_item(r).unwrap())).build().unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        dynamodb.batch_write_item().request_items(&stack.table, writes).send().await.unwrap();
    }
    records
}

async fn cli_async(emulator: &'static Emulator, args: Vec<String>) -> (Option<i32>, String, String) {
    let mut command = support::cli();
    command.args(args).args(["--endpoint", emulator.endpoint()]);
    support::run_async(command).await.parts()
}

fn iso(unix_ms: i64) -> String {
    gemini_webhooks::ui::time::rfc3339(unix_ms)
}

fn template_routes(stack: &Stack) -> String {
    json!([
        {"match": "batch.*", "queues": [stack.routed("batch").url]},
        {"match": "interaction.*", "queues": [stack.routed("interaction").url]},
        {"match": "video.*", "queues": [stack.routed("video").url]},
    ])
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_is_read_exactly_across_pages_and_segments() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let records = record_a_day(emulator, &stack).await;
    // A window that starts and ends between events: the 6th hour to the 18th.
    let since = records[250].provenance.received_at - 1;
    let until = records[1500].provenance.received_at;
    let expected: Vec<String> =
        records[250..1500].iter().map(|r| r.provenance.webhook_id.to_string()).collect();

    let log = gemini_webhooks::ops::event_log::EventLog::new(emulator.dynamodb().await, &stack.table)
        .with_page_size(37);
    let filter = gemini_webhooks::ops::event_log::Filter {
        window: gemini_webhooks::ops::window::Window { since_ms: since, until_ms: until },
        event_type: None,
        job: None,
        webhook_ids: Vec::new(),
    };
    let found = log.find(&filter).await.unwrap();
    let ids: Vec<String> = found.events.iter().map(|r| r.provenance.webhook_id.to_string()).collect();
    assert_eq!(ids, expected, "exactly the window, oldest first, each once");
    assert_eq!(found.scanned, 2_000, "every page of every segment read");

    // The CLI: newest first, as JSON lines.
    let args = [
        "events",
        "list",
        "--since",
        &iso(since),
        "--until",
        &iso(until),
        "--limit",
        "5000",
        "--json",
        "--table",
        &stack.table,
    ];
    let (code, stdout, stderr) = cli_async(emulator, args.map(String::from).to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["webhook_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, expected.iter().rev().cloned().collect::<Vec<_>>());

    // A type glob and a job.
    let args = [
        "events",
        "list",
        "--type",
        "*.failed",
        "--job",
        "jobs/3",
        "--json",
        "--limit",
        "5000",
        "--table",
        &stack.table,
    ];
    let (_, stdout, _) = cli_async(emulator, args.map(String::from).to_vec()).await;
    let wanted = records
        .iter()
        .filter(|r| r.event_type.ends_with(".failed") && r.data_id.as_deref() == Some("jobs/3"));
    assert_eq!(stdout.lines().count(), wanted.count());
    assert!(stdout.lines().count() > 0);

    let (code, stdout, _) = cli_async(
        emulator,
        vec!["events".into(), "show".into(), "msg_day_0042".into(), "--table".into(), stack.table.clone()],
    )
    .await;
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["event"]["user_metadata"]["i"], 42, "the stored event, whole: {shown}");
    let (code, _, stderr) = cli_async(
        emulator,
        vec!["events".into(), "show".into(), "msg_none".into(), "--table".into(), stack.table.clone()],
    )
    .await;
    assert_eq!(code, Some(1));
    assert!(stderr.lines().next().unwrap().contains("msg_none"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_sends_the_window_once_through_the_routing_marked_as_replays() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let records = record_a_day(emulator, &stack).await;
    let since = iso(records[1000].provenance.received_at);
    let routes = template_routes(&stack);
    let default = stack.routed("default").url.clone();
    let args = |extra: &[&str]| {
        let mut args: Vec<String> =
            ["replay", "--since", &since, "--type", "batch.*", "--routes", "--table", &stack.table]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.extend(["--routes-json".into(), routes.clone(), "--default-queue".into(), default.clone()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let expected: BTreeSet<String> = records[1000..]
        .iter()
        .filter(|r| r.event_type.starts_with("batch."))
        .map(|r| r.provenance.webhook_id.to_string())
        .collect();

    // An item in the window that is not an event (written by hand, say): named, skipped and counted.
    emulator
        .dynamodb()
        .await
        .put_item()
        .table_name(&stack.table)
        .item("webhook_id", AttributeValue::S("msg_not_an_event".into()))
        .item("received_at", AttributeValue::N(records[1500].provenance.received_at.to_string()))
        .send()
        .await
        .unwrap();

    let (code, stdout, stderr) = cli_async(emulator, args(&["--dry-run", "--json"])).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), expected.len(), "--dry-run lists what would go");
    let sqs = emulator.sqs().await;
    for queue in stack.routed.values() {
        assert!(testkit::drain_queue(&sqs, &queue.url).await.unwrap().is_empty(), "--dry-run sends nothing");
    }

    let (code, stdout, stderr) = cli_async(emulator, args(&["--json"])).await;
    assert_eq!(code, Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!((&summary["events"], &summary["skipped"]), (&json!(expected.len()), &json!(1)), "{summary}");
    assert!(stderr.contains("msg_not_an_event"), "the skipped item is named: {stderr}");

    let mut received = BTreeSet::new();
    for message in testkit::drain_queue(&sqs, &stack.routed("batch").url).await.unwrap() {
        let attributes = message.message_attributes().unwrap();
        assert!(attributes.contains_key("replayed_at"), "marked as a replay in its attributes");
        let downstream = DownstreamMessage::from_sqs_body(message.body().unwrap()).unwrap();
        assert!(downstream.is_replay(), "and in the message");
        assert!(received.insert(downstream.webhook_id().to_string()), "each once");
    }
    assert_eq!(received, expected);
    for name in ["interaction", "video", "default"] {
        assert!(testkit::drain_queue(&sqs, &stack.routed(name).url).await.unwrap().is_empty(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_windows_and_unknown_queues_are_one_line_and_a_non_zero_exit() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let missing = format!("{}/123456789012/no-such-queue", emulator.endpoint());
    record_a_day(emulator, &stack).await;
    for (args, code, named) in [
        (vec!["replay", "--since", "yesterday-ish", "--to", &missing], 2, "--since"),
        (vec!["replay", "--since", "1h", "--until", "2h", "--to", &missing], 2, "empty"),
        (vec!["replay", "--since", "2h", "--to", &missing], 1, "no-such-queue"),
        (
            vec!["replay", "--since", "2h", "--type", "model.*", "--to", &missing],
            1,
            "no recorded event matches",
        ),
        (vec!["events", "list", "--until", "soon"], 2, "--until"),
    ] {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--table".into(), stack.table.clone()]);
        let (got, _, stderr) = cli_async(emulator, all).await;
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error:") && first.contains(named), "{args:?}: {stderr}");
        assert!(!stderr.contains('{'), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chosen_events_are_replayed_by_id_and_a_replay_gone_on_with_keeps_its_identity() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let records = record_a_day(emulator, &stack).await;
    let chosen: Vec<String> =
        [3, 700, 1999].iter().map(|i| records[*i].provenance.webhook_id.to_string()).collect();
    let queue = stack.routed("default").url.clone();
    let replay = |extra: &[&str]| {
        let mut args: Vec<String> =
            ["replay", "--to", queue.as_str(), "--table", stack.table.as_str(), "--json"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.extend(["--webhook-id".into(), chosen.join(",")]);
        args.extend(extra.iter().map(|s| s.to_string()));
        cli_async(emulator, args)
    };
    let sqs = emulator.sqs().await;
    let keys = |messages: Vec<aws_sdk_sqs::types::Message>| -> BTreeSet<String> {
        messages
            .iter()
            .map(|m| {
                DownstreamMessage::from_sqs_body(m.body().unwrap()).unwrap().idempotency_key().to_string()
            })
            .collect()
    };

    // No --since: the events are read by key, no Scan.
    let (code, stdout, stderr) = replay(&[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["events"], 3);
    let first = keys(testkit::drain_queue(&sqs, &queue).await.unwrap());
    let ids: BTreeSet<String> = first.iter().map(|k| k.split('#').next().unwrap().to_owned()).collect();
    assert_eq!(ids, chosen.iter().cloned().collect(), "exactly the chosen events");

    // Going on with that replay (its stamp) sends the same idempotency keys: consumers drop them.
    let stamp = summary["replayed_at"].as_i64().unwrap().to_string();
    let (code, _, stderr) = replay(&["--replayed-at", &stamp]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(keys(testkit::drain_queue(&sqs, &queue).await.unwrap()), first, "the same replay");

    // Run again without it: a new replay, which idempotent consumers act on once more.
    let (code, _, stderr) = replay(&[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(keys(testkit::drain_queue(&sqs, &queue).await.unwrap()).is_disjoint(&first), "a new replay");
}
