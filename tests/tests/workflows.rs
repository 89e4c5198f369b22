//! A Step Functions workflow waiting on a Gemini job, against the emulator's Step Functions (it runs
//! the state machine: a `sqs:sendMessage.waitForTaskToken` task hands out the token) and the local
//! Gemini: the job is tracked with the task's token, and its end, through the whole pipeline, resumes
//! the workflow with the downstream message; a failed job fails it with Gemini's error; a job
//! reconciled and then delivered late resumes it once; a token Step Functions does not know is kept in
//! the fanout DLQ, not retried. And the chained workflow of the repository (`workflows/chained.asl.json`:
//! a batch, then a second model summarising its results) runs to its summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use gemini_sim::{Outcome as JobOutcome, Simulator};
use local_stack::GeminiLoop;
use local_stack::workflow::ChainedWorkflow;
use serde_json::{Map, Value, json};
use shared::aws::jobs_ledger::JobsLedger;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::gemini::WebhookConfig;
use shared::ledger::{self, Deadlines, JobEntry, JobName, TaskToken};
use shared::message::{DownstreamMessage, attributes};
use testkit::Emulator;

const KEY: &str = "workflow-test-key";

/// A state machine whose one task waits on a job: its token goes to a queue, where the test (as a
/// starter would) reads it.
struct Workflow {
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    requests: String,
    state_machine: String,
    runs: AtomicUsize,
}

impl Workflow {
    async fn create(emulator: &Emulator, prefix: &str) -> Self {
        let config = emulator.sdk_config().await;
        let (sfn, sqs) = (aws_sdk_sfn::Client::new(&config), aws_sdk_sqs::Client::new(&config));
        let requests = sqs
            .create_queue()
            .queue_name(format!("{prefix}-wait-requests"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let definition = json!({"StartAt": "WaitOnTheJob", "States": {"WaitOnTheJob": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": requests, "MessageBody": {"job.$": "$.job", "task_token.$": "$$.Task.Token"}},
            "End": true}}});
        let state_machine = sfn
            .create_state_machine()
            .name(format!("{prefix}-wait"))
            .role_arn("arn:aws:iam::123456789012:role/workflow")
            .definition(definition.to_string())
            .send()
            .await
            .unwrap()
            .state_machine_arn
            .clone();
        Self { sfn, sqs, requests, state_machine, runs: AtomicUsize::new(0) }
    }

    /// Starts an execution and returns it with the token its task handed out.
    async fn start(&self) -> (String, TaskToken) {
        let execution = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(format!("run-{}", self.runs.fetch_add(1, Ordering::Relaxed)))
            .input(json!({"job": "nightly"}).to_string())
            .send()
            .await
            .unwrap()
            .execution_arn
            .clone();
        for _ in 0..500 {
            let page = self.sqs.receive_message().queue_url(&self.requests).send().await.unwrap();
            if let Some(message) = page.messages().first() {
                let request: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                return (execution, TaskToken::parse(request["task_token"].as_str().unwrap()).unwrap());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the task never sent its request");
    }

    /// The execution once it has ended.
    async fn ended(
        &self,
        execution: &str,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        for _ in 0..500 {
            let described = self.sfn.describe_execution().execution_arn(execution).send().await.unwrap();
            if described.status != ExecutionStatus::Running {
                return described;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{execution} is still running");
    }

    async fn status(&self, execution: &str) -> ExecutionStatus {
        self.sfn.describe_execution().execution_arn(execution).send().await.unwrap().status
    }
}

/// The loop, the jobs table, and a workflow.
struct World {
    local: GeminiLoop,
    ledger: JobsLedger,
    workflow: Workflow,
}

impl World {
    async fn start(emulator: &'static Emulator) -> Self {
        let local = GeminiLoop::start(emulator, KEY).await.unwrap();
        let ledger = JobsLedger::new(emulator.dynamodb().await, &local.pipeline.stack.jobs_table);
        let workflow = Workflow::create(emulator, &local.pipeline.stack.prefix).await;
        Self { local, ledger, workflow }
    }

    /// A batch started with the stack's dynamic webhook, tracked with `token`, as a starter does.
    async fn batch_for(&self, token: TaskToken) -> String {
        let mut metadata = Map::new();
        ledger::mark(&mut metadata);
        let webhook =
            WebhookConfig { uris: vec![self.local.endpoint.dynamic.clone()], user_metadata: metadata };
        let input = br#"{"key": "q1", "request": {"contents": [{"parts": [{"text": "hello"}]}]}}"#;
        let gemini = &self.local.gemini;
        let file = gemini.upload_file(input.to_vec(), "requests.jsonl", "application/jsonl").await.unwrap();
        let batch =
            gemini.create_batch("gemini-2.5-flash", &file.name, "nightly", &webhook).await.unwrap().name;
        let name = JobName::parse(&batch).unwrap();
        let entry =
            JobEntry::new(&name, webhook.user_metadata, Deadlines::default_for(name.kind()), now_ms())
                .with_task_token(token);
        self.ledger.track(&entry).await.unwrap();
        batch
    }

    /// Ends `batch` as `outcome` and runs the pipeline once its webhook was answered.
    async fn end(&self, batch: &str, outcome: JobOutcome) -> local_stack::Drained {
        let ids = self.local.simulator.finish(batch, outcome);
        delivered(&self.local.simulator, &ids[0]).await;
        self.local.pipeline.drain().await.unwrap()
    }
}

fn now_ms() -> i64 {
    SystemClock.unix_now_ms()
}

/// Polls (up to 20 s) until the local Gemini has had a 200 for `id`.
async fn delivered(simulator: &Simulator, id: &str) {
    assert!(simulator.answered(id, Duration::from_secs(20)).await, "{id} was never answered 200");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_waiting_on_a_batch_resumes_with_its_end_or_fails_with_geminis_error() {
    let emulator = Emulator::shared().unwrap();
    let world = World::start(emulator).await;

    let (resumed, token) = world.workflow.start().await;
    let batch = world.batch_for(token).await;
    assert_eq!(world.workflow.status(&resumed).await, ExecutionStatus::Running, "it waits, polling nothing");
    let drained = world.end(&batch, JobOutcome::Succeed).await;
    assert_eq!(drained.stream_failures, 0);
    let ended = world.workflow.ended(&resumed).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    let output = DownstreamMessage::from_sqs_body(ended.output().unwrap()).unwrap();
    assert_eq!(
        (output.event_type.as_str(), output.data_id.as_deref()),
        ("batch.succeeded", Some(batch.as_str()))
    );
    assert!(output.event.output_uri().is_some(), "what the next step fetches");

    let (failed, token) = world.workflow.start().await;
    let batch = world.batch_for(token).await;
    world.end(&batch, JobOutcome::Fail { code: 13, message: "internal".into() }).await;
    let ended = world.workflow.ended(&failed).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error(), Some("Gemini.batch.failed"), "for a Catch to match");
    // The emulator keeps no `cause` (its history records it as null): what the cause holds, Gemini's
    // code and message, is proven by `shared::workflow`'s tests.

    // The token went to no queue: the routed message carries none.
    let routed = testkit::drain_queue(&emulator.sqs().await, &world.local.pipeline.stack.routed("batch").url)
        .await
        .unwrap();
    assert_eq!(routed.len(), 2, "both ends reach the batch queue as well");
    assert!(routed.iter().all(|m| !m.body().unwrap().contains("task_token")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconciled_job_resumes_its_workflow_once_and_its_late_webhook_does_not_again() {
    let emulator = Emulator::shared().unwrap();
    let world = World::start(emulator).await;
    let clock = Arc::new(ManualClock::at(SystemClock.unix_now()));
    let base = world.local.simulator.base_url().to_owned();
    let reconciler = world.local.pipeline.reconciler(emulator, &base, KEY, clock).await.unwrap();

    let (execution, token) = world.workflow.start().await;
    let batch = world.batch_for(token).await;
    world.local.simulator.withhold_end(&batch);
    assert!(world.local.simulator.finish(&batch, JobOutcome::Succeed).is_empty(), "its webhook is lost");
    let checker = reconciler.reconciler(&world.local.pipeline.reconciler_arn());
    checker.check(&world.local.gemini, &batch).await.unwrap();
    let drained = world.local.pipeline.drain().await.unwrap();
    assert_eq!(drained.stream_failures, 0);
    let ended = world.workflow.ended(&execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    let output = DownstreamMessage::from_sqs_body(ended.output().unwrap()).unwrap();
    assert!(output.webhook_id().as_str().starts_with("rec_"), "resumed by the reconciled end");

    // Gemini's webhook comes late: recorded, superseded, and the workflow is not told twice (a second
    // SendTaskSuccess would be refused and kept in the DLQ).
    let late = world.local.simulator.deliver_withheld(&batch);
    delivered(&world.local.simulator, &late[0]).await;
    let drained = world.local.pipeline.drain().await.unwrap();
    assert_eq!((drained.inserts, drained.routed.len(), drained.stream_failures), (1, 0, 0));
    let kept = testkit::drain_queue(&emulator.sqs().await, &world.local.pipeline.stack.fanout_dlq.url)
        .await
        .unwrap();
    assert!(kept.is_empty(), "nothing refused: the task was completed once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_step_functions_does_not_know_is_kept_not_retried() {
    let emulator = Emulator::shared().unwrap();
    let world = World::start(emulator).await;
    let batch = world.batch_for(TaskToken::parse("not-a-token-step-functions-made").unwrap()).await;

    let drained = world.end(&batch, JobOutcome::Succeed).await;

    assert_eq!(drained.stream_failures, 0, "refused for good: the batch goes on, nothing is retried");
    let routed = testkit::drain_queue(&emulator.sqs().await, &world.local.pipeline.stack.routed("batch").url)
        .await
        .unwrap();
    assert_eq!(routed.len(), 1, "the event still reaches its queue");
    let kept = testkit::drain_queue(&emulator.sqs().await, &world.local.pipeline.stack.fanout_dlq.url)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    let attribute =
        |name: &str| kept[0].message_attributes().unwrap()[name].string_value().map(str::to_owned);
    assert_eq!(attribute(attributes::FAILURE_REASON).as_deref(), Some("InvalidToken"));
    assert_eq!(attribute(attributes::DESTINATION_QUEUE).as_deref(), Some(fanout::STEP_FUNCTIONS));
    assert!(!kept[0].body().unwrap().contains("not-a-token"), "the token is kept nowhere but the ledger");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chained_workflow_runs_a_batch_then_its_summary_and_ends_with_the_summary() {
    let emulator = Emulator::shared().unwrap();
    let world = World::start(emulator).await;
    let chained = ChainedWorkflow::create(emulator, &world.local.pipeline).await.unwrap();
    let execution =
        chained.start("chained", &["one", "two"], "gemini-2.5-flash", "gemini-2.5-pro").await.unwrap();

    let starter = world.local.starter(emulator).await.unwrap();
    let mut jobs = Vec::new();
    for expected in ["batch", "summarise"] {
        let request = chained.next_request().await.unwrap();
        let asked: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(asked["kind"], expected, "each step asks once its previous one ended");
        let starter::Outcome::Started(job) = starter::process(&starter, &request).await else {
            panic!("the starter did not start the {expected}")
        };
        assert_eq!(world.workflow.status(&execution).await, ExecutionStatus::Running);
        world.end(&job, JobOutcome::Succeed).await;
        jobs.push(job);
    }

    let ended = world.workflow.ended(&execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(ended.output().unwrap()).unwrap();
    assert_eq!(output["prompts"], json!(["one", "two"]), "the input, carried through");
    assert_eq!(output["batch"]["data_id"].as_str(), Some(jobs[0].as_str()));
    assert_eq!(output["summary"]["type"], "interaction.completed");
    assert_eq!(output["summary"]["data_id"].as_str(), Some(jobs[1].trim_start_matches("interactions/")));
    // The summary read the batch's answers: its input names them.
    let summary = world.local.gemini.get_interaction(&jobs[1]).await.unwrap();
    let input = summary["steps"][0]["content"][0]["text"].as_str().unwrap();
    assert!(input.contains(&gemini_sim::jobs::answer_to("one")), "{input}");
}

/// A job request as a task's message hands it to the starter.
fn request(fields: Value) -> aws_lambda_events::event::sqs::SqsMessage {
    let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
    record.message_id = Some(format!("m-{}", fields["task_token"].as_str().unwrap_or("none").len()));
    record.body = Some(fields.to_string());
    record
}

#[tokio::test(flavor = "multi_thread")]
async fn the_starter_starts_a_requested_job_once_and_its_end_resumes_the_task() {
    let emulator = Emulator::shared().unwrap();
    let world = World::start(emulator).await;
    let starter = world.local.starter(emulator).await.unwrap();

    let (execution, token) = world.workflow.start().await;
    let asked = request(json!({"kind": "batch", "model": "gemini-2.5-flash", "prompts": ["hello", "bye"],
        "task_token": token.expose(), "user_metadata": {"team": "ml"}}));
    let starter::Outcome::Started(job) = starter::process(&starter, &asked).await else {
        panic!("not started")
    };
    assert_eq!(starter::process(&starter, &asked).await, starter::Outcome::AlreadyStarted, "delivered twice");
    let tracked: Vec<JobEntry> = world
        .ledger
        .all()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.task_token.as_ref() == Some(&token))
        .collect();
    assert_eq!(tracked.len(), 1, "one job for the task");
    assert_eq!(tracked[0].job, job);
    let metadata: Value = serde_json::from_str(&tracked[0].user_metadata).unwrap();
    assert_eq!(metadata["team"], "ml", "the request's metadata rides on the job");
    let checks =
        emulator.scheduler().await.list_schedules().group_name(&world.local.pipeline.stack.schedule_group);
    assert_eq!(checks.send().await.unwrap().schedules().len(), 1, "its first check is scheduled");

    // Gemini delivers to the dynamic webhook the starter gave it; the pipeline resumes the task.
    world.end(&job, JobOutcome::Succeed).await;
    let ended = world.workflow.ended(&execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    let output = DownstreamMessage::from_sqs_body(ended.output().unwrap()).unwrap();
    assert_eq!(output.data_id.as_deref(), Some(job.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_cannot_start_fails_its_task_now_and_one_naming_no_task_is_kept() {
    let emulator = Emulator::shared().unwrap();
    let world = World::start(emulator).await;
    let starter = world.local.starter(emulator).await.unwrap();

    // Gemini refuses it (the results file to summarise does not exist): the workflow fails at once,
    // not at its timeout.
    let (refused, token) = world.workflow.start().await;
    let asked = request(json!({"kind": "summarise", "model": "gemini-2.5-pro", "results": "files/missing",
        "task_token": token.expose()}));
    assert_eq!(
        starter::process(&starter, &asked).await,
        starter::Outcome::TaskFailed("Starter.Refused".into())
    );
    let ended = world.workflow.ended(&refused).await;
    assert_eq!((&ended.status, ended.error()), (&ExecutionStatus::Failed, Some("Starter.Refused")));
    assert_eq!(
        starter::process(&starter, &asked).await,
        starter::Outcome::AlreadyStarted,
        "a redelivery neither starts nor fails it again"
    );

    // No job of that kind: the same, without calling Gemini.
    let (invalid, token) = world.workflow.start().await;
    let asked = request(json!({"kind": "video", "model": "veo", "task_token": token.expose()}));
    assert_eq!(
        starter::process(&starter, &asked).await,
        starter::Outcome::TaskFailed("Starter.InvalidRequest".into())
    );
    assert_eq!(world.workflow.ended(&invalid).await.error(), Some("Starter.InvalidRequest"));

    // No task to tell, or a task that is gone: kept in the starter's DLQ with why, never retried.
    for asked in [
        request(json!({"kind": "batch", "model": "m", "prompts": ["x"]})),
        request(json!({"kind": "video", "model": "veo", "task_token": "not-a-token"})),
    ] {
        assert!(matches!(starter::process(&starter, &asked).await, starter::Outcome::Kept(_)));
    }
    let kept = testkit::drain_queue(&emulator.sqs().await, &world.local.pipeline.stack.job_requests.dlq_url)
        .await
        .unwrap();
    assert_eq!(kept.len(), 2);
    let reasons: Vec<&str> =
        kept.iter().map(|m| m.message_attributes().unwrap()["reason"].string_value().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("no task_token")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("InvalidToken")), "{reasons:?}");
}
