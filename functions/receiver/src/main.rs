//! The receiver Lambda: wires configuration and clients, then serves [`receiver::handle`].

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

use lambda_http::{Error, service_fn};
use receiver::{Config, Receiver, SqsIngestQueue};
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = Config::from_env()?;
    // Gemini wants an answer within seconds: a slow dependency must become a 503 it will retry.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    let aws = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await;
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
