//! CloudWatch metrics as embedded-metric-format (EMF) log lines: printed to stdout, extracted by
//! CloudWatch Logs, no API call and no latency on the request path.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value, json};

static SILENCED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Lines [`emit`] keeps instead of printing, on this thread, while a test captures them.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Keeps this thread's metric lines from now on instead of printing them, until [`take_captured`]: how
/// a test (on a current-thread runtime) proves a handler emitted a metric.
pub fn capture() {
    CAPTURED.with(|captured| *captured.borrow_mut() = Some(Vec::new()));
}

/// The lines kept since [`capture`], parsed; capturing goes on.
pub fn take_captured() -> Vec<Value> {
    CAPTURED.with(|captured| {
        captured
            .borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    })
}

/// Stops [`emit`] printing, for the rest of the process: for local tools (the demo) whose stdout is
/// for people, not CloudWatch.
pub fn silence() {
    SILENCED.store(true, Ordering::Relaxed);
}

/// The namespace metrics go to unless [`set_namespace`] says otherwise. The template gives each stack
/// its own (`GeminiWebhooks/<stack>`), so two stacks in one account keep apart.
pub const DEFAULT_NAMESPACE: &str = "GeminiWebhooks";

static NAMESPACE: OnceLock<String> = OnceLock::new();

/// Sets the namespace for the rest of the process (`METRICS_NAMESPACE`, read by each function's
/// configuration at cold start). A second call is ignored.
pub fn set_namespace(namespace: &str) {
    let _ = NAMESPACE.set(namespace.to_owned());
}

fn namespace() -> &'static str {
    NAMESPACE.get().map_or(DEFAULT_NAMESPACE, String::as_str)
}

/// The function a metric comes from: its `Function` dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The webhook endpoint.
    Receiver,
    /// The ingest queue's consumer.
    Recorder,
    /// The table stream's consumer.
    Fanout,
    /// The jobs ledger's checks.
    Reconciler,
}

impl Function {
    /// The dimension value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Receiver => "receiver",
            Self::Recorder => "recorder",
            Self::Fanout => "fanout",
            Self::Reconciler => "reconciler",
        }
    }
}

/// Every metric the functions publish: one name each, which the template's alarms and dashboard use
/// too (a test holds them to this list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Receiver: verified and enqueued.
    Accepted,
    /// Receiver: refused, by `reason`.
    Rejected,
    /// Receiver: verified, kept in the quarantine.
    Quarantined,
    /// Receiver: a dependency was down (503).
    EnqueueFailed,
    /// Receiver: a verified ping (`webhooks ping`), answered and not enqueued; no alarm watches it.
    Pings,
    /// Recorder: first delivery of an id.
    Recorded,
    /// Recorder: a retry of a recorded id.
    Duplicates,
    /// Recorder: an id reused with another body.
    Conflicts,
    /// Recorder and fanout: kept in their DLQ at once, refused for good.
    DeadLettered,
    /// Recorder and fanout: to be retried.
    Failed,
    /// Fanout: sent, by `queue`.
    FannedOut,
    /// Fanout: no rule matched (sent to the default queue).
    Unrouted,
    /// Fanout: a workflow's task completed with its job's end.
    Resumed,
    /// Receiver: the endpoint's secret or the signing keys could not be refreshed, by `what`
    /// (`signing_secrets`, `signing_keys`).
    RefreshFailed,
    /// Recorder: a tracked job's end closed its ledger entry this long after the job ended
    /// (milliseconds), by `via` (`webhook`, `reconciliation`).
    EndLag,
    /// Recorder: a tracked job's second end (a late webhook after a reconciliation): recorded, not
    /// routed.
    Superseded,
    /// Reconciler: a tracked job's end read from the API and put into the pipeline (its webhook did not
    /// come in time).
    Reconciled,
    /// Reconciler: a tracked job still not ended at its give-up time.
    Overdue,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 18] = [
        Self::Accepted,
        Self::Rejected,
        Self::Quarantined,
        Self::EnqueueFailed,
        Self::Pings,
        Self::Recorded,
        Self::Duplicates,
        Self::Conflicts,
        Self::DeadLettered,
        Self::Failed,
        Self::FannedOut,
        Self::Unrouted,
        Self::Resumed,
        Self::RefreshFailed,
        Self::EndLag,
        Self::Superseded,
        Self::Reconciled,
        Self::Overdue,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
            Self::Quarantined => "Quarantined",
            Self::EnqueueFailed => "EnqueueFailed",
            Self::Pings => "Pings",
            Self::Recorded => "Recorded",
            Self::Duplicates => "Duplicates",
            Self::Conflicts => "Conflicts",
            Self::DeadLettered => "DeadLettered",
            Self::Failed => "Failed",
            Self::FannedOut => "FannedOut",
            Self::Unrouted => "Unrouted",
            Self::Resumed => "Resumed",
            Self::RefreshFailed => "RefreshFailed",
            Self::EndLag => "EndLag",
            Self::Superseded => "Superseded",
            Self::Reconciled => "Reconciled",
            Self::Overdue => "Overdue",
        }
    }

    /// Its CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Self::EndLag => "Milliseconds",
            _ => "Count",
        }
    }
}

/// One EMF line: `metric` counted `value` times (or, for a time, `value` milliseconds), under `Function` alone when `dimensions` is empty,
/// else under `Function` and each of `dimensions` (name, value) in turn: one line, one CloudWatch metric
/// per dimension (`Rejected` by `reason` and by `class`), so an alarm can watch either.
pub fn emf_line(
    function: Function,
    metric: Metric,
    value: u64,
    dimensions: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    let (metric, unit) = (metric.name(), metric.unit());
    let mut root = Map::new();
    root.insert("Function".into(), function.name().into());
    let mut sets: Vec<Value> = Vec::new();
    for (name, dim_value) in dimensions {
        sets.push(Value::from(vec!["Function", *name]));
        root.insert((*name).into(), (*dim_value).into());
    }
    if sets.is_empty() {
        sets.push(Value::from(vec!["Function"]));
    }
    root.insert(metric.into(), value.into());
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace(),
                "Dimensions": sets,
                "Metrics": [{"Name": metric, "Unit": unit}],
            }],
        }),
    );
    Value::Object(root).to_string()
}

/// Prints an EMF line to stdout, where the Lambda runtime ships it to CloudWatch Logs.
pub fn emit(function: Function, metric: Metric, value: u64, dimensions: &[(&str, &str)], timestamp_ms: i64) {
    let line = || emf_line(function, metric, value, dimensions, timestamp_ms);
    let kept =
        CAPTURED.with(|captured| captured.borrow_mut().as_mut().map(|lines| lines.push(line())).is_some());
    if kept || SILENCED.load(Ordering::Relaxed) {
        return;
    }
    println!("{}", line());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_line_cloudwatch_can_extract() {
        let line = emf_line(
            Function::Receiver,
            Metric::Rejected,
            1,
            &[("reason", "signature_mismatch")],
            1_700_000_000_000,
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Rejected"], 1);
        assert_eq!(value["reason"], "signature_mismatch");
        assert_eq!(value["Function"], "receiver");
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], DEFAULT_NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function", "reason"]]));
        let classed = emf_line(
            Function::Receiver,
            Metric::Rejected,
            1,
            &[("reason", "signature_mismatch"), ("class", "signature")],
            1,
        );
        let classed: Value = serde_json::from_str(&classed).unwrap();
        assert_eq!(
            classed["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "reason"], ["Function", "class"]]),
            "one metric per dimension, so an alarm can watch the class alone"
        );
        assert_eq!(
            (&classed["reason"], &classed["class"]),
            (&json!("signature_mismatch"), &json!("signature"))
        );
        let plain: Value =
            serde_json::from_str(&emf_line(Function::Recorder, Metric::Conflicts, 2, &[], 1)).unwrap();
        assert_eq!(plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"]]));
        assert_eq!(directive["Metrics"], json!([{"Name": "Rejected", "Unit": "Count"}]));
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_000_i64);
    }
}
