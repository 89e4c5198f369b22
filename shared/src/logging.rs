//! Logging for every function: one JSON object per line on stdout, which CloudWatch Logs indexes.

use tracing::{Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber on stdout. `RUST_LOG` sets the level (default `info`); bodies, secrets
/// and signatures are only ever logged at `debug` or below.
pub fn init() {
    subscriber(std::io::stdout, std::env::var("RUST_LOG").ok().as_deref()).init();
}

/// The subscriber every function logs through, writing one JSON object a line to `writer` at the
/// levels `directives` set (`RUST_LOG`'s syntax): what `init` installs and tests capture. Each line
/// carries the spans it was written in (`spans`): the runtime's invocation span (`requestId`,
/// `xrayTraceId`) and, for a line about one delivery, its `delivery` span with the delivery's
/// `trace_id` (`shared::trace`), so one delivery's lines are found across every function's log group.
/// Lambda stamps each line, so no timestamp.
pub fn subscriber<W>(writer: W, directives: Option<&str>) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(filter(directives))
}

/// `RUST_LOG`'s directives (`debug`, `warn,shared=debug`): a level per target, `info` when unset or
/// unreadable. `Targets` rather than `EnvFilter`: the same directives less the span and field
/// matching, which no function needs, and without the regex engine that cost each binary about 470 KB
/// (docs/performance-and-cost.md, Footprint).
fn filter(directives: Option<&str>) -> Targets {
    directives
        .and_then(|d| d.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn rust_log_sets_levels_per_target_and_anything_unreadable_is_info() {
        assert_eq!(filter(None).default_level(), Some(LevelFilter::INFO));
        assert_eq!(filter(Some("debug")).default_level(), Some(LevelFilter::DEBUG));
        let mixed = filter(Some("warn,gemini_webhooks_aws=debug"));
        assert!(mixed.would_enable("gemini_webhooks_aws::refresh", &Level::DEBUG));
        assert!(!mixed.would_enable("aws_smithy_runtime", &Level::INFO));
        assert_eq!(filter(Some("=nonsense=")).default_level(), Some(LevelFilter::INFO));
    }

    /// What a test reads lines from: the bytes every line wrote.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_about_a_delivery_carries_its_trace_id_and_the_invocation_s() {
        let captured = Captured::default();
        let writer = captured.clone();
        let trace: crate::trace::TraceHeader =
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".parse().unwrap();
        tracing::subscriber::with_default(subscriber(move || writer.clone(), None), || {
            let invoke = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let _invoke = invoke.enter();
            crate::trace::delivery_span(Some(&trace))
                .in_scope(|| tracing::info!(webhook_id = "msg_1", "recorded"));
            tracing::info!("outside any delivery");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["spans"][0]["requestId"], "r-1");
        assert_eq!(lines[0]["spans"][1]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(lines[0]["fields"]["webhook_id"], "msg_1");
        assert_eq!(lines[1]["spans"].as_array().unwrap().len(), 1, "{}", lines[1]);
    }
}
