//! The receiver Lambda: wires configuration and clients, then serves [`receiver::handle`].

use std::sync::Arc;

use lambda_http::{Error, service_fn};
use receiver::{Config, Receiver, SqsIngestQueue};
use shared::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    receiver::init_tracing();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clock = Arc::new(SystemClock);
    let verification =
        receiver::build_verification(&config, || aws_sdk_secretsmanager::Client::new(&aws), clock.clone())
            .await?;
    let receiver = Receiver {
        verification,
        queue: SqsIngestQueue::new(aws_sdk_sqs::Client::new(&aws), &config.ingest_queue_url),
        max_body_bytes: config.max_body_bytes,
        clock,
    };
    let receiver = &receiver;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(receiver::handle(receiver, request).await)
    }))
    .await
}
