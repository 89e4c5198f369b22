//! Logging for every function: one JSON object per line on stdout, which CloudWatch Logs indexes.

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber. `RUST_LOG` sets the level (default `info`); bodies, secrets and
/// signatures are only ever logged at `debug` or below. Lambda stamps each line, so no timestamp.
pub fn init() {
    let fmt = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .finish();
    fmt.with(filter(std::env::var("RUST_LOG").ok().as_deref())).init();
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
}
