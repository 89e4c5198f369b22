//! Sizes, statistics and the markdown table. Sizes are in MB of 10^6 bytes, memory in MB of 10^6
//! bytes too (from the KiB `/proc` reports): the stricter reading of the targets, and the unit of the
//! binary sizes in docs/performance-and-cost.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Error;
use crate::first_delivery::ColdRow;
use crate::launch::LongRun;

/// The targets for every Rust function.
pub(crate) const TARGET_FIRST_POLL_MS: f64 = 15.0;
/// Peak RSS after the long run.
pub(crate) const TARGET_RSS_MB: f64 = 25.0;
/// The stripped bootstrap.
pub(crate) const TARGET_BINARY_MB: f64 = 12.0;

/// Cold-start samples, summarised.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) min: Duration,
    pub(crate) median: Duration,
    pub(crate) p90: Duration,
    pub(crate) max: Duration,
}

impl Stats {
    /// Median (mean of the middle two for an even count) and nearest-rank p90; `None` when empty.
    pub(crate) fn of(mut samples: Vec<Duration>) -> Option<Self> {
        samples.sort();
        let n = samples.len();
        let (min, max) = (*samples.first()?, *samples.last()?);
        let median = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 };
        let p90 = samples[(n * 9).div_ceil(10).saturating_sub(1)];
        Some(Self { min, median, p90, max })
    }
}

/// What is deployed, and how big it is.
#[derive(Debug, Clone)]
pub(crate) enum Size {
    /// A bootstrap binary, and whether it came stripped.
    Binary { bytes: u64, stripping: Stripping },
    /// A code directory with its `node_modules` (the runtime's own `node` not counted).
    Deployment { bytes: u64 },
}

/// Where a binary's stripped size comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stripping {
    /// It came stripped (the release profile's `strip = true`): `strip` finds nothing to remove.
    Built,
    /// It came with symbols; the size is that of a copy `strip` made.
    Here,
    /// No `strip` on the machine to check with: the file's size, as built.
    Unchecked,
}

impl Size {
    fn bytes(&self) -> u64 {
        match self {
            Self::Binary { bytes, .. } | Self::Deployment { bytes } => *bytes,
        }
    }
}

/// What a row is to the targets: what both tables' last column says for a row not held to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Held to them (the Rust functions; of the cold first deliveries, the receiver).
    Targeted,
    /// Measured, with no target of its own (the recorder's cold first delivery).
    Measured,
    /// What the targets compare with (the Node.js receiver).
    Comparison,
}

impl Role {
    /// The row's last column: `held` for a row held to the targets, else what the row is.
    fn verdict(self, held: impl FnOnce() -> String) -> String {
        match self {
            Self::Targeted => held(),
            Self::Measured => "(no target)".to_owned(),
            Self::Comparison => "(comparison)".to_owned(),
        }
    }
}

/// One row: a function's footprint.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) size: Size,
    pub(crate) first_poll: Stats,
    pub(crate) run: LongRun,
    /// What it is to the targets (the Rust functions are held to them; the Node.js row compares).
    pub(crate) role: Role,
}

/// The binary's size once stripped: its own size when `strip` finds nothing to remove (it only
/// repacks a few bytes of padding of a stripped file), else the size of a stripped copy.
pub(crate) fn stripped_size(path: &Path) -> Result<Size, Error> {
    /// Less than a page saved means there was nothing to strip.
    const NOTHING: u64 = 4096;
    let bytes = std::fs::metadata(path)?.len();
    let copy = std::env::temp_dir().join(format!("footprint-strip-{}", std::process::id()));
    let status = Command::new("strip").arg("-o").arg(&copy).arg(path).status();
    let stripped = match status {
        Ok(status) if status.success() => Some(std::fs::metadata(&copy)?.len()),
        _ => None,
    };
    let _ = std::fs::remove_file(&copy);
    Ok(match stripped {
        Some(after) if bytes.saturating_sub(after) < NOTHING => {
            Size::Binary { bytes, stripping: Stripping::Built }
        }
        Some(after) => Size::Binary { bytes: after, stripping: Stripping::Here },
        None => Size::Binary { bytes, stripping: Stripping::Unchecked },
    })
}

/// `du -sb` of `paths` together: apparent sizes of every file, directory and link under them.
pub(crate) fn apparent_size(paths: &[PathBuf]) -> Result<u64, Error> {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        total += meta.len();
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(total)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

pub(crate) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn peak_mb(row: &Row) -> f64 {
    mb(row.run.memory.peak_kib * 1024)
}

/// The markdown table, then the Node.js-to-Rust ratios when both receivers were measured.
pub(crate) fn table(rows: &[Row], node: Option<&Row>, invocations: usize) -> String {
    let mut out = format!(
        "| function | binary MB | first poll median / p90 ms | min / max ms | peak RSS after {} invocations MB | output per invocation | within targets |\n",
        thousands(invocations)
    );
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for row in rows.iter().chain(node) {
        let size = match &row.size {
            Size::Binary { bytes, stripping: Stripping::Built } => format!("{:.2}", mb(*bytes)),
            Size::Binary { bytes, stripping: Stripping::Here } => {
                format!("{:.2} (after `strip`)", mb(*bytes))
            }
            Size::Binary { bytes, stripping: Stripping::Unchecked } => {
                format!("{:.2} (as built, no `strip` to check)", mb(*bytes))
            }
            Size::Deployment { bytes } => format!("{:.2} (deployment)", mb(*bytes)),
        };
        let verdict = row.role.verdict(|| verdict(row));
        out.push_str(&format!(
            "| {} | {size} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} | {} B | {verdict} |\n",
            row.label,
            ms(row.first_poll.median),
            ms(row.first_poll.p90),
            ms(row.first_poll.min),
            ms(row.first_poll.max),
            peak_mb(row),
            row.run.output_per_invocation,
        ));
    }
    if let Some(node) = node {
        out.push('\n');
        for rust in
            rows.iter().filter(|r| r.label.starts_with("receiver") && matches!(r.role, Role::Targeted))
        {
            out.push_str(&format!(
                "Node.js receiver / {}: first poll {:.0}× (median), peak RSS {:.1}×, size {:.2}×\n",
                rust.label,
                ms(node.first_poll.median) / ms(rust.first_poll.median),
                peak_mb(node) / peak_mb(rust),
                node.size.bytes() as f64 / rust.size.bytes() as f64,
            ));
        }
    }
    out
}

/// The receiver's cold first delivery through TLS: at most this much over the same over plain HTTP.
pub(crate) const TARGET_TLS_OVER_PLAIN_MS: f64 = 5.0;
/// And at least this many times faster than the Node.js receiver's, in the same run.
pub(crate) const TARGET_TIMES_FASTER_THAN_NODE: f64 = 10.0;

/// The cold first deliveries as a markdown table: each phase's median, and the targets.
pub(crate) fn cold_table(rows: &[ColdRow], node: Option<&ColdRow>) -> String {
    let mut out = String::from(
        "| function | first poll median / p90 ms | first answer, plain HTTP, median / p90 ms | first answer through TLS, median / p90 ms | init / first call / TLS, ms (medians) | within targets |\n",
    );
    out.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
    for row in rows.iter().chain(node) {
        let (init, plain, tls) = (ms(row.poll.median), ms(row.plain.median), ms(row.tls.median));
        let verdict = row.role.verdict(|| cold_verdict(row, node));
        out.push_str(&format!(
            "| {} | {init:.1} / {:.1} | {plain:.1} / {:.1} | {tls:.1} / {:.1} | {init:.1} / {:.1} / {:.1} | {verdict} |\n",
            row.label,
            ms(row.poll.p90),
            ms(row.plain.p90),
            ms(row.tls.p90),
            plain - init,
            tls - plain,
        ));
    }
    out
}

fn cold_verdict(row: &ColdRow, node: Option<&ColdRow>) -> String {
    let over = ms(row.tls.median) - ms(row.plain.median);
    let mut missed = Vec::new();
    if over > TARGET_TLS_OVER_PLAIN_MS {
        missed.push(format!("TLS adds {over:.1} ms"));
    }
    if let Some(node) = node {
        let times = ms(node.tls.median) / ms(row.tls.median);
        if times < TARGET_TIMES_FASTER_THAN_NODE {
            missed.push(format!("{times:.1}× Node.js"));
        }
    }
    if missed.is_empty() { "yes".to_owned() } else { format!("NO: {}", missed.join(", ")) }
}

fn verdict(row: &Row) -> String {
    let missed: Vec<&str> = [
        (ms(row.first_poll.median) > TARGET_FIRST_POLL_MS, "first poll"),
        (peak_mb(row) > TARGET_RSS_MB, "RSS"),
        (mb(row.size.bytes()) > TARGET_BINARY_MB, "binary"),
    ]
    .into_iter()
    .filter_map(|(over, what)| over.then_some(what))
    .collect();
    if missed.is_empty() { "yes".to_owned() } else { format!("NO: {}", missed.join(", ")) }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cores and CPU model, for the report.
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map_or("unknown CPU", str::trim);
    format!("{cores} cores ({model})")
}

/// The 1-minute load average, to show how busy the machine was.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
