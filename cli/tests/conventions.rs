//! The command line's conventions, on the built binary: every failure is one line saying what failed and
//! naming the flag, path, URL or queue (causes below it, structures only with `-v`), never a secret or
//! token; exit 0 on success, 1 on a failure (including an answer `send` did not expect), 2 on a usage
//! error; `--json` prints one JSON object a line.

mod support;

use local_stack::Pipeline;
use serde_json::Value;
use shared::EventKind;
use shared::signature::SigningSecret;
use support::Run;
use testkit::Emulator;
use tokio::net::TcpListener;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE";

/// What a failed run prints.
trait Failed {
    fn failed(&self, code: i32, named: &str) -> &str;
    fn json_lines(&self) -> Vec<Value>;
}

impl Failed for Run {
    /// The one-line error: exit `code`, the first line `error: ...` naming `named` (after any warning,
    /// such as the one about a secret given on the command line), no `Debug` dumps.
    fn failed(&self, code: i32, named: &str) -> &str {
        assert_eq!(self.code, Some(code), "exit {code}: {}{}", self.stdout, self.stderr);
        let first = self.stderr.lines().find(|l| !l.starts_with("warning:")).unwrap_or_default();
        assert!(first.contains(named), "the first line names {named}: {}", self.stderr);
        assert!(!self.stderr.contains('{'), "no Debug dumps: {}", self.stderr);
        &self.stderr
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout.lines().map(|line| serde_json::from_str(line).expect(line)).collect()
    }
}

/// Runs the built CLI with `args`.
fn cli(args: &[&str]) -> Run {
    let mut command = support::cli();
    command.args(args);
    support::run(command)
}

async fn cli_async(args: Vec<String>) -> Run {
    let mut command = support::cli();
    command.args(args);
    support::run_async(command).await
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn sending_to_a_closed_port_names_the_url_and_never_the_token() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let run = cli(&["send", &url, "--secret", SECRET, "--url-token", TOKEN]);
    let stderr = run.failed(1, &url);
    assert!(stderr.contains("refused"), "the cause follows: {stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");

    let verbose = cli(&["send", &url, "--secret", SECRET, "-v"]);
    assert!(verbose.stderr.contains("details:"), "-v adds the structures: {}", verbose.stderr);
}

#[test]
fn a_secret_or_seed_that_is_not_one_is_a_usage_error_naming_the_flag_not_the_value() {
    let run = cli(&["send", "http://127.0.0.1:9/", "--secret", "notasecret"]);
    assert!(!run.failed(2, "--secret").contains("notasecret"));
    let run = cli(&["send", "http://127.0.0.1:9/", "--secret", &format!("{SECRET},{SECRET}")]);
    assert!(run.failed(2, "--secret").contains("spaces"), "the hint for a list: {}", run.stderr);
    let run = cli(&["sign", "-", "--scheme", "v1a", "--ed25519-seed", "abc"]);
    run.failed(2, "--ed25519-seed");
    cli(&["send", "http://127.0.0.1:9/"]).failed(2, "--secret");
}

#[test]
fn a_missing_file_is_named() {
    cli(&["sign", "/nonexistent/body.json", "--secret", SECRET]).failed(1, "/nonexistent/body.json");
}

#[test]
fn usage_errors_exit_2() {
    let run = cli(&["send", "http://127.0.0.1:9/", "--secret", SECRET, "--repeat", "0"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let run = cli(&["send", "http://127.0.0.1:9/", "--secret", SECRET, "--type", "batch.succeded"]);
    assert!(run.failed(2, "batch.succeded").contains("did you mean batch.succeeded?"), "{}", run.stderr);
    let run = cli(&["tail", "http://127.0.0.1:9/q", "--follow"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn with_json_even_a_command_line_clap_refuses_is_one_json_object() {
    for args in [
        &["send", "http://127.0.0.1:9/", "--secret", SECRET, "--repeat", "0", "--json"][..],
        &["tail", "http://127.0.0.1:9/q", "--max", "1", "--consume", "--json"],
        &["replay", "--json"],
    ] {
        let run = cli(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        let lines: Vec<Value> = run.stderr.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one object: {}", run.stderr);
        assert_eq!(lines[0]["exit_code"], 2);
        assert!(!lines[0]["error"].as_str().unwrap().is_empty(), "{}", lines[0]);
    }
    assert_eq!(cli(&["send", "--help", "--json"]).code, Some(0), "help is still help");
}

#[test]
fn help_lists_every_event_type() {
    let help = cli(&["send", "--help"]);
    for (name, _) in EventKind::CATALOG {
        assert!(help.stdout.contains(name), "{name}: {}", help.stdout);
    }
}

#[test]
fn keygen_and_sign_print_json_lines() {
    let keys = cli(&["keygen", "--json"]).json_lines();
    assert_eq!(keys.len(), 1);
    let secret = keys[0]["webhook_secret"].as_str().unwrap();
    assert!(SigningSecret::parse(secret).is_ok());
    assert_eq!(keys[0]["jwks"]["keys"][0]["crv"], "Ed25519");

    let file = std::env::temp_dir().join(format!("sign-{}.json", std::process::id()));
    std::fs::write(&file, br#"{"type":"batch.succeeded"}"#).unwrap();
    let run = cli(&[
        "sign",
        file.to_str().unwrap(),
        "--secret",
        SECRET,
        "--id",
        "msg_1",
        "--timestamp",
        "1700000000",
        "--json",
    ]);
    let headers = run.json_lines();
    assert_eq!(headers[0]["webhook_id"], "msg_1");
    assert!(headers[0]["webhook_signature"].as_str().unwrap().starts_with("v1,"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_names_a_queue_that_does_not_exist_and_one_it_has_no_credentials_for() {
    let emulator = Emulator::shared().unwrap();
    let missing = format!("{}/123456789012/no-such-queue", emulator.endpoint());
    let args = ["tail", &missing, "--consume", "--idle", "1", "--endpoint", emulator.endpoint()];
    cli_async(args.map(String::from).to_vec()).await.failed(1, &missing);

    // No credentials anywhere: the SDK refuses before any request.
    let queue = "https://sqs.us-east-1.amazonaws.com/123456789012/watch";
    let mut command = support::cli();
    command
        .args(["tail", queue, "--consume", "--idle", "1"])
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1");
    let run = support::run(command);
    assert!(run.failed(1, queue).contains("credentials"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn send_exits_1_on_an_unexpected_answer_and_0_on_the_expected_one() {
    let emulator = Emulator::shared().unwrap();
    let pipeline = Pipeline::with_secret(emulator, &SigningSecret::parse(SECRET).unwrap()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    pipeline.serve_receiver(listener);
    let send = |extra: &[&str]| {
        let mut args =
            vec!["send".to_owned(), url.clone(), "--secret".into(), SECRET.into(), "--json".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        cli_async(args)
    };

    let accepted = send(&["--type", "video.generated", "--metadata", "team=ml", "--metadata", "run=3"]).await;
    assert_eq!(accepted.code, Some(0), "{}", accepted.stderr);
    let answers = accepted.json_lines();
    assert_eq!((answers[0]["status"].as_u64(), answers[0]["expected"].as_bool()), (Some(200), Some(true)));

    let tampered = send(&["--tamper"]).await;
    assert_eq!((tampered.code, &tampered.json_lines()[0]["status"]), (Some(1), &Value::from(401)));
    let lines: Vec<Value> = tampered
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("with --json, stderr is JSON too"))
        .collect();
    assert!(lines[0]["warning"].as_str().unwrap().contains("--secret on the command line"), "{lines:?}");
    let error = lines.last().unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(message.contains(&url) && message.contains("401"), "{message}");
    let expected = send(&["--tamper", "--expect", "401"]).await;
    assert_eq!(expected.code, Some(0), "{}", expected.stderr);
    let stale = send(&["--age", "600", "--expect", "401"]).await;
    assert_eq!(stale.code, Some(0), "{}", stale.stderr);

    let retried = send(&["--repeat", "3", "--type", "batch.failed"]).await;
    assert_eq!(retried.json_lines().len(), 3, "{}", retried.stdout);
    let unknown = send(&["--type", "model.tuned", "--allow-unknown-type"]).await;
    assert_eq!(unknown.code, Some(0), "{}", unknown.stderr);

    pipeline.drain().await.unwrap();
    let downstream = pipeline.take_downstream().await.unwrap();
    let video = &downstream["video"];
    assert_eq!(video.len(), 1);
    let metadata = video[0].user_metadata.as_ref().unwrap();
    assert_eq!((metadata["team"].as_str(), metadata["run"].as_u64()), (Some("ml"), Some(3)));
    assert!(video[0].event.output_uri().is_some() && video[0].event.file_name().is_some());
    assert_eq!(downstream["batch"].len(), 1, "three sends of one delivery, one event");
    assert!(downstream["batch"][0].event.error_code().is_some());
    assert_eq!(downstream["default"].len(), 1);
}
