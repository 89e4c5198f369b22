//! Starting and stopping moto's server, and SDK clients pointed at it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use shared::aws::clients::Timeouts;

/// The region every emulator client uses.
pub const REGION: &str = "us-east-1";

/// How long moto may take to import and bind (it is slow to import on a cold cache).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The emulator could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No Python with moto where expected.
    #[error(
        "no emulator Python at {0}: run `make venv` (or set MOTO_PYTHON to a Python with moto[server] installed)"
    )]
    NoPython(PathBuf),
    /// The process could not be spawned.
    #[error("starting the emulator failed: {0}")]
    Spawn(std::io::Error),
    /// The process did not report its port in time, or exited first.
    #[error("the emulator did not start: {0}")]
    NotReady(String),
}

/// A moto server on 127.0.0.1, stopped when dropped (and, should the test process die first, when its
/// standard input closes).
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    endpoint: String,
}

impl Emulator {
    /// Starts a new server on a free loopback port. Use one per test that must stop it; otherwise
    /// share [`Emulator::shared`] and give each test its own resources.
    pub fn start() -> Result<Self, EmulatorError> {
        Self::start_on("127.0.0.1", 0)
    }

    /// Starts a server bound to `host` (an address, `0.0.0.0` for all) on `port` (0 for a free one):
    /// for clients outside this machine's loopback, such as `sam local`'s containers.
    pub fn start_on(host: &str, port: u16) -> Result<Self, EmulatorError> {
        let python = python()?;
        let script = workspace_root().join("testkit/emulator.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(host)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(EmulatorError::Spawn)?;
        let stdout = child.stdout.take().ok_or_else(|| EmulatorError::NotReady("no stdout".into()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = tx.send(BufReader::new(stdout).read_line(&mut line).map(|_| line));
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line.trim().parse::<u16>().ok(),
            _ => None,
        };
        match port {
            Some(port) => {
                let reachable = if host == "0.0.0.0" { "127.0.0.1" } else { host };
                Ok(Self { child, endpoint: format!("http://{reachable}:{port}") })
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(EmulatorError::NotReady("no port reported (is moto installed?)".into()))
            }
        }
    }

    /// One server for the whole test binary, started on first use.
    pub fn shared() -> Result<&'static Self, EmulatorError> {
        static SHARED: OnceLock<Result<Emulator, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| EmulatorError::NotReady(e.clone()))
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:40123`: what `AWS_ENDPOINT_URL` would be set to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK configuration for this emulator: its endpoint, a fixed region, dummy credentials and the
    /// harness's generous [`HARNESS_TIMEOUTS`].
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint, HARNESS_TIMEOUTS).await
    }

    /// A DynamoDB client for this emulator.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config().await)
    }

    /// An EventBridge Scheduler client for this emulator (moto keeps schedules; it fires none).
    pub async fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.sdk_config().await)
    }

    /// A Secrets Manager client for this emulator.
    pub async fn secretsmanager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
    }

    /// An S3 client for this emulator (path-style: its buckets are not DNS names).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config =
            aws_sdk_s3::config::Builder::from(&self.sdk_config().await).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An SQS client for this emulator.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    /// Stops the server now; clients pointed at it then fail to connect.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Timeouts for the harness's side (triggers, assertions, the CLI): generous, so a test that loads the
/// emulator sees the functions' own timeouts fire, never its own, yet a dead emulator still fails it.
pub const HARNESS_TIMEOUTS: Timeouts = Timeouts::secs(5, 30, 60);

/// SDK configuration for any endpoint (an emulator, or a fault-injecting proxy in front of one): a
/// fixed region, dummy credentials, and `timeouts` (a function's own, to test it as deployed).
pub async fn sdk_config_for(endpoint: &str, timeouts: Timeouts) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .timeout_config(timeouts.config())
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
        .load()
        .await
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's Python: `MOTO_PYTHON`, or the workspace's `.venv` that `make venv` creates (it also
/// holds google-genai, for the simulator's fidelity test).
pub fn python() -> Result<PathBuf, EmulatorError> {
    let path = std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    if path.exists() { Ok(path) } else { Err(EmulatorError::NoPython(path)) }
}
