//! `gemini-sim`: the simulator alone, for your own code: prints its base URL and the API key it accepts,
//! then serves until Ctrl-C.
//!
//! ```text
//! gemini-sim [--port N] [--api-key KEY] [--finish-after SECONDS|never] [--ping-text TEXT]
//! ```
//!
//! Jobs end on their own after `--finish-after` (2 s by default), or when `POST /_sim/{job}:finish`
//! says, with the outcome it gives. A ping carries a `webhook.ping` event, or `--ping-text` as it is
//! (Gemini documents no ping body: test your receiver with both).

use std::process::ExitCode;
use std::time::Duration;

use gemini_sim::{PingBody, Settings, Simulator};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut port, mut api_key, mut settings) = (0u16, "sim-api-key".to_owned(), Settings::default());
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(value)) if value.parse::<u16>().is_ok() => port = value.parse().unwrap_or(0),
            ("--api-key", Some(value)) => api_key = value,
            ("--ping-text", Some(value)) => settings.ping_body = PingBody::Raw(value.into_bytes()),
            ("--finish-after", Some(value)) => match (value.as_str(), seconds(&value)) {
                ("never", _) => settings.finish_jobs_after = None,
                (_, Some(after)) => settings.finish_jobs_after = Some(after),
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let simulator = match Simulator::start_on(&format!("127.0.0.1:{port}"), &api_key, settings).await {
        Ok(simulator) => simulator,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("GEMINI_API_BASE={}", simulator.base_url());
    println!("GEMINI_API_KEY={}", simulator.api_key());
    println!("JWKS_URL={}", simulator.jwks_url());
    println!();
    println!("a local Gemini WebhookService (v1, the SDKs' default, and v1beta); try:");
    println!(
        "  gemini-webhooks webhooks create --url http://127.0.0.1:8080/ --secret-arn ... (with the two lines above exported)"
    );
    println!("  python: genai.Client(api_key=KEY, http_options={{\"base_url\": BASE}}).webhooks.list()");
    println!(
        "  an event: curl -X POST BASE/_sim/events -d '{{\"type\": \"batch.succeeded\", \"data\": {{\"id\": \"batches/1\"}}}}'"
    );
    println!(
        "  a job's end, now and as you choose: curl -X POST BASE/_sim/batches/ID:finish -d '{{\"outcome\": \"failed\"}}'"
    );
    println!("Ctrl-C stops it");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: gemini-sim [--port N] [--api-key KEY] [--finish-after SECONDS|never] [--ping-text TEXT]"
    );
    ExitCode::from(2)
}

/// A non-negative number of seconds that fits a `Duration`.
fn seconds(value: &str) -> Option<Duration> {
    value.parse::<f64>().ok().and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}
