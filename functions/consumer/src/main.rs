//! The example consumer Lambda.

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    lambda_runtime::run(service_fn(consumer::handle)).await
}
