//! `gemini-webhooks`: parses the command line, runs the command, and reports how it ended (exit 0, 1,
//! or 2 for a usage error). Everything else is in the library.

use std::process::ExitCode;

use clap::Parser as _;
use gemini_webhooks::Cli;
use gemini_webhooks::ui::report;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(refused) => return report::command_line(refused),
    };
    let json = cli.global.json;
    // `RUST_LOG` shows the SDK's own logs, on standard error; at debug, every failure's details too.
    let logging = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let verbose =
        cli.global.verbose || logging.as_deref().is_some_and(|v| v.contains("debug") || v.contains("trace"));
    if let Some(filter) = logging {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    // The library's metrics are for the functions' logs, not for a terminal.
    shared::metrics::silence();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(gemini_webhooks::run(cli)));
    report::report(outcome, json, verbose)
}
