//! The receiver Lambda: wires configuration and clients, then serves [`receiver::handle`].

use aws_config::BehaviorVersion;
use std::sync::Arc;

use lambda_http::{Error, service_fn};
use receiver::{Config, Receiver, SqsDeliveryQueues};
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let aws =
        aws_config::defaults(BehaviorVersion::latest()).timeout_config(receiver::sdk_timeouts()).load().await;
    let clock = Arc::new(SystemClock);
    let (verifier, notices) =
        receiver::build_verifier(&config, || aws_sdk_secretsmanager::Client::new(&aws), clock.clone())
            .await?;
    for notice in notices {
        tracing::warn!("{notice}");
    }
    let receiver = Receiver {
        verifier,
        queues: SqsDeliveryQueues::new(
            aws_sdk_sqs::Client::new(&aws),
            &config.ingest_queue_url,
            &config.quarantine_queue_url,
        ),
        max_body_bytes: config.max_body_bytes,
        clock,
    };
    let receiver = &receiver;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(receiver::handle(receiver, request).await)
    }))
    .await
}
