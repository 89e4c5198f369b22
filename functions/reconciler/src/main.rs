//! The reconciler Lambda: wires configuration and clients, then serves [`reconciler::handle`].

use std::sync::Arc;

use lambda_runtime::service_fn;
use reconciler::{Config, ReconcilerFunction};
use shared::aws::clients::Clients;
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let aws = Clients::load(config.endpoint_url.clone(), reconciler::TIMEOUTS).await;
    let function = Arc::new(ReconcilerFunction::from_config(&config, &aws, Arc::new(SystemClock)));
    lambda_runtime::run_concurrent(service_fn(move |event| {
        let function = function.clone();
        async move { reconciler::handle(&function, event).await }
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
