//! The recorder Lambda: wires configuration and the DynamoDB client, then serves [`recorder::handle`].

use std::sync::Arc;

use lambda_runtime::{Error, service_fn};
use recorder::{Config, DynamoDbEventStore, Recorder};
use shared::aws::sqs::SqsQueue;
use shared::clock::SystemClock;
use shared::config::FromVars;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = Config::from_env()?;
    shared::metrics::set_namespace(&config.metrics_namespace);
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(recorder::sdk_timeouts())
        .load()
        .await;
    let recorder = Recorder {
        store: DynamoDbEventStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table),
        dead_letters: SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &config.dead_letter_queue_url),
        ttl_secs: config.ttl_secs,
        clock: Arc::new(SystemClock),
    };
    let recorder = &recorder;
    lambda_runtime::run(service_fn(move |event| recorder::handle(recorder, event))).await
}
