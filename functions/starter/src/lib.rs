//! The starter: a workflow's `.waitForTaskToken` task sends a job request and its task token to the
//! job-requests queue (`workflows/chained.asl.json` shows the form); this function starts the job with
//! the stack's dynamic webhook and tracks it in the jobs ledger with the token, then returns. The job's
//! end, by webhook or by reconciliation, completes the task (the fanout's `SendTaskSuccess` or
//! `SendTaskFailure`): nothing waits or polls meanwhile. See [`shared::workflow::request`] for the
//! requests.
//!
//! - A request is claimed by its task (a digest of the token) before the job is started, so a request
//!   delivered twice starts one job.
//! - A request Gemini refuses, or one that cannot be a job, fails its task at once
//!   (`Starter.Refused`, `Starter.InvalidRequest`), so the workflow's `Catch` sees it now rather than
//!   at its timeout.
//! - A request that names no usable task, or whose task is gone, is kept in the starter's DLQ.
//! - Anything that may pass (Gemini or AWS unavailable, no API key yet) is reported failed, so SQS
//!   delivers the request again, and after the queue's retries keeps it in the DLQ.

mod config;
mod handler;
mod webhook;

pub use config::{Config, TIMEOUTS};
pub use handler::{FUNCTION_TIMEOUT_SECS, KEEP_SECS, NAMESPACE, Outcome, Starter, handle, process};
pub use webhook::{DynamicWebhook, WebhookError};
