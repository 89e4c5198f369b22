//! The receiver Lambda: wires configuration and clients, then serves [`receiver::handle`].

use std::sync::Arc;

use lambda_http::service_fn;
use receiver::{Config, Receiver};
use shared::aws::clients::Clients;
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let aws = Clients::load(config.endpoint_url.clone(), receiver::TIMEOUTS).await;
    let clock = Arc::new(SystemClock);
    let (verifier, notices) =
        receiver::build_verifier(&config, || aws.secretsmanager(), clock.clone()).await?;
    for notice in notices {
        tracing::warn!("{notice}");
    }
    let receiver = Arc::new(Receiver::from_config(&config, verifier, &aws, clock));
    lambda_http::run_concurrent(service_fn(move |request| {
        let receiver = receiver.clone();
        async move { Ok::<_, std::convert::Infallible>(receiver::handle(&receiver, request).await) }
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
