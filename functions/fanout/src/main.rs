//! The fanout Lambda: wires the routes and the SQS client, then serves [`fanout::handle`].

use std::sync::Arc;

use fanout::{DEFAULT_MAX_ATTEMPTS, Fanout, SqsPublisher};
use lambda_runtime::service_fn;
use shared::aws::clients::Clients;
use shared::aws::sqs::SqsQueue;
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = fanout::Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let sqs = Clients::load(config.endpoint_url.clone(), fanout::sdk_timeouts()).await.sqs();
    let fanout = Fanout {
        routes: config.routes,
        publisher: SqsPublisher::new(sqs.clone()),
        dead_letters: SqsQueue::new(sqs, &config.dead_letter_queue_url),
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        clock: Arc::new(SystemClock),
    };
    let fanout = &fanout;
    lambda_runtime::run(service_fn(move |event| fanout::handle(fanout, event)))
        .await
        .map_err(anyhow::Error::from_boxed)
}
