//! The example consumer Lambda: wires the claims table, the results bucket and the Gemini API, then
//! serves [`consumer::handle`].

use std::sync::Arc;
use std::time::Duration;

use consumer::{Config, Consumer};
use lambda_runtime::service_fn;
use shared::aws::clients::{Clients, timeouts};
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    let timeouts = timeouts(Duration::from_secs(1), Duration::from_secs(10), Duration::from_secs(30));
    let aws = Clients::load(config.endpoint_url.clone(), timeouts).await;
    let consumer = &Consumer::new(&aws, &config, Arc::new(SystemClock));
    lambda_runtime::run(service_fn(move |event| consumer::handle(consumer, event)))
        .await
        .map_err(anyhow::Error::from_boxed)
}
