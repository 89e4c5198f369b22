//! The reconciler: invoked by a tracked job's check schedule, when its end should have arrived. It
//! reads the job from the Gemini API; an ended job's end goes into the ingest queue as a delivery
//! would (marked reconciled), a running job is checked again later, and one past its give-up time is
//! counted overdue and alarmed. See [`shared::ledger`] and [`shared::reconcile`].

mod config;
mod handler;

pub use config::{Config, TIMEOUTS};
pub use handler::{Answer, HandlerError, ReconcilerFunction, handle};
