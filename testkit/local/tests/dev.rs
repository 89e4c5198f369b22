//! `make dev` as a user runs it: with their own secret and routes, a live line per delivery saying what
//! the receiver answered and where the event went; and a port already taken named, with what to do.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shared::clock::{Clock, SystemClock};
use shared::signature::SigningSecret;
use shared::signature::sign::SignedHeaders;

const BIN: &str = env!("CARGO_BIN_EXE_dev");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `make dev` running, its standard output read line by line.
struct Dev {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Dev {
    fn start(args: &[&str], vars: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(vars.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line containing `text` (each line read is passed over).
    fn line_with(&self, text: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no line with {text}"));
            if line.contains(text) {
                return line;
            }
        }
    }
}

impl Drop for Dev {
    /// Ctrl-C, so it stops its emulator.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn post(url: &str, id: &str, body: &str, secret: &SigningSecret) -> u16 {
    let signed = SignedHeaders::v1(secret, id, SystemClock.unix_now(), body.as_bytes());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .headers(signed.to_header_map().unwrap())
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    })
}

#[test]
fn prints_a_line_per_delivery_with_its_answer_and_its_routes() {
    let routes = r#"[{"match": "batch.*", "queues": ["jobs"]}, {"match": "*.failed", "metadata": {"team": "ml"}, "queues": ["ml-alerts"]}]"#;
    let dev = Dev::start(&["--port", "0"], &[("WEBHOOK_SECRET", SECRET), ("ROUTES", routes)]);
    let banner = dev.line_with("receiver ");
    let url = banner.split_whitespace().nth(1).unwrap().to_owned();
    let dynamic = dev.line_with("dynamic URL").split_whitespace().nth(2).unwrap().to_owned();
    let gemini = dev.line_with("GEMINI_API_BASE=");
    let gemini_base =
        gemini.split_whitespace().find_map(|w| w.strip_prefix("GEMINI_API_BASE=")).unwrap().to_owned();
    assert!(dev.line_with("v1 secret").contains("yours"), "the user's secret is not printed");

    let secret = SigningSecret::parse(SECRET).unwrap();
    let failed =
        r#"{"type":"batch.failed","data":{"id":"batches/1","error_code":3},"user_metadata":{"team":"ml"}}"#;
    assert_eq!(post(&url, "msg_dev_failed", failed, &secret), 200);
    let line = dev.line_with("msg_dev_failed");
    assert!(line.contains("batch.failed") && line.contains("v1") && line.contains("200"), "{line}");
    assert!(line.contains("→ jobs, ml-alerts"), "both of the user's routes: {line}");

    assert_eq!(post(&url, "msg_dev_failed", failed, &secret), 200);
    assert!(dev.line_with("msg_dev_failed").contains("not routed again"), "a retry is recognised");

    let other = SigningSecret::generate();
    assert_eq!(post(&url, "msg_dev_forged", failed, &other), 401);
    let line = dev.line_with("msg_dev_forged");
    assert!(line.contains("401") && line.contains("signature_mismatch"), "a refusal leaves a trace: {line}");

    let unknown = r#"{"type":"model.tuned","data":{"id":"tunedModels/1"}}"#;
    assert_eq!(post(&url, "msg_dev_unknown", unknown, &secret), 200);
    assert!(dev.line_with("msg_dev_unknown").contains("→ default"));

    // The local Gemini beside it: a job with webhook_config.uris set to the dynamic URL ends, and its
    // delivery, signed v1a with the local Gemini's key, is accepted and routed.
    let event =
        serde_json::json!({"type": "batch.succeeded", "data": {"id": "batches/sim"}, "uris": [dynamic]});
    let fired = fire(&gemini_base, &event);
    let id = fired["webhook_ids"][0].as_str().unwrap().to_owned();
    let line = dev.line_with(&id);
    assert!(line.contains("v1a") && line.contains("200") && line.contains("→ jobs"), "{line}");
}

/// `POST /_sim/events`: a job ends at the local Gemini.
fn fire(base: &str, event: &serde_json::Value) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response =
            reqwest::Client::new().post(format!("{base}/_sim/events")).json(event).send().await.unwrap();
        response.json().await.unwrap()
    })
}

#[test]
fn a_port_in_use_is_named_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BIN).args(["--port", &port]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("--port 0"), "{stderr}");
}
