//! Starting a function process the way Lambda does, and the two measurements taken of it: time from
//! `exec` to its first Runtime API poll, and peak RSS after a long run of real invocations.
//!
//! The process gets a cleared environment holding only what Lambda would set, so nothing from the
//! developer's shell (a `~/.aws` profile, `RUST_LOG=trace`, proxies) changes what is measured. Its
//! output is drained (Lambda drains it to CloudWatch; a full pipe would stall it) and the last lines are
//! kept to explain a failure. Its exit is noticed from its output pipes closing, so the harness waits
//! on real events only, never on a timer.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::Error;
use crate::events::Workload;
use testkit::{Invocation, Outcome, RuntimeApi};

/// How long each invocation may run, as the Runtime API tells the function: the template's longest
/// timeout, the example consumer's (which starts a record only with its whole follow-up time left).
const DEADLINE: Duration = Duration::from_secs(consumer::FUNCTION_TIMEOUT_SECS);

/// Lines of output kept for a failure report.
const TAIL_LINES: usize = 30;

/// A function to start: program, arguments and environment (the Runtime API's address is added).
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// What the report calls it.
    pub(crate) label: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`, also in the invoked ARN.
    pub(crate) function_name: String,
    /// The executable, an absolute path (the environment holds no `PATH` to search).
    pub(crate) program: PathBuf,
    /// Its arguments.
    pub(crate) args: Vec<String>,
    /// Its working directory (Lambda's is the code's directory).
    pub(crate) dir: Option<PathBuf>,
    /// The whole environment but `AWS_LAMBDA_RUNTIME_API`.
    pub(crate) env: Vec<(String, String)>,
}

/// A started function process, killed when dropped.
struct Running {
    child: Child,
    /// One message per output stream reaching end of file.
    closed: mpsc::UnboundedReceiver<()>,
    open_streams: usize,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Bytes written to stdout and stderr: what CloudWatch Logs would ingest (and bill).
    output_bytes: Arc<AtomicU64>,
}

impl Running {
    /// Starts `subject` against `api`; returns the instant just before `spawn` (the `exec`) with it.
    fn spawn(subject: &Subject, api: &RuntimeApi) -> Result<(Instant, Self), Error> {
        let mut command = Command::new(&subject.program);
        command
            .args(&subject.args)
            .env_clear()
            .envs(subject.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &subject.dir {
            command.current_dir(dir);
        }
        let t0 = Instant::now();
        let mut child =
            command.spawn().map_err(|e| format!("starting {}: {e}", subject.program.display()))?;
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let output_bytes = Arc::new(AtomicU64::new(0));
        let (closed_tx, closed) = mpsc::unbounded_channel();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        let open_streams = streams.iter().flatten().count();
        for stream in streams.into_iter().flatten() {
            let (tail, closed_tx, output_bytes) = (tail.clone(), closed_tx.clone(), output_bytes.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    output_bytes.fetch_add(line.len() as u64 + 1, Ordering::Relaxed);
                    let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                let _ = closed_tx.send(());
            });
        }
        Ok((t0, Self { child, closed, open_streams, tail, output_bytes }))
    }

    /// Resolves once the process has closed its output, i.e. exited. Cancel-safe, for `select!`.
    async fn exited(&mut self) {
        while self.open_streams > 0 {
            if self.closed.recv().await.is_none() {
                return;
            }
            self.open_streams -= 1;
        }
    }

    /// The process's last lines of output, for an error message.
    fn tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tail.iter().map(|line| format!("    | {line}\n")).collect()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `event`, unless the process exits first (then an error with its last output).
async fn unless_exited<T>(
    running: &mut Running,
    label: &str,
    waiting_for: &str,
    event: impl Future<Output = Option<T>>,
) -> Result<T, Error> {
    let got = tokio::select! {
        got = event => got,
        () = running.exited() => None,
    };
    got.ok_or_else(|| {
        format!("{label} exited while the harness waited for {waiting_for}:\n{}", running.tail()).into()
    })
}

/// One cold start: from just before `exec` to the arrival of the first `invocation/next` poll. The
/// process is killed as soon as it has polled.
pub(crate) async fn first_poll(subject: &Subject) -> Result<Duration, Error> {
    let mut api = RuntimeApi::start(&subject.function_name, DEADLINE).await?;
    let (t0, mut running) = Running::spawn(subject, &api)?;
    let arrived = unless_exited(&mut running, &subject.label, "its first poll", api.next_poll()).await?;
    Ok(arrived.duration_since(t0))
}

/// One cold start taken as far as its first answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColdStart {
    /// From `exec` to the first poll.
    pub(crate) poll: Duration,
    /// From `exec` to the first invocation's answer (its calls to AWS made).
    pub(crate) answer: Duration,
}

/// One cold start that handles a first invocation, `payload`: from just before `exec` to its first
/// poll, and to its answer, which must pass `check` (a failure is an error, with its output). The
/// event is handed over as soon as the poll arrives, as Lambda hands over the event that caused the
/// cold start.
pub(crate) async fn first_answer(
    subject: &Subject,
    payload: Vec<u8>,
    check: impl Fn(&str, &Outcome) -> Result<(), String>,
) -> Result<ColdStart, Error> {
    let mut api = RuntimeApi::start(&subject.function_name, DEADLINE).await?;
    let (t0, mut running) = Running::spawn(subject, &api)?;
    let label = subject.label.as_str();
    let polled = unless_exited(&mut running, label, "its first poll", api.next_poll()).await?;
    let request_id = "00000000-0000-4000-8000-00000000c01d".to_owned();
    api.invoke(Invocation { request_id: request_id.clone(), payload });
    let outcome = unless_exited(&mut running, label, "its first answer", api.next_outcome()).await?;
    let answered = Instant::now();
    check(&request_id, &outcome)
        .map_err(|e| format!("{label}, first invocation: {e}\n{}", running.tail()))?;
    Ok(ColdStart { poll: polled.duration_since(t0), answer: answered.duration_since(t0) })
}

/// Peak and current resident memory of a process, from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// `VmHWM`: the peak resident set size.
    pub(crate) peak_kib: u64,
    /// `VmRSS`: the resident set size now.
    pub(crate) now_kib: u64,
}

impl Memory {
    fn of(pid: u32) -> Result<Self, Error> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64, Error> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("no {name} in /proc/{pid}/status").into())
        };
        Ok(Self { peak_kib: field("VmHWM:")?, now_kib: field("VmRSS:")? })
    }
}

/// What a long run came to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LongRun {
    /// Memory once the last invocation was answered and the function polled again.
    pub(crate) memory: Memory,
    /// Wall time of the whole run.
    pub(crate) elapsed: Duration,
    /// Output (logs and EMF metrics) per invocation, start-up lines included, in bytes.
    pub(crate) output_per_invocation: u64,
}

/// Starts the function once and hands it `invocations` events from `workload`, one at a time as
/// Lambda does, checking every answer; memory is read once it has answered the last and polled again
/// (so nothing of that invocation is still in flight). Any failed invocation fails the run.
pub(crate) async fn long_run(
    subject: &Subject,
    workload: &mut Workload,
    invocations: usize,
) -> Result<LongRun, Error> {
    let mut api = RuntimeApi::start(&subject.function_name, DEADLINE).await?;
    let (started, mut running) = Running::spawn(subject, &api)?;
    let label = subject.label.as_str();
    for index in 0..invocations {
        unless_exited(&mut running, label, "a poll", api.next_poll()).await?;
        let request_id = format!("{index:08}-0000-4000-8000-{index:012}");
        api.invoke(Invocation { request_id: request_id.clone(), payload: workload.event(index)? });
        let outcome = unless_exited(&mut running, label, "an answer", api.next_outcome()).await?;
        workload
            .check(&request_id, &outcome)
            .map_err(|e| format!("{label}, invocation {index} of {invocations}: {e}\n{}", running.tail()))?;
        workload
            .after(index, index + 1 == invocations)
            .await
            .map_err(|e| format!("{label}, after invocation {index}: {e}"))?;
    }
    unless_exited(&mut running, label, "the poll after the last answer", api.next_poll()).await?;
    let memory = Memory::of(running.pid())?;
    let output_per_invocation = running.output_bytes.load(Ordering::Relaxed) / invocations as u64;
    Ok(LongRun { memory, elapsed: started.elapsed(), output_per_invocation })
}
