//! The fanout: triggered by the events table's stream, it routes each newly recorded event to the
//! SQS queues the routing rules name. The table write and the fan-out are joined by the stream (a
//! transactional outbox): an event is routed if and only if it was recorded.

mod config;
mod dead_letters;
mod handler;

pub use config::{Config, ConfigError, sdk_timeouts};
pub use dead_letters::{DeadLetter, DeadLetters};
pub use handler::{DEFAULT_MAX_ATTEMPTS, Fanout, Report, WINDOW, fan_out, handle};
/// Sending to the routed queues lives in the library, shared with the CLI's replays and redrives.
pub use shared::aws::publish::{
    BatchResult, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, Outgoing, Publisher, SqsPublisher, batches,
};
