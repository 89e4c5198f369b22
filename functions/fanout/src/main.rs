//! The fanout Lambda: wires the routes and the SQS client, then serves [`fanout::handle`].

use std::sync::Arc;

use fanout::Fanout;
use lambda_runtime::service_fn;
use shared::aws::clients::Clients;
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = fanout::Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let aws = Clients::load(config.endpoint_url.clone(), fanout::TIMEOUTS).await;
    let fanout = Arc::new(Fanout::from_config(config, &aws, Arc::new(SystemClock)));
    lambda_runtime::run_concurrent(service_fn(move |event| {
        let fanout = fanout.clone();
        async move { fanout::handle(&fanout, event).await }
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
