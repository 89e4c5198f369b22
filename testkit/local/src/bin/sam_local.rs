//! `make sam-local`: every function run by `sam local invoke` in a container, against a local AWS
//! emulator holding the stack's tables, queues and endpoint secret under known names. Each sample event's
//! answer and the emulator's state afterwards are checked (message enqueued, item written, message
//! routed, claim taken), one line per event; then `sam local start-lambda`, invoked through the AWS SDK.
//! Exits non-zero on any miss, and stops what it started. Run after `sam build` (`tools/sam-local.sh`
//! does both, with a Docker engine and a Lambda base image).
//!
//! `--serve` instead keeps the emulator and the stack in it running (on port 5000 by default), for your
//! own `sam local invoke ... --env-vars events/env.json`.
//!
//! `--docker-bridge` binds the emulator to the address the containers reach this machine at (the
//! default bridge's gateway, found by [`local_stack::docker_host`]) and maps `--container-host` to it,
//! failing at once, naming what was empty, when there is none.
//!
//! ```text
//! sam-local [--serve] [--docker-bridge | --bind ADDR [--add-host HOST:IP]] [--port N]
//!           [--container-host HOST] [--out DIR] [--sam PATH]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::primitives::Blob;
use serde_json::Value;
use shared::clock::{Clock, SystemClock};
use shared::fixtures::sample_events::{
    DEMO_SECRET, ENDPOINT_SECRET, LOCAL_PREFIX, LocalStack, demo_secret_value, sample_events,
};
use shared::message::{DownstreamMessage, IngestMessage};
use testkit::{Emulator, Stack};

type Error = Box<dyn std::error::Error>;

/// How long `--docker-bridge` waits for the bridge to have an address: an engine's first start
/// configures it a moment after it first answers.
const DOCKER_BRIDGE_WAIT: Duration = Duration::from_secs(30);

/// The sample `webhook-id` every sample event carries.
const SAMPLE_ID: &str = "msg_sample_0001";

struct Options {
    serve: bool,
    docker_bridge: bool,
    bind: String,
    port: u16,
    container_host: String,
    add_host: Option<String>,
    out: PathBuf,
    sam: PathBuf,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, Error> {
        let mut options = Self {
            serve: false,
            docker_bridge: false,
            bind: "0.0.0.0".into(),
            port: 0,
            container_host: "host.docker.internal".into(),
            add_host: None,
            out: PathBuf::from(".sam-local"),
            sam: PathBuf::from(".venv-tools/bin/sam"),
        };
        let mut port = None;
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--serve" => options.serve = true,
                "--docker-bridge" => options.docker_bridge = true,
                "--bind" => options.bind = value()?,
                "--port" => port = Some(value()?.parse().map_err(|e| format!("--port: {e}"))?),
                "--container-host" => options.container_host = value()?,
                "--add-host" => options.add_host = Some(value()?),
                "--out" => options.out = PathBuf::from(value()?),
                "--sam" => options.sam = PathBuf::from(value()?),
                other => return Err(format!("unknown argument {other:?} (see the file's header)").into()),
            }
        }
        options.port = port.unwrap_or(if options.serve { 5000 } else { 0 });
        if options.docker_bridge {
            let address = local_stack::docker_host::find(DOCKER_BRIDGE_WAIT)?;
            println!("the containers reach this machine at {address} (the Docker bridge's gateway)");
            options.bind = address.to_string();
            options.add_host = Some(format!("{}:{address}", options.container_host));
        }
        Ok(options)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    shared::metrics::silence();
    let result = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => run(options).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("sam-local: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<bool, Error> {
    let emulator = Emulator::start_on(&options.bind, options.port)?;
    let port = emulator.endpoint().rsplit(':').next().unwrap_or_default().to_owned();
    let stack = Stack::create_named(&emulator, LOCAL_PREFIX).await?;
    emulator
        .secretsmanager()
        .await
        .create_secret()
        .name(format!("{LOCAL_PREFIX}-{ENDPOINT_SECRET}"))
        .secret_string(demo_secret_value()?)
        .send()
        .await?;
    let local = LocalStack {
        endpoint: format!("http://{}:{port}", options.container_host),
        prefix: LOCAL_PREFIX.into(),
    };
    std::fs::create_dir_all(&options.out)?;
    let env_path = options.out.join("env.json");
    std::fs::write(&env_path, serde_json::to_string_pretty(&local.env_vars())? + "\n")?;

    if options.serve {
        println!("emulator      {} (containers: {})", emulator.endpoint(), local.endpoint);
        println!(
            "stack         {LOCAL_PREFIX}-*: tables, queues, and the endpoint secret (demo secret and token)"
        );
        println!("env vars      {}", env_path.display());
        println!();
        println!("sign:    cargo run -p gemini-webhooks -- fixtures");
        println!(
            "invoke:  sam local invoke ReceiverFunction -e events/receiver-function-url.json --env-vars {}",
            env_path.display()
        );
        println!("Ctrl-C stops the emulator");
        tokio::signal::ctrl_c().await?;
        return Ok(true);
    }

    let events_dir = options.out.join("events");
    std::fs::create_dir_all(&events_dir)?;
    for (name, event) in sample_events(DEMO_SECRET, SystemClock.unix_now()).map_err(|e| e.to_string())? {
        std::fs::write(events_dir.join(format!("{name}.json")), serde_json::to_string_pretty(&event)?)?;
    }
    let sam = Sam { path: options.sam.clone(), env: env_path, add_host: options.add_host.clone() };
    let checks = Checks {
        stack: &stack,
        sqs: emulator.sqs().await,
        dynamodb: emulator.dynamodb().await,
        s3: emulator.s3().await,
    };

    let mut all_good = true;
    println!("{:<24} {:<22} {:<44} ok", "event", "function", "answer, then the emulator");
    for (event, function) in [
        ("receiver-function-url", "ReceiverFunction"),
        ("receiver-http-api", "ReceiverFunction"),
        ("receiver-rest-api", "ReceiverFunction"),
        ("receiver-alb", "ReceiverFunction"),
        ("recorder-sqs", "RecorderFunction"),
        ("fanout-stream", "FanoutFunction"),
        ("consumer-sqs", "ConsumerFunction"),
        ("reconciler-check", "ReconcilerFunction"),
        ("starter-sqs", "StarterFunction"),
    ] {
        let answer = sam.invoke(function, &events_dir.join(format!("{event}.json")));
        let verdict = match answer {
            Ok(answer) => checks.after(function, &answer).await,
            Err(error) => Err(error),
        };
        all_good &= report(event, function, &verdict);
    }

    let started = sam.start_lambda(&events_dir, &checks).await;
    all_good &= report("(start-lambda)", "ReceiverFunction", &started);

    // The checker itself: a function that stops at start-up (here, on a ROUTES naming a queue by its
    // logical id, as an unresolved `!Ref` would) must count as a miss, although `sam` exits 0.
    let mut broken = local.env_vars();
    broken["FanoutFunction"]["ROUTES"] = Value::from(r#"[{"match": "*", "queues": ["BatchQueue"]}]"#);
    let broken_path = options.out.join("env-broken.json");
    std::fs::write(&broken_path, broken.to_string())?;
    let broken_sam = Sam { env: broken_path, ..sam };
    let refused = match broken_sam.invoke("FanoutFunction", &events_dir.join("fanout-stream.json")) {
        Ok(answer) => Err(format!("answered {answer} with a broken ROUTES").into()),
        Err(error) => Ok(format!("a miss: {}", error.to_string().chars().take(30).collect::<String>())),
    };
    all_good &= report("(fails to start)", "FanoutFunction", &refused);
    println!();
    println!(
        "{}",
        if all_good { "every function answered as expected under sam local" } else { "SOME CHECKS FAILED" }
    );
    Ok(all_good)
}

fn report(event: &str, function: &str, verdict: &Result<String, Error>) -> bool {
    let (text, good) = match verdict {
        Ok(text) => (text.clone(), true),
        Err(error) => (format!("MISS: {error}"), false),
    };
    println!("{event:<24} {function:<22} {text:<44} {}", if good { "yes" } else { "NO" });
    good
}

/// `sam local`, as the checks drive it.
struct Sam {
    path: PathBuf,
    env: PathBuf,
    add_host: Option<String>,
}

impl Sam {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.path);
        command.args(args).args(["--env-vars", &self.env.to_string_lossy(), "--skip-pull-image"]);
        // The example consumer and the starter are opt-in; here they are checked with the rest.
        command.args(["--parameter-overrides", "DeployExampleConsumer=true WorkflowStarter=true"]);
        if let Some(add_host) = &self.add_host {
            command.args(["--add-host", add_host]);
        }
        // The emulator takes any credentials; SAM hands the host's to the container.
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", testkit::REGION)
            .env("AWS_DEFAULT_REGION", testkit::REGION)
            .env("SAM_CLI_TELEMETRY", "0");
        command
    }

    /// One `sam local invoke`: the function's answer. `sam` exits 0 whatever happened in the container,
    /// so a function that failed to start (or errored) is recognised by what it printed.
    fn invoke(&self, function: &str, event: &Path) -> Result<Value, Error> {
        let output =
            self.command(&["local", "invoke", function, "--event", &event.to_string_lossy()]).output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let failed_to_start =
            ["Init failed", "Runtime exited", "Invoke DONE failed"].iter().any(|m| stderr.contains(m));
        let answer: Option<Value> =
            stdout.lines().rev().find_map(|line| serde_json::from_str(line.trim()).ok());
        match answer {
            Some(answer)
                if answer.get("errorType").is_none() && !failed_to_start && output.status.success() =>
            {
                Ok(answer)
            }
            _ => Err(format!("{function} did not answer: {}", last_lines(&stderr, 6)).into()),
        }
    }

    /// `sam local start-lambda`, then the receiver invoked through the AWS SDK's Lambda client.
    async fn start_lambda(&self, events: &Path, checks: &Checks<'_>) -> Result<String, Error> {
        let port = free_port()?;
        let mut child = self
            .command(&["local", "start-lambda", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let outcome = async {
            wait_for_port(port, Duration::from_secs(60)).await?;
            let config =
                testkit::sdk_config_for(&format!("http://127.0.0.1:{port}"), testkit::HARNESS_TIMEOUTS).await;
            let lambda = aws_sdk_lambda::Client::new(&config);
            let payload = std::fs::read(events.join("receiver-http-api.json"))?;
            let invoked =
                lambda.invoke().function_name("ReceiverFunction").payload(Blob::new(payload)).send().await?;
            let answer: Value =
                serde_json::from_slice(invoked.payload().map(Blob::as_ref).unwrap_or_default())
                    .map_err(|e| format!("empty or unreadable answer (did the function start?): {e}"))?;
            if invoked.function_error().is_some() {
                return Err(format!("function error: {answer}").into());
            }
            checks.after("ReceiverFunction", &answer).await
        }
        .await;
        stop(&mut child);
        outcome
    }
}

/// What each function's answer and the emulator must show afterwards.
struct Checks<'s> {
    stack: &'s Stack,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

impl Checks<'_> {
    async fn after(&self, function: &str, answer: &Value) -> Result<String, Error> {
        match function {
            "ReceiverFunction" => {
                let status = answer["statusCode"].as_u64().unwrap_or_default();
                let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("{}"))?;
                if status != 200 || body["status"] != "accepted" {
                    return Err(format!("answered {status} {body}").into());
                }
                let messages = testkit::drain_queue(&self.sqs, &self.stack.ingest.url).await?;
                let ids: Vec<String> = messages
                    .iter()
                    .filter_map(|m| IngestMessage::from_sqs_body(m.body()?).ok())
                    .map(|m| m.provenance.webhook_id.to_string())
                    .collect();
                if ids != [SAMPLE_ID] {
                    return Err(format!("answered 200, but the ingest queue holds {ids:?}").into());
                }
                Ok("200 accepted; one ingest message".into())
            }
            "RecorderFunction" => {
                no_batch_failures(answer)?;
                let item = self.item(&self.stack.table, SAMPLE_ID).await?;
                item.get("type").ok_or("no item recorded")?;
                Ok("no failure; the event is in the table".into())
            }
            "FanoutFunction" => {
                no_batch_failures(answer)?;
                let messages = testkit::drain_queue(&self.sqs, &self.stack.routed("batch").url).await?;
                let routed: Vec<String> = messages
                    .iter()
                    .filter_map(|m| DownstreamMessage::from_sqs_body(m.body()?).ok())
                    .map(|m| m.provenance.webhook_id.to_string())
                    .collect();
                if routed != [SAMPLE_ID] {
                    return Err(format!("the batch queue holds {routed:?}").into());
                }
                Ok("no failure; routed to the batch queue".into())
            }
            "ConsumerFunction" => {
                no_batch_failures(answer)?;
                let claim = self
                    .item(&self.stack.claims_table, &format!("{}#{SAMPLE_ID}", consumer::NAMESPACE))
                    .await?;
                match claim.get("status") {
                    Some(AttributeValue::S(status)) if status == "done" => {}
                    other => return Err(format!("claim status {other:?}").into()),
                }
                let key = &shared::results::key("batches/sample123", shared::results::FAILURE);
                let stored = self.s3.get_object().bucket(&self.stack.results_bucket).key(key).send().await?;
                let record: serde_json::Value =
                    serde_json::from_slice(&stored.body.collect().await?.into_bytes())?;
                if record["error_code"] != "3" {
                    return Err(format!("the failure record is {record}").into());
                }
                Ok("no failure; its claim is done; the failure record is in the results bucket".into())
            }
            "ReconcilerFunction" => {
                // It read the jobs ledger (through the emulator) and found the job untracked.
                if answer["outcome"] != "not_tracked" {
                    return Err(format!("answered {answer}").into());
                }
                Ok("not_tracked: it read the jobs ledger".into())
            }
            "StarterFunction" => {
                no_batch_failures(answer)?;
                // The sample request names no task: it is kept in the starter's DLQ, with why.
                let kept = testkit::drain_queue(&self.sqs, &self.stack.job_requests.dlq_url).await?;
                let reason = kept.first().and_then(|m| m.message_attributes()?.get("reason")?.string_value());
                if kept.len() != 1 || !reason.is_some_and(|r| r.contains("task_token")) {
                    return Err(format!("the job-requests DLQ holds {} ({reason:?})", kept.len()).into());
                }
                Ok("no failure; the request naming no task is kept in its DLQ".into())
            }
            other => Err(format!("no check for {other}").into()),
        }
    }

    async fn item(
        &self,
        table: &str,
        id: &str,
    ) -> Result<std::collections::HashMap<String, AttributeValue>, Error> {
        let got = self
            .dynamodb
            .get_item()
            .table_name(table)
            .key("webhook_id", AttributeValue::S(id.into()))
            .send()
            .await?;
        got.item().cloned().ok_or_else(|| format!("{table} has no item {id}").into())
    }
}

fn no_batch_failures(answer: &Value) -> Result<(), Error> {
    match answer.get("batchItemFailures").and_then(Value::as_array) {
        Some(failures) if failures.is_empty() => Ok(()),
        _ => Err(format!("answered {answer}").into()),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_for_port(port: u16, limit: Duration) -> Result<(), Error> {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if started.elapsed() > limit {
            return Err(format!("sam local start-lambda did not listen on {port} within {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Stops `sam local start-lambda` the way it expects (SIGTERM), so it removes its containers.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}
