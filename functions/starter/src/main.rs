//! The starter Lambda: wires configuration and clients, then serves [`starter::handle`].

use std::sync::Arc;

use lambda_runtime::service_fn;
use shared::aws::clients::Clients;
use shared::clock::SystemClock;
use shared::config::FromVars;
use starter::{Config, Starter};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    let aws = Clients::load(config.endpoint_url.clone(), starter::TIMEOUTS).await;
    let starter = Arc::new(Starter::from_config(&config, &aws, Arc::new(SystemClock)));
    lambda_runtime::run_concurrent(service_fn(move |event| {
        let starter = starter.clone();
        async move { starter::handle(&starter, event).await }
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
