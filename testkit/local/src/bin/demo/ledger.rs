//! The jobs ledger, hop by hop: a tracked batch whose webhook never comes is checked at its deadline,
//! read from the local Gemini and reconciled into the pipeline, its results stored by the consumer; then
//! Gemini's webhook arrives, late, and is recorded without reaching any queue. The reconciler runs on a
//! clock the demo moves, so the deadline passes at once; the emulator keeps schedules but fires none, so
//! the demo runs the due checks as EventBridge Scheduler would.

use std::sync::Arc;
use std::time::Duration;

use consumer::Outcome;
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::{Endpoint, Pipeline};
use serde_json::{Map, json};
use shared::aws::jobs_ledger::JobsLedger;
use shared::aws::schedules::Schedules;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::fixtures::lambda_events::sqs_record;
use shared::gemini::{GeminiClient, WebhookConfig};
use shared::ledger::{self, Deadlines, EntryState, JobEntry, JobName, Via};
use testkit::Emulator;

type Error = Box<dyn std::error::Error>;

/// The demo batch's deadline: ten minutes, passed at once on the reconciler's clock.
const DEADLINE: Duration = Duration::from_secs(10 * 60);

/// Runs the ledger's story; returns whether every expectation held.
pub(crate) async fn run(
    emulator: &Emulator,
    pipeline: &Pipeline,
    endpoint: &Endpoint,
    gemini: &Simulator,
    client: &GeminiClient,
) -> Result<bool, Error> {
    println!(
        "the jobs ledger: a batch whose webhook never came, reconciled; its late webhook doubles nothing"
    );
    let clock = Arc::new(ManualClock::at(SystemClock.unix_now()));
    let reconciler =
        pipeline.reconciler(emulator, gemini.base_url(), gemini.api_key(), clock.clone()).await?;
    let ledger = JobsLedger::new(emulator.dynamodb().await, &pipeline.stack.jobs_table);

    let input =
        r#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "What is a reconciliation?"}]}]}}"#;
    let file = client.upload_file(input.as_bytes().to_vec(), "nightly.jsonl", "application/jsonl").await?;
    let mut metadata = Map::new();
    metadata.insert("team".into(), json!("demo"));
    ledger::mark(&mut metadata);
    let webhook = WebhookConfig { uris: vec![endpoint.dynamic.clone()], user_metadata: metadata };
    let batch = client.create_batch("gemini-2.5-flash", &file.name, "nightly", &webhook).await?;
    let deadlines = Deadlines { first_check: DEADLINE, give_up: DEADLINE * 6 };
    let entry = JobEntry::new(
        &JobName::parse(&batch.name)?,
        webhook.user_metadata.clone(),
        deadlines,
        clock.unix_now_ms(),
    );
    let role = format!("arn:aws:iam::123456789012:role/{}-scheduler", pipeline.stack.prefix);
    let schedules = Schedules::new(
        emulator.scheduler().await,
        &pipeline.stack.schedule_group,
        pipeline.reconciler_arn(),
        role,
    );
    shared::reconcile::track(&ledger, &schedules, &entry).await?;
    println!("  started and tracked {} (checked 10 min on, if its end has not come)", batch.name);

    gemini.withhold_end(&batch.name);
    gemini.finish(&batch.name, JobOutcome::Succeed);
    println!("  Gemini finished it, and its webhook never came");

    clock.advance(DEADLINE.as_secs() as i64);
    let answers = pipeline.run_due_checks(emulator, &reconciler, clock.unix_now_ms()).await?;
    let outcomes: Vec<&str> = answers.iter().map(|a| a.outcome).collect();
    println!("  10 min later its check ran: {}", outcomes.join(", "));
    pipeline.drain().await?;
    let sqs = emulator.sqs().await;
    let yours = testkit::drain_queue(&sqs, &pipeline.stack.routed("batch").url).await?;
    let consumer_queue = &pipeline.stack.consumer.url;
    let routed = testkit::drain_queue(&sqs, consumer_queue).await?;
    let consumer = pipeline.consumer(emulator, gemini.base_url(), gemini.api_key()).await?;
    let mut stored = Vec::new();
    for message in &routed {
        if let Outcome::Stored(keys) =
            consumer::process(&consumer, &sqs_record(message, consumer_queue)).await
        {
            stored.extend(keys);
        }
    }
    let end = ledger.get(&batch.name).await?.and_then(|e| e.end.filter(|_| e.state == EntryState::Ended));
    if let Some(end) = &end {
        println!(
            "  reconciled as {} ({}): routed to batch ({} there for your Lambda); the consumer stored {}",
            end.webhook_id,
            end.event_type,
            yours.len(),
            stored.first().map_or("nothing", String::as_str)
        );
    }

    let late = gemini.deliver_withheld(&batch.name);
    if let Some(id) = late.first() {
        gemini.answered(id, Duration::from_secs(5)).await;
    }
    let drained = pipeline.drain().await?;
    let again = testkit::drain_queue(&sqs, &pipeline.stack.routed("batch").url).await?.len()
        + testkit::drain_queue(&sqs, consumer_queue).await?.len();
    println!(
        "  then Gemini's webhook came, late: {} recorded (superseded), {} routed anywhere",
        drained.inserts, again
    );
    let held = outcomes == ["reconciled"]
        && end.as_ref().is_some_and(|e| e.via == Via::Reconciliation)
        && yours.len() == 1
        && stored.len() == 1
        && late.len() == 1
        && drained.inserts == 1
        && again == 0;
    println!(
        "  {}",
        if held {
            "the ledger held: the job's end reached you once, and its webhook doubled nothing"
        } else {
            "THE LEDGER DID NOT HOLD"
        }
    );
    println!();
    Ok(held)
}
