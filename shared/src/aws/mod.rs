//! The AWS side of the functions (feature `aws`): sending to SQS with failures typed as worth retrying
//! or not, message attributes SQS always accepts, publishing downstream messages in batches (the
//! fanout's, and the CLI's replays and redrives), the clients built from one configuration, partial
//! batch responses, and the consumer's claim on each `webhook_id`. Kept behind a feature so the pure library (and
//! its fuzz targets, and a consumer that only parses messages) builds without the AWS SDK.

pub mod batch;
pub mod bus;
pub mod clients;
pub mod dead_letters;
#[cfg(feature = "gemini")]
pub mod gemini_access;
pub mod idempotency;
pub mod jobs_ledger;
pub mod publish;
pub mod queue;
#[cfg(feature = "ledger")]
pub mod schedules;
pub mod secrets;
pub mod task_tokens;
