//! The recorder Lambda: wires configuration and the DynamoDB client, then serves [`recorder::handle`].

use std::sync::Arc;

use lambda_runtime::service_fn;
use recorder::{Config, Recorder};
use shared::aws::clients::Clients;
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let aws = Clients::load(config.endpoint_url.clone(), recorder::TIMEOUTS).await;
    let recorder = Arc::new(Recorder::from_config(&config, &aws, Arc::new(SystemClock)));
    lambda_runtime::run_concurrent(service_fn(move |event| {
        let recorder = recorder.clone();
        async move { recorder::handle(&recorder, event).await }
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
