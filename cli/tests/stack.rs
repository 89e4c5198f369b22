//! `--stack NAME` on the built CLI, against a stack as CloudFormation describes it: the emulator's
//! CloudFormation holds a stack whose outputs name the emulator's queues, table, bucket and endpoint
//! secret, and whose fanout function (created by the stack, as SAM creates it) carries the routing in
//! its environment. Each command (`endpoint`, `events`, `replay --routes`, `redrive`, `webhooks
//! create`, `jobs`) finds everything it needs from the stack's name alone; a stack that does not
//! exist, or lacks an output, is named in one line.

mod support;

use gemini_sim::{Settings, Simulator};
use gemini_webhooks::ops::stack::outputs;
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::event::Event;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use shared::signature::{EndpointSecrets, Scheme, SigningSecret, UrlToken, Verified};
use shared::{WebhookId, WebhookTimestamp};
use testkit::{Emulator, Stack};

const TOKEN: &str = "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE";
const WEBHOOK_URL: &str = "https://abc.lambda-url.us-east-1.on.aws/";
const GEMINI_KEY: &str = "stack-test-key";

/// Deploys `stack` as CloudFormation would describe it: every output the CLI reads, and the fanout
/// function with the routing in its environment. Returns the stack's name and its endpoint secret.
async fn deploy(emulator: &Emulator, stack: &Stack) -> (String, String) {
    let secret = emulator
        .secretsmanager()
        .await
        .create_secret()
        .name(format!("{}-endpoint", stack.prefix))
        .secret_string(
            EndpointSecrets::new(Vec::new(), Some(UrlToken::parse(TOKEN).unwrap())).to_secret_string(),
        )
        .send()
        .await
        .unwrap();
    let routes = json!([
        {"match": "batch.*", "queues": [stack.routed("batch").url]},
        {"match": "interaction.*", "queues": [stack.routed("interaction").url]},
        {"match": "video.*", "queues": [stack.routed("video").url]},
    ]);
    let literal = |value: &str| json!({"Value": value});
    let mut outputs = json!({
        outputs::WEBHOOK_URL: literal(WEBHOOK_URL),
        outputs::ENDPOINT_SECRET_ARN: literal(secret.arn().unwrap()),
        outputs::EVENTS_TABLE: literal(&stack.table),
        outputs::INGEST_QUEUE: literal(&stack.ingest.url),
        outputs::INGEST_DLQ: literal(&stack.ingest.dlq_url),
        outputs::FANOUT_DLQ: literal(&stack.fanout_dlq.url),
        outputs::RESULTS_BUCKET: literal(&stack.results_bucket),
        outputs::FANOUT_FUNCTION: {"Value": {"Ref": "FanoutFunction"}},
        outputs::JOBS_TABLE: literal(&stack.jobs_table),
        outputs::SCHEDULE_GROUP: literal(&stack.schedule_group),
        outputs::RECONCILER_FUNCTION: literal(&format!("arn:aws:lambda:us-east-1:123456789012:function:{}-reconciler", stack.prefix)),
        outputs::SCHEDULER_ROLE: literal(&format!("arn:aws:iam::123456789012:role/{}-scheduler", stack.prefix)),
    });
    for (name, output) in outputs::ROUTED {
        outputs[output] = literal(&stack.routed(name).url);
    }
    let template = json!({
        "Resources": {
            "FanoutRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }}},
            "FanoutFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "provided.al2023", "Handler": "bootstrap", "Code": {"ZipFile": "-"},
                "Role": {"Fn::GetAtt": ["FanoutRole", "Arn"]},
                "Environment": {"Variables": {
                    "ROUTES": routes.to_string(), "DEFAULT_QUEUE_URL": stack.routed("default").url,
                }},
            }},
        },
        "Outputs": outputs,
    });
    let name = format!("{}-stack", stack.prefix);
    create_stack(emulator, &name, &template).await;
    (name, secret.arn().unwrap().to_owned())
}

async fn create_stack(emulator: &Emulator, name: &str, template: &Value) {
    let cloudformation = aws_sdk_cloudformation::Client::new(&emulator.sdk_config().await);
    cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
}

/// One `batch.failed` event recorded a minute ago.
async fn record_one(emulator: &Emulator, stack: &Stack) -> String {
    let received_at = SystemClock.unix_now_ms() - 60_000;
    let body = json!({"type": "batch.failed", "data": {"id": "batches/s1", "error_code": 13}});
    let verified = Verified {
        webhook_id: WebhookId::parse("msg_stack_1").unwrap(),
        timestamp: WebhookTimestamp::from_unix(received_at / 1000),
        scheme: Scheme::V1,
        jwt: None,
    };
    let bytes = body.to_string().into_bytes();
    let ingest = IngestMessage::new(verified, &bytes, Event::parse(&bytes).unwrap(), received_at);
    let record = EventRecord::new(ingest, received_at + 20, 604_800);
    let item = serde_dynamo::to_item(&record).unwrap();
    emulator.dynamodb().await.put_item().table_name(&stack.table).set_item(Some(item)).send().await.unwrap();
    "msg_stack_1".into()
}

/// The built CLI with `--endpoint` (every AWS call to the emulator).
async fn cli(
    emulator: &Emulator,
    args: &[&str],
    gemini: Option<&Simulator>,
) -> (Option<i32>, String, String) {
    let mut command = support::cli();
    command.args(args).args(["--endpoint", emulator.endpoint()]);
    if let Some(simulator) = gemini {
        command.env("GEMINI_API_BASE", simulator.base_url()).env("GEMINI_API_KEY", GEMINI_KEY);
    }
    support::run_async(command).await.parts()
}

fn json_line(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_finds_what_it_needs_from_the_stack_name() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let (name, secret_arn) = deploy(emulator, &stack).await;
    let webhook_id = record_one(emulator, &stack).await;
    let sqs = emulator.sqs().await;

    // The URLs to give Gemini, the dynamic one with the token from the endpoint's secret.
    let (code, stdout, stderr) = cli(emulator, &["endpoint", "--stack", &name, "--json"], None).await;
    assert_eq!(code, Some(0), "{stderr}");
    let dynamic = format!("{WEBHOOK_URL}?token={TOKEN}");
    assert!(stdout.contains(&dynamic), "{stdout}");

    // The events table, from its output.
    let (code, stdout, stderr) =
        cli(emulator, &["events", "list", "--stack", &name, "--since", "1h", "--json"], None).await;
    assert_eq!(
        (code, json_line(&stdout)["webhook_id"].as_str()),
        (Some(0), Some(webhook_id.as_str())),
        "{stderr}"
    );

    // The routing, from the fanout function's own environment: batch.failed goes to the batch queue.
    let (code, _, stderr) =
        cli(emulator, &["replay", "--stack", &name, "--since", "1h", "--routes", "--json"], None).await;
    assert_eq!(code, Some(0), "{stderr}");
    let routed = testkit::drain_queue(&sqs, &stack.routed("batch").url).await.unwrap();
    assert_eq!(routed.len(), 1, "{routed:?}");
    let replayed = DownstreamMessage::from_sqs_body(routed[0].body().unwrap()).unwrap();
    assert_eq!((replayed.webhook_id().as_str(), replayed.is_replay()), (webhook_id.as_str(), true));

    // A routed queue by its name: its DLQ back to it.
    let batch = stack.routed("batch");
    sqs.send_message().queue_url(&batch.dlq_url).message_body("{}").send().await.unwrap();
    let (code, _, stderr) = cli(emulator, &["redrive", "batch", "--stack", &name, "--json"], None).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(testkit::drain_queue(&sqs, &batch.url).await.unwrap().len(), 1, "redriven to the batch queue");

    // Registered with Gemini from the stack's name: its URL, its secret written into the stack's.
    let simulator = Simulator::start(GEMINI_KEY, Settings { finish_jobs_after: None, ..Settings::default() })
        .await
        .unwrap();
    let (code, stdout, stderr) =
        cli(emulator, &["webhooks", "create", "--stack", &name, "--settle", "0", "--json"], Some(&simulator))
            .await;
    assert_eq!(code, Some(0), "{stderr}");
    let registered: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let id = registered["id"].as_str().unwrap().to_owned();
    assert_eq!(simulator.webhook(&id).unwrap()["uri"], WEBHOOK_URL);
    let stored =
        emulator.secretsmanager().await.get_secret_value().secret_id(&secret_arn).send().await.unwrap();
    let stored = EndpointSecrets::parse(stored.secret_string().unwrap()).unwrap();
    let live = SigningSecret::parse(&simulator.live_secrets(&id)[0]).unwrap();
    assert_eq!(
        (stored.signing, stored.url_token.as_ref().map(UrlToken::expose)),
        (vec![live], Some(TOKEN)),
        "the new secret beside the token"
    );

    // A job started with the stack's dynamic URL, its result in the stack's bucket.
    let (code, stdout, stderr) =
        cli(emulator, &["jobs", "interaction", "hello", "--stack", &name, "--json"], Some(&simulator)).await;
    assert_eq!(code, Some(0), "{stderr}");
    let started = json_line(&stdout);
    assert!(started["result"].as_str().unwrap().contains(&stack.results_bucket), "{started}");
    let job = started["job"].as_str().unwrap();
    let config = simulator.job_webhook(&format!("interactions/{job}")).unwrap();
    assert_eq!(config["uris"][0], json!(dynamic));

    // Tracked by the stack's ledger: marked, listed open, its first check scheduled.
    assert_eq!(config["user_metadata"][shared::ledger::MARKER_KEY], shared::ledger::MARKER_VALUE);
    assert!(started["checked_at"].is_string(), "{started}");
    let (code, stdout, stderr) =
        cli(emulator, &["jobs", "list", "--stack", &name, "--state", "open", "--json"], None).await;
    assert_eq!(code, Some(0), "{stderr}");
    let listed = json_line(&stdout);
    assert_eq!(
        (listed["job"].as_str(), listed["state"].as_str()),
        (Some(format!("interactions/{job}").as_str()), Some("open"))
    );
    let scheduler = emulator.scheduler().await;
    let schedules = scheduler.list_schedules().group_name(&stack.schedule_group).send().await.unwrap();
    assert_eq!(schedules.schedules().len(), 1, "its first check");

    // It stops without an event; checking it now puts its end into the pipeline, marked reconciled.
    simulator.finish(job, gemini_sim::Outcome::Halt("budget_exceeded".into()));
    let (code, stdout, stderr) =
        cli(emulator, &["jobs", "reconcile", job, "--stack", &name, "--json"], Some(&simulator)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json_line(&stdout)["outcome"], "reconciled");
    let ingested = testkit::drain_queue(&sqs, &stack.ingest.url).await.unwrap();
    assert_eq!(ingested.len(), 1);
    let ingest = IngestMessage::from_sqs_body(ingested[0].body().unwrap()).unwrap();
    assert_eq!(
        (ingest.provenance.scheme, ingest.event.event_type()),
        (Scheme::Reconciled, shared::ledger::INTERACTION_ENDED)
    );

    // A job started elsewhere, tracked by name; shown.
    let (code, _, stderr) =
        cli(emulator, &["jobs", "track", "batches/elsewhere1", "--stack", &name, "--deadline", "2h"], None)
            .await;
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) =
        cli(emulator, &["jobs", "show", "batches/elsewhere1", "--stack", &name, "--json"], None).await;
    assert_eq!(code, Some(0), "{stderr}");
    let shown = json_line(&stdout);
    assert_eq!((shown["kind"].as_str(), shown["state"].as_str()), (Some("batch"), Some("open")));
    assert_eq!(shown["deadline"].as_i64().unwrap() - shown["started_at"].as_i64().unwrap(), 2 * 3_600_000);
    assert_eq!(shown["workflow_waiting"], false);

    // A job a workflow waits on: its token kept in the ledger alone, never shown.
    let token = "AQCEAAAAKgAAAAMAAAAAAAAAAWorkflowTaskToken0123456789";
    let file = std::env::temp_dir().join(format!("task-token-{}", std::process::id()));
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let from_file = format!("@{}", file.display());
    let args = ["jobs", "track", "batches/waited1", "--stack", &name, "--task-token", &from_file, "--json"];
    let (code, stdout, stderr) = cli(emulator, &args, None).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains(token) && !stderr.contains(token), "never shown");
    assert_eq!(json_line(&stdout)["workflow_waiting"], true);
    let ledger = shared::aws::jobs_ledger::JobsLedger::new(emulator.dynamodb().await, &stack.jobs_table);
    let entry = ledger.get("batches/waited1").await.unwrap().unwrap();
    assert_eq!(entry.task_token.as_ref().map(|t| t.expose()), Some(token));
    let untracked = ["jobs", "track", "batches/waited2", "--stack", &name, "--task-token", "has space"];
    let (code, _, stderr) = cli(emulator, &untracked, None).await;
    assert_eq!(code, Some(2), "a token Step Functions never makes is a usage error: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_that_does_not_exist_or_lacks_an_output_is_named() {
    let emulator = Emulator::shared().unwrap();
    let stack = Stack::create(emulator).await.unwrap();
    let missing = format!("{}-nosuch", stack.prefix);
    let (code, _, stderr) =
        cli(emulator, &["events", "list", "--stack", &missing, "--since", "1h"], None).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.lines().next().unwrap().contains(&format!("reading stack {missing}")), "{stderr}");

    // Someone else's stack: it has outputs, not ours.
    let other = format!("{}-other", stack.prefix);
    let template = json!({
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {outputs::WEBHOOK_URL: {"Value": WEBHOOK_URL}},
    });
    create_stack(emulator, &other, &template).await;
    let (code, _, stderr) =
        cli(emulator, &["events", "list", "--stack", &other, "--since", "1h"], None).await;
    assert_eq!(code, Some(1), "{stderr}");
    let first = stderr.lines().next().unwrap();
    assert!(first.contains(&other) && first.contains(outputs::EVENTS_TABLE), "{stderr}");
}
