//! `cargo run -p local-stack --bin footprint`: what each function's release bootstrap costs to deploy, to
//! start and to keep, beside the same receiver written in Node.js.
//!
//! For each of receiver, recorder, fanout and consumer it reports the stripped binary size; the time
//! from `exec` to the first `GET /2018-06-01/runtime/invocation/next` on a minimal local Runtime API
//! (min, median, p90, max of `--starts` starts, 30 by default); and the peak RSS (`VmHWM`) after
//! `--invocations` invocations (1,000) doing the real work against a local emulator (batch sizes in
//! `events`). Then the cold first delivery of the receiver (a `v1` delivery; a `v1a` one, its JWKS
//! fetched from a local server), the recorder and the fanout (`--first-deliveries` starts each, 30 by
//! default): exec to the first invocation's answer, its calls over plain HTTP and through TLS fronts
//! ([`first_delivery`]). The Node.js receiver (`bench/node-receiver`:
//! `standardwebhooks` and the AWS SDK v3, `npm ci --prefix bench/node-receiver` first) gets the same
//! signed events in the same run.
//!
//! Bootstraps come from `cargo build --release` (run first, a no-op when up to date), or from each
//! `--bootstraps DIR` given (`target/lambda` holds `cargo lambda build --release` output). Exits
//! non-zero if any invocation failed or any run did not reach the emulator: a figure for a function
//! that answered errors would be meaningless. Missed targets are reported, not fatal.

mod drain;
mod events;
mod first_delivery;
mod launch;
mod node;
mod report;
mod subjects;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use shared::signature::SigningSecret;
use testkit::{Emulator, Stack, StreamReader, TlsFront};

use crate::drain::Drain;
use crate::events::{Workload, visible_messages};
use crate::first_delivery::{Cold, Jwks};
use crate::launch::Subject;
use crate::node::NodeReceiver;
use crate::report::{Role, Row, Size, Stats, load_average, machine};
use crate::subjects::Target;

/// Every error ends the run with its message.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
#[derive(Debug)]
pub(crate) struct Options {
    bootstraps: Vec<PathBuf>,
    starts: usize,
    first_deliveries: usize,
    functions: Vec<&'static str>,
    pub(crate) invocations: usize,
    fanout_batch: usize,
    node: bool,
}

const USAGE: &str = "usage: footprint [--bootstraps DIR]... [--functions receiver,recorder,...] [--starts N] [--first-deliveries N] [--invocations N] [--fanout-batch N] [--no-node]";

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, Error> {
        let mut options = Self {
            bootstraps: Vec::new(),
            starts: 30,
            first_deliveries: 30,
            functions: subjects::FUNCTIONS.to_vec(),
            invocations: 1000,
            fanout_batch: events::DEFAULT_FANOUT_BATCH,
            node: true,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--bootstraps" => options.bootstraps.push(PathBuf::from(value()?)),
                "--starts" => options.starts = value()?.parse()?,
                "--first-deliveries" => options.first_deliveries = value()?.parse()?,
                "--functions" => {
                    let asked = value()?;
                    options.functions = subjects::FUNCTIONS
                        .into_iter()
                        .filter(|f| asked.split(',').any(|a| a == *f))
                        .collect();
                    // In pipeline order, each run feeding the next: a later one needs the earlier ones.
                    if options.functions.is_empty()
                        || options.functions != subjects::FUNCTIONS[..options.functions.len()]
                    {
                        return Err(format!(
                            "--functions takes a start of {:?}\n{USAGE}",
                            subjects::FUNCTIONS
                        )
                        .into());
                    }
                }
                "--invocations" => options.invocations = value()?.parse()?,
                "--fanout-batch" => options.fanout_batch = value()?.parse()?,
                "--no-node" => options.node = false,
                _ => return Err(format!("unknown argument {arg}\n{USAGE}").into()),
            }
        }
        if options.starts == 0 || options.invocations == 0 || options.first_deliveries == 0 {
            return Err("--starts, --first-deliveries and --invocations must be at least 1".into());
        }
        if !(1..=events::TEMPLATE_FANOUT_BATCH).contains(&options.fanout_batch) {
            return Err("--fanout-batch must be 1 to 100 (the template's batch size)".into());
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("footprint failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let options = Options::parse(std::env::args().skip(1))?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let sets = if options.bootstraps.is_empty() {
        build_release(&root, &options.functions)?;
        vec![root.join("target/release")]
    } else {
        options.bootstraps.clone()
    };
    let node = if options.node { Some(NodeReceiver::find(&root)?) } else { None };
    let load_before = load_average();

    eprintln!("starting the emulator (moto) on loopback ...");
    let emulator = Emulator::start()?;
    let sqs = emulator.sqs().await;
    let secret = SigningSecret::generate();
    let mut rows = Vec::new();
    for (index, dir) in sets.iter().enumerate() {
        let stack = Stack::create(&emulator).await?;
        let target = Target { endpoint: emulator.endpoint(), stack: &stack, secret: &secret };
        let place = (sets.len() > 1).then(|| dir.display().to_string());
        rows.extend(measure_set(&emulator, &target, dir, place.as_deref(), index, &options).await?);
        purge(&sqs, &stack).await?;
    }
    let upstream = emulator.endpoint().trim_start_matches("http://").parse()?;
    let front = TlsFront::start(upstream).await?;
    let jwks = Jwks::start(&front).await?;
    let mut cold_rows = Vec::new();
    for dir in &sets {
        let place = (sets.len() > 1).then(|| dir.display().to_string());
        let cold = Cold { emulator: &emulator, front: &front, jwks: &jwks, secret: &secret };
        cold_rows.extend(first_delivery::of_set(&cold, dir, place.as_deref(), &options).await?);
    }
    let node_cold = match &node {
        Some(node) => Some(node.first_deliveries(&emulator, &front, &secret, &options).await?),
        None => None,
    };
    let node_row = match &node {
        Some(node) => {
            let stack = Stack::create(&emulator).await?;
            let target = Target { endpoint: emulator.endpoint(), stack: &stack, secret: &secret };
            Some(node.measure(&sqs, &target, &options).await?)
        }
        None => None,
    };

    println!("\nmachine: {}; load average {load_before} before, {} after", machine(), load_average());
    println!(
        "cold start: {} starts each, exec to the first `GET /2018-06-01/runtime/invocation/next` on a local \
         Runtime API; memory: VmHWM after {} invocations of real work against moto on loopback \
         (recorder and consumer batches of {}, fanout batches of {} stream records), \
         AWS_LAMBDA_FUNCTION_MEMORY_SIZE={}",
        options.starts,
        options.invocations,
        events::RECORDER_BATCH,
        options.fanout_batch,
        subjects::MEMORY_MB
    );
    for dir in &sets {
        println!("bootstraps: {}", dir.display());
    }
    if let Some(node) = &node {
        println!("node: {} ({})", node.program.display(), node.version);
    }
    println!("\n{}", report::table(&rows, node_row.as_ref(), options.invocations));
    println!(
        "cold first delivery: {} starts each over plain HTTP and through TLS (a local CA, trusted \
         through SSL_CERT_FILE naming the system's roots and it / NODE_EXTRA_CA_CERTS), interleaved; \
         exec to the answer of the invocation that caused the cold start (the receiver: one v1 delivery \
         enqueued, or one v1a delivery verified with the JWKS it fetched first and enqueued; the \
         recorder: a batch of {batch} written; the fanout: a batch of {batch} stream records, the \
         recorder's, routed)\n",
        options.first_deliveries,
        batch = events::RECORDER_BATCH,
    );
    println!("{}", report::cold_table(&cold_rows, node_cold.as_ref()));
    Ok(())
}

/// `cargo build --release` of the functions measured, so the default bootstraps are never stale.
fn build_release(root: &Path, functions: &[&str]) -> Result<(), Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(["build", "--release"]);
    for function in functions {
        command.args(["-p", function]);
    }
    eprintln!("building the release bootstraps ...");
    let status = command.status()?;
    if status.success() { Ok(()) } else { Err(format!("cargo build --release failed: {status}").into()) }
}

/// Every function of one set of bootstraps, in pipeline order: each run's output is the next one's
/// input (the recorder's stream records feed the fanout, the fanout's messages the consumer).
async fn measure_set(
    emulator: &Emulator,
    target: &Target<'_>,
    dir: &Path,
    place: Option<&str>,
    set: usize,
    options: &Options,
) -> Result<Vec<Row>, Error> {
    let sqs = emulator.sqs().await;
    let stack = target.stack;
    let mut stream = StreamReader::open(&emulator.sdk_config().await, &stack.stream_arn).await?;
    let mut downstream = Vec::new();
    let mut rows = Vec::new();
    for function in options.functions.iter().copied() {
        let path = subjects::bootstrap(dir, function)?;
        let label = match place {
            Some(place) => format!("{function} ({place})"),
            None => function.to_owned(),
        };
        let subject = subjects::rust(function, label, path.clone(), target);
        let mut workload = match function {
            "receiver" => Workload::deliveries(target.secret, &format!("msg_fp{set}_rx")),
            "recorder" => Workload::ingest(&format!("msg_fp{set}_rec"), &stack.ingest.arn),
            "fanout" => {
                // The consumer's queue, as the template subscribes it: the example consumer on BatchQueue.
                let drain =
                    Drain::new(sqs.clone(), stack, "batch", options.invocations * events::CONSUMER_BATCH);
                let records = options.invocations * events::RECORDER_BATCH;
                Workload::stream(&mut stream, records, options.fanout_batch, drain).await?
            }
            _ => Workload::downstream(std::mem::take(&mut downstream))?,
        };
        // The receiver's messages stay on the ingest queue: all of them must be there afterwards.
        let ingest = [stack.ingest.url.as_str()];
        let before = count(&sqs, &ingest).await?;
        let size = report::stripped_size(&path)?;
        let row = measure(&subject, size.clone(), &mut workload, options).await?;
        if function == "receiver" {
            let expected = workload.records(options.invocations);
            check_enqueued(&sqs, &ingest, before, expected, &subject.label).await?;
        }
        if function == "fanout" {
            downstream = workload.into_kept();
        }
        rows.push(row);
        // What the template's SSL_CERT_FILE saves, in the same run: the receiver without it.
        if function == "receiver" {
            let probed = subjects::roots_probed(&subject);
            let mut workload = Workload::deliveries(target.secret, &format!("msg_fp{set}_rx_probed"));
            let before = count(&sqs, &ingest).await?;
            let mut row = measure(&probed, size, &mut workload, options).await?;
            check_enqueued(&sqs, &ingest, before, workload.records(options.invocations), &probed.label)
                .await?;
            row.role = Role::Comparison;
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Fails unless `expected` more messages wait on `urls` than `before`: a receiver's 200 must mean
/// the message was enqueued.
pub(crate) async fn check_enqueued(
    sqs: &aws_sdk_sqs::Client,
    urls: &[&str],
    before: u64,
    expected: usize,
    label: &str,
) -> Result<(), Error> {
    let arrived = count(sqs, urls).await? - before;
    if arrived == expected as u64 {
        Ok(())
    } else {
        Err(format!("{label} accepted {expected} deliveries but {arrived} arrived on the queue").into())
    }
}

/// Messages waiting in all of `urls`.
pub(crate) async fn count(sqs: &aws_sdk_sqs::Client, urls: &[&str]) -> Result<u64, Error> {
    let mut total = 0;
    for url in urls {
        total += visible_messages(sqs, url).await?;
    }
    Ok(total)
}

/// Cold starts, then the long run, of one function.
pub(crate) async fn measure(
    subject: &Subject,
    size: Size,
    workload: &mut Workload,
    options: &Options,
) -> Result<Row, Error> {
    eprintln!("{}: {} cold starts ...", subject.label, options.starts);
    let mut samples = Vec::with_capacity(options.starts);
    for _ in 0..options.starts {
        samples.push(launch::first_poll(subject).await?);
    }
    let first_poll = Stats::of(samples).ok_or("no cold-start samples")?;
    eprintln!("{}: {} invocations ...", subject.label, options.invocations);
    let run = launch::long_run(subject, workload, options.invocations).await?;
    eprintln!(
        "{}: first poll median {:.1} ms; {} invocations in {:.1} s; VmHWM {} KiB, VmRSS {} KiB",
        subject.label,
        first_poll.median.as_secs_f64() * 1e3,
        options.invocations,
        run.elapsed.as_secs_f64(),
        run.memory.peak_kib,
        run.memory.now_kib,
    );
    let role = if matches!(size, Size::Binary { .. }) { Role::Targeted } else { Role::Comparison };
    Ok(Row { label: subject.label.clone(), size, first_poll, run, role })
}

/// Empties the stack's queues, so the emulator does not carry one set's messages into the next.
async fn purge(sqs: &aws_sdk_sqs::Client, stack: &Stack) -> Result<(), Error> {
    for queue in std::iter::once(&stack.ingest).chain(stack.routed.values()) {
        sqs.purge_queue().queue_url(&queue.url).send().await?;
    }
    Ok(())
}
