//! Test harness for the pipeline: a local moto emulator that speaks DynamoDB, DynamoDB Streams and SQS
//! to the real AWS SDK, and the stack's table and queues created in it with the template's settings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = testkit::Emulator::shared()?;
//! let stack = testkit::Stack::create(emulator).await?;
//! let sqs = emulator.sqs().await;
//! sqs.send_message().queue_url(&stack.ingest.url).message_body("{}").send().await?;
//! # Ok(()) }
//! ```

mod emulator;
mod fault_proxy;
mod logs;
mod runtime_api;
mod stack;
mod start_up;
mod stream;
mod tls_front;

pub use emulator::{Emulator, EmulatorError, HARNESS_TIMEOUTS, REGION, python, sdk_config_for};
pub use fault_proxy::{Fault, FaultProxy};
pub use logs::{Capture, capture_logs};
pub use runtime_api::{Invocation, Outcome, RuntimeApi, TRACE_HEADER};
/// Lambda HTTP events of every payload format, as the library's fixtures make them (the CLI writes the
/// same for `sam local invoke`).
pub use shared::fixtures::lambda_events::{HttpRequest, PayloadFormat, http_event};
pub use stack::{
    CLAIMS_TABLE, CONSUMER_QUEUE, DLQ_RETENTION_SECS, EVENTS_TABLE, FANOUT_DLQ, INGEST_QUEUE,
    JOB_REQUESTS_QUEUE, JOBS_TABLE, JWT_TOKENS_TABLE, KeptQueue, KeptQueueSpec, MAX_MESSAGE_BYTES,
    QUARANTINE_QUEUE, Queue, QueueSpec, RESULTS_BUCKET, ROUTED_QUEUES, SCHEDULE_GROUP, Stack, StackError,
    TableSpec, check_sqs_safe, create_fifo_queue, create_kept_queue, create_queue, create_queue_named,
    create_table, drain_queue, receive_batch,
};
pub use start_up::{Running, StartUp, start_up};
pub use stream::StreamReader;
pub use tls_front::{TlsFront, TlsFrontError, system_roots_file};
