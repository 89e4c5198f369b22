//! The fanout: triggered by the events table's stream, it routes each newly recorded event to the
//! SQS queues and EventBridge buses the routing rules name. The table write and the fan-out are joined by the stream (a
//! transactional outbox): an event is routed if and only if it was recorded.

mod config;
mod handler;

pub use config::{Config, ConfigError, TIMEOUTS};
pub use handler::{DEFAULT_MAX_ATTEMPTS, Fanout, Report, STEP_FUNCTIONS, fan_out, handle};
pub use shared::aws::dead_letters::DeadLetters;
/// Sending to the routed queues lives in the library, shared with the CLI's replays and redrives.
pub use shared::aws::publish::{
    BatchLimits, BatchResult, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, Outgoing, Publisher, SqsPublisher,
    TargetPublisher, WINDOW, batches,
};
pub use shared::message::DeadLetter;
