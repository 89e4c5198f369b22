//! `gemini-sim`: the simulator alone, for your own code: prints its base URL and the API key it accepts,
//! then serves until Ctrl-C.
//!
//! ```text
//! gemini-sim [--port N] [--api-key KEY]
//! ```

use std::process::ExitCode;

use gemini_sim::{Settings, Simulator};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut port, mut api_key) = (0u16, "sim-api-key".to_owned());
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(value)) if value.parse::<u16>().is_ok() => port = value.parse().unwrap_or(0),
            ("--api-key", Some(value)) => api_key = value,
            _ => {
                eprintln!("usage: gemini-sim [--port N] [--api-key KEY]");
                return ExitCode::from(2);
            }
        }
    }
    let simulator =
        match Simulator::start_on(&format!("127.0.0.1:{port}"), &api_key, Settings::default()).await {
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
    println!("a local Gemini WebhookService (v1beta and v1); try:");
    println!(
        "  gemini-webhooks webhooks create --url http://127.0.0.1:8080/ --secret-arn ... (with the two lines above exported)"
    );
    println!(
        "  python: genai.Client(api_key=KEY, http_options={{\"base_url\": BASE, \"api_version\": \"v1beta\"}}).webhooks.list()"
    );
    println!(
        "  an event: curl -X POST BASE/_sim/events -d '{{\"type\": \"batch.succeeded\", \"data\": {{\"id\": \"batches/1\"}}}}'"
    );
    println!("Ctrl-C stops it");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
