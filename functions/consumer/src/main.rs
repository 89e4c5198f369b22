//! The example consumer Lambda: wires the claims table, the results bucket and the Gemini API, then
//! serves [`consumer::handle`].

use std::sync::Arc;

use consumer::{Config, Consumer};
use lambda_runtime::service_fn;
use shared::aws::clients::{Clients, Timeouts};
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    let aws = Clients::load(config.endpoint_url.clone(), Timeouts::CONSUMER).await;
    let consumer = Arc::new(Consumer::from_config(&config, &aws, Arc::new(SystemClock)));
    lambda_runtime::run_concurrent(service_fn(move |event| {
        let consumer = consumer.clone();
        async move { consumer::handle(&consumer, event).await }
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
