//! The recorder: reads verified deliveries from the ingest queue and records each `webhook-id` once in
//! the events table. The first delivery of an id wins; retries are dropped and counted; a reused id
//! with a different body is logged as a conflict; a message that can never be recorded goes to the
//! ingest DLQ at once; only records that failed for now go back to SQS.

mod config;
mod handler;
mod store;

pub use config::{Config, ConfigError, DEFAULT_RECORD_TTL_SECS, TIMEOUTS};
pub use handler::{Outcome, Recorder, handle, record_batch};
pub use store::{DynamoDbEventStore, EventStore, StoreError, Written};
