//! The jobs ledger against the emulator and the local Gemini: a tracked job whose webhook never came
//! reaches its queue once through reconciliation, marked reconciled, and the example consumer stores
//! its results once; its late webhook is recorded and not routed; reconciling it again records nothing
//! new; an untracked job's events write nothing to the ledger; a job still running is checked again
//! later and given up on, alarmed, past its give-up time; an interaction that ends in a state no event
//! announces is delivered under its documented type.

use std::sync::Arc;
use std::time::Duration;

use consumer::{Outcome, process};
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::GeminiLoop;
use reconciler::ReconcilerFunction;
use serde_json::{Map, Value, json};
use shared::aws::jobs_ledger::JobsLedger;
use shared::aws::schedules::{Schedules, at_time};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::fixtures::lambda_events::sqs_record;
use shared::gemini::WebhookConfig;
use shared::ledger::{self, Deadlines, EntryState, INTERACTION_ENDED, JobEntry, JobName, Via};
use shared::message::{DownstreamMessage, EventRecord, attributes};
use shared::metrics;
use shared::reconcile::{self, Checked};
use shared::signature::Scheme;
use testkit::Emulator;

const KEY: &str = "ledger-test-key";

/// The loop ([`GeminiLoop`]), the reconciler on a clock the test moves, and the jobs table.
struct Ledgered {
    local: GeminiLoop,
    clock: Arc<ManualClock>,
    reconciler: ReconcilerFunction,
    ledger: JobsLedger,
}

impl std::ops::Deref for Ledgered {
    type Target = GeminiLoop;
    fn deref(&self) -> &GeminiLoop {
        &self.local
    }
}

impl Ledgered {
    async fn start(emulator: &'static Emulator) -> Self {
        let local = GeminiLoop::start(emulator, KEY).await.unwrap();
        let clock = Arc::new(ManualClock::at(SystemClock.unix_now()));
        let base = local.simulator.base_url().to_owned();
        let reconciler = local.pipeline.reconciler(emulator, &base, KEY, clock.clone()).await.unwrap();
        let ledger = JobsLedger::new(emulator.dynamodb().await, &local.pipeline.stack.jobs_table);
        Self { local, clock, reconciler, ledger }
    }

    /// A job's `webhook_config`: the receiver's dynamic URL, `team: ml`, marked as tracked when asked.
    fn webhook(&self, tracked: bool) -> WebhookConfig {
        let mut metadata = Map::new();
        metadata.insert("team".into(), json!("ml"));
        if tracked {
            ledger::mark(&mut metadata);
        }
        WebhookConfig { uris: vec![self.endpoint.dynamic.clone()], user_metadata: metadata }
    }

    async fn schedules(&self, emulator: &Emulator) -> Schedules {
        let role = format!("arn:aws:iam::123456789012:role/{}-scheduler", self.pipeline.stack.prefix);
        let group = &self.pipeline.stack.schedule_group;
        Schedules::new(emulator.scheduler().await, group, self.pipeline.reconciler_arn(), role)
    }

    /// Tracks `job` as `gemini-webhooks jobs ... --stack` does, now by the test's clock.
    async fn track(
        &self,
        emulator: &Emulator,
        job: &str,
        webhook: &WebhookConfig,
        deadlines: Deadlines,
    ) -> JobEntry {
        let name = JobName::parse(job).unwrap();
        let entry = JobEntry::new(&name, webhook.user_metadata.clone(), deadlines, self.clock.unix_now_ms());
        let schedules = self.schedules(emulator).await;
        reconcile::track(&self.ledger, &schedules, &entry).await.unwrap();
        entry
    }

    /// A batch over one request, started with `webhook`.
    async fn batch(&self, webhook: &WebhookConfig) -> String {
        let input = br#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "hello"}]}]}}"#;
        let file =
            self.gemini.upload_file(input.to_vec(), "requests.jsonl", "application/jsonl").await.unwrap();
        self.gemini.create_batch("gemini-2.5-flash", &file.name, "nightly", webhook).await.unwrap().name
    }

    /// Moves the test's clock `secs` on, and runs every check due by then.
    async fn checks_after(&self, emulator: &Emulator, secs: i64) -> Vec<&'static str> {
        self.clock.advance(secs);
        let answers =
            self.pipeline.run_due_checks(emulator, &self.reconciler, self.clock.unix_now_ms()).await.unwrap();
        answers.into_iter().map(|a| a.outcome).collect()
    }

    /// Everything the pipeline moves now; the messages that reached the routed queue `queue`.
    async fn routed(&self, emulator: &Emulator, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
        self.pipeline.drain().await.unwrap();
        testkit::drain_queue(&emulator.sqs().await, &self.pipeline.stack.routed(queue).url).await.unwrap()
    }

    /// The events table's item for `webhook_id`.
    async fn recorded(&self, emulator: &Emulator, webhook_id: &str) -> Option<EventRecord> {
        let item = emulator
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.pipeline.stack.table)
            .key(shared::message::table::KEY, aws_sdk_dynamodb::types::AttributeValue::S(webhook_id.into()))
            .send()
            .await
            .unwrap()
            .item?;
        Some(serde_dynamo::from_item(item).unwrap())
    }
}

/// Polls (up to 20 s) until the local Gemini has delivered `id` and had a 200 for it.
async fn delivered(simulator: &Simulator, id: &str) {
    let answered = simulator.answered(id, Duration::from_secs(20)).await;
    assert!(answered, "{id} was never answered 200: {:?}", simulator.attempts());
}

fn minutes(first_check: u64, give_up: u64) -> Deadlines {
    Deadlines {
        first_check: Duration::from_secs(first_check * 60),
        give_up: Duration::from_secs(give_up * 60),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tracked_batch_whose_webhook_was_lost_arrives_once_by_reconciliation_and_its_late_webhook_is_not_routed()
 {
    let emulator = Emulator::shared().unwrap();
    let local = Ledgered::start(emulator).await;
    let webhook = local.webhook(true);
    let batch = local.batch(&webhook).await;
    let entry = local.track(emulator, &batch, &webhook, minutes(10, 60)).await;

    // Gemini ends the batch and its webhook never comes.
    local.simulator.withhold_end(&batch);
    assert!(local.simulator.finish(&batch, JobOutcome::Succeed).is_empty());
    assert!(local.checks_after(emulator, 5 * 60).await.is_empty(), "nothing is checked before its deadline");
    assert_eq!(local.checks_after(emulator, 5 * 60 + 1).await, ["reconciled"]);

    let routed = local.routed(emulator, "batch").await;
    assert_eq!(routed.len(), 1, "its end reaches its queue once");
    let message = DownstreamMessage::from_sqs_body(routed[0].body().unwrap()).unwrap();
    assert_eq!(
        (message.event_type.as_str(), message.data_id.as_deref()),
        ("batch.succeeded", Some(batch.as_str()))
    );
    assert_eq!(message.provenance.scheme, Scheme::Reconciled);
    assert!(message.webhook_id().as_str().starts_with("rec_"));
    assert_eq!(message.user_metadata.as_ref().unwrap()["team"], "ml", "the job's own user_metadata");
    let attribute = routed[0].message_attributes().and_then(|a| a.get(attributes::RECONCILED));
    assert_eq!(attribute.and_then(|a| a.string_value()), Some("true"));
    let closed = local.ledger.get(&batch).await.unwrap().unwrap();
    assert_eq!(closed.state, EntryState::Ended);
    let end = closed.end.unwrap();
    assert_eq!((end.via, &end.webhook_id), (Via::Reconciliation, message.webhook_id()));
    assert!(end.lag_ms.is_some_and(|lag| lag >= 0), "the lag from the job's end: {end:?}");

    // The example consumer stores its results, once, however often SQS delivers it.
    let consumer = local.pipeline.consumer(emulator, local.simulator.base_url(), KEY).await.unwrap();
    let copies =
        testkit::drain_queue(&emulator.sqs().await, &local.pipeline.stack.consumer.url).await.unwrap();
    assert_eq!(copies.len(), 1);
    let record = sqs_record(&copies[0], &local.pipeline.stack.consumer.url);
    let results = shared::results::key(&batch, shared::results::BATCH_RESULTS);
    assert_eq!(process(&consumer, &record).await, Outcome::Stored(vec![results]));
    assert_eq!(process(&consumer, &record).await, Outcome::Duplicate);

    // Reconciling it again (a check that read the entry before the end was recorded) records nothing new.
    let again = local
        .reconciler
        .reconciler(&local.pipeline.reconciler_arn())
        .check_entry(&local.gemini, &entry)
        .await;
    assert!(matches!(again.unwrap(), Checked::Reconciled { .. }));
    let drained = local.pipeline.drain().await.unwrap();
    assert_eq!((drained.ingested, drained.routed.len()), (1, 0), "recorded once already: a duplicate");
    assert_eq!(
        local
            .reconciler
            .reconciler(&local.pipeline.reconciler_arn())
            .check(&local.gemini, &batch)
            .await
            .unwrap(),
        Checked::AlreadyEnded
    );

    // Gemini's webhook, late: recorded (visible in `events list`), not routed.
    let late = local.simulator.deliver_withheld(&batch);
    assert_eq!(late.len(), 1);
    delivered(&local.simulator, &late[0]).await;
    assert!(local.routed(emulator, "batch").await.is_empty(), "the late webhook doubles nothing");
    let recorded = local.recorded(emulator, &late[0]).await.expect("the late webhook is recorded");
    assert_eq!(recorded.superseded_by.as_ref(), Some(message.webhook_id()));
    assert!(
        testkit::drain_queue(&emulator.sqs().await, &local.pipeline.stack.consumer.url)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untracked_job_s_end_writes_nothing_to_the_ledger() {
    let emulator = Emulator::shared().unwrap();
    let local = Ledgered::start(emulator).await;
    // One job with no marker, one marked but never tracked (started by code that copied the marker).
    let plain = local.batch(&local.webhook(false)).await;
    let marked = local.batch(&local.webhook(true)).await;
    for job in [&plain, &marked] {
        let ids = local.simulator.finish(job, JobOutcome::Succeed);
        delivered(&local.simulator, &ids[0]).await;
    }
    assert_eq!(local.routed(emulator, "batch").await.len(), 2, "both routed as ever");
    assert!(local.ledger.all().await.unwrap().is_empty(), "no entry made, none written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_still_running_is_checked_again_later_and_given_up_on_past_its_give_up_time() {
    let emulator = Emulator::shared().unwrap();
    let local = Ledgered::start(emulator).await;
    let webhook = local.webhook(true);
    let interaction =
        local.gemini.create_interaction("gemini-2.5-flash", "a long question", &webhook).await.unwrap();
    let job = format!("interactions/{}", interaction.id);
    local.track(emulator, &interaction.id, &webhook, minutes(10, 60)).await;

    assert_eq!(local.checks_after(emulator, 10 * 60).await, ["running"]);
    let entry = local.ledger.get(&job).await.unwrap().unwrap();
    assert_eq!(
        (entry.checks, entry.state, entry.last_status.as_deref()),
        (1, EntryState::Open, Some("in_progress"))
    );
    // The next check, twice the first interval on.
    let next = entry.next_check_at.unwrap();
    assert_eq!(next, local.clock.unix_now_ms() + 20 * 60_000);
    let scheduler = emulator.scheduler().await;
    let scheduled = scheduler
        .get_schedule()
        .group_name(&local.pipeline.stack.schedule_group)
        .name(Schedules::name(&job, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.schedule_expression().and_then(at_time), Some(next));
    assert!(local.checks_after(emulator, 19 * 60).await.is_empty(), "not before its time");

    // The one after would fall past the give-up time (an hour from its start): overdue, counted, no more.
    metrics::capture();
    assert_eq!(local.checks_after(emulator, 60).await, ["overdue"]);
    let overdue: Vec<Value> =
        metrics::take_captured().into_iter().filter(|m| m.get("Overdue").is_some()).collect();
    assert_eq!(overdue.len(), 1, "the Overdue metric its alarm watches");
    let entry = local.ledger.get(&job).await.unwrap().unwrap();
    assert_eq!((entry.state, entry.next_check_at, entry.checks), (EntryState::Overdue, None, 2));
    assert!(local.checks_after(emulator, 24 * 3600).await.is_empty(), "no check after it");

    // A late end still closes it.
    let ids = local.simulator.finish(&interaction.id, JobOutcome::Succeed);
    delivered(&local.simulator, &ids[0]).await;
    assert_eq!(local.routed(emulator, "interaction").await.len(), 1);
    assert_eq!(local.ledger.get(&job).await.unwrap().unwrap().state, EntryState::Ended);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interaction_that_ends_incomplete_is_delivered_under_its_documented_type() {
    let emulator = Emulator::shared().unwrap();
    let local = Ledgered::start(emulator).await;
    let webhook = local.webhook(true);
    let interaction =
        local.gemini.create_interaction("gemini-2.5-flash", "a question", &webhook).await.unwrap();
    local.track(emulator, &interaction.id, &webhook, minutes(10, 60)).await;

    // It stops at its token limit: Gemini has no event for that, so none comes.
    assert!(local.simulator.finish(&interaction.id, JobOutcome::Halt("incomplete".into())).is_empty());
    assert_eq!(local.checks_after(emulator, 10 * 60).await, ["reconciled"]);

    let routed = local.routed(emulator, "interaction").await;
    assert_eq!(routed.len(), 1);
    let message = DownstreamMessage::from_sqs_body(routed[0].body().unwrap()).unwrap();
    assert_eq!(message.event_type, INTERACTION_ENDED);
    assert_eq!(message.event.data().unwrap()["status"], "incomplete", "it says which state");
    assert_eq!(message.data_id.as_deref(), Some(interaction.id.as_str()));

    // The example consumer keeps a record of how it ended, as for any end without a result.
    let consumer = local.pipeline.consumer(emulator, local.simulator.base_url(), KEY).await.unwrap();
    let copies =
        testkit::drain_queue(&emulator.sqs().await, &local.pipeline.stack.consumer.url).await.unwrap();
    let record = sqs_record(&copies[0], &local.pipeline.stack.consumer.url);
    let failure = shared::results::key(&interaction.id, shared::results::FAILURE);
    assert_eq!(process(&consumer, &record).await, Outcome::Stored(vec![failure.clone()]));
    let s3 = emulator.s3().await;
    let object =
        s3.get_object().bucket(&local.pipeline.stack.results_bucket).key(&failure).send().await.unwrap();
    let stored: Value = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(
        (stored["type"].as_str(), stored["status"].as_str()),
        (Some(INTERACTION_ENDED), Some("incomplete"))
    );
}
