//! `make load`: 10,000 signed deliveries (5 % of them retries) from 32 concurrent senders through the
//! local pipeline, then the receiver's latency and throughput, and proof that every event reached its
//! routed queue exactly once. Exits non-zero when one was lost, duplicated or misrouted.
//!
//! Options: `--deliveries N`, `--senders N`, `--duplicates PERCENT`, `--seed N`.

use std::process::ExitCode;
use std::time::Duration;

use local_stack::load::{self, LoadPlan, LoadReport};
use testkit::Emulator;

#[tokio::main]
async fn main() -> ExitCode {
    let plan = match parse_args(std::env::args().skip(1)) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("load: {message}");
            return ExitCode::from(2);
        }
    };
    shared::metrics::silence();
    println!(
        "{} deliveries ({} events, {} retries) from {} senders; starting the emulator ...",
        plan.deliveries,
        plan.unique(),
        plan.duplicates(),
        plan.senders
    );
    let report = match Emulator::start() {
        Ok(emulator) => load::run(&emulator, plan).await,
        Err(error) => Err(error.into()),
    };
    match report {
        Ok(report) => {
            print_report(&report);
            if report.holds() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("load failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<LoadPlan, String> {
    let mut plan = LoadPlan { deliveries: 10_000, senders: 32, duplicate_percent: 5, seed: 2026 };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--deliveries" => plan.deliveries = number()? as usize,
            "--senders" => plan.senders = number()?.max(1) as usize,
            "--duplicates" => plan.duplicate_percent = number()?.min(100) as usize,
            "--seed" => plan.seed = number()?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(plan)
}

fn print_report(report: &LoadReport) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let d = &report.downstream;
    println!();
    println!("answers           {:?} ({} retried after a 503)", report.statuses, report.retried);
    println!(
        "receiver latency  p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(report.latency_percentile(50.0)),
        ms(report.latency_percentile(90.0)),
        ms(report.latency_percentile(99.0)),
        ms(report.latency_percentile(100.0)),
    );
    println!(
        "throughput        {:.0} deliveries/s ({} in {:.2} s)",
        report.throughput(),
        report.plan.deliveries,
        report.sending.as_secs_f64()
    );
    println!(
        "settled           every event downstream {:.2} s after the first delivery",
        report.settled.as_secs_f64()
    );
    let hop = |name: &str, sorted: &[i64]| {
        let at = |percent| load::percentile(sorted, percent).unwrap_or_default();
        println!(
            "{name:<17} p50 {} ms, p99 {} ms, max {} ms ({} events)",
            at(50.0),
            at(99.0),
            at(100.0),
            sorted.len()
        );
    };
    let hops = &report.hops;
    println!("per hop, from the times the pipeline stamps on each event:");
    hop("  ingest→recorded", &hops.ingest_to_recorded);
    hop("  recorded→routed", &hops.recorded_to_routed);
    hop("  routed→consumer", &hops.routed_to_consumer);
    hop("  end to end", &hops.end_to_end);
    println!(
        "triggers          recorder got {} ingest messages ({} failed), fanout got {} new events ({} failed)",
        report.drained.ingested,
        report.drained.ingest_failures,
        report.drained.inserts,
        report.drained.stream_failures
    );
    println!(
        "downstream        {} exactly once; lost {}, duplicated {}, misrouted {}, unexpected {}",
        d.exactly_once, d.lost, d.duplicated, d.misrouted, d.unexpected
    );
    println!("{}", if report.holds() { "every event exactly once" } else { "FAILED" });
}
