//! The example consumer Lambda: wires the claims table, the results bucket and the Gemini API, then
//! serves [`consumer::handle`].

use std::sync::Arc;
use std::time::Duration;

use consumer::{Config, Consumer, GeminiAccess, ResultsBucket};
use lambda_runtime::service_fn;
use shared::aws::clients::{Clients, timeouts};
use shared::aws::idempotency::Idempotency;
use shared::clock::SystemClock;
use shared::config::FromVars;

/// A claim outlasts the function's 120-second timeout, so a running invocation is never overtaken.
const LEASE_SECS: u64 = 180;
/// Done events are remembered for a week: past Gemini's 24 h of retries and the queue's retention.
const KEEP_SECS: u64 = 7 * 24 * 3600;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    let timeouts = timeouts(Duration::from_secs(1), Duration::from_secs(10), Duration::from_secs(30));
    let aws = Clients::load(config.endpoint_url.clone(), timeouts).await;
    let once =
        Idempotency::new(aws.dynamodb(), &config.claims_table, LEASE_SECS, KEEP_SECS, Arc::new(SystemClock));
    let results = ResultsBucket::new(consumer::bucket::s3_client(&aws), &config.results_bucket);
    let gemini = GeminiAccess::new(aws.secretsmanager(), &config.api_key_secret, &config.api_base);
    let consumer = &Consumer { once, results, gemini };
    lambda_runtime::run(service_fn(move |event| consumer::handle(consumer, event)))
        .await
        .map_err(anyhow::Error::from_boxed)
}
