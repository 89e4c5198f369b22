//! The example consumer Lambda: wires the claims table, then serves [`consumer::handle`].

use std::sync::Arc;
use std::time::Duration;

use consumer::{Config, Consumer};
use lambda_runtime::service_fn;
use shared::aws::clients::{Clients, timeouts};
use shared::aws::idempotency::Idempotency;
use shared::clock::SystemClock;
use shared::config::FromVars;

/// A claim outlasts the function's 30-second timeout, so a running invocation is never overtaken.
const LEASE_SECS: u64 = 60;
/// Done events are remembered for a week: past Gemini's 24 h of retries and the queue's retention.
const KEEP_SECS: u64 = 7 * 24 * 3600;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    let timeouts = timeouts(Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(20));
    let aws = Clients::load(config.endpoint_url.clone(), timeouts).await;
    let once =
        Idempotency::new(aws.dynamodb(), &config.claims_table, LEASE_SECS, KEEP_SECS, Arc::new(SystemClock));
    let consumer = &Consumer { once };
    lambda_runtime::run(service_fn(move |event| consumer::handle(consumer, event)))
        .await
        .map_err(anyhow::Error::from_boxed)
}
