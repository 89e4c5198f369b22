//! Logging for every function: one JSON object per line on stdout, which CloudWatch Logs indexes.

/// Installs the JSON subscriber. `RUST_LOG` sets the level (default `info`); bodies, secrets and
/// signatures are only ever logged at `debug` or below. Lambda stamps each line, so no timestamp.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
}
