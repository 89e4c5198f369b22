//! The operations the commands run, as a library: each takes clients and typed inputs and returns
//! typed results, printing nothing, so tests call them directly.

pub mod aws;
pub mod endpoint;
pub mod endpoint_secret;
pub mod event_log;
pub mod forward;
pub mod interrupt;
pub mod jobs;
pub mod ledger;
pub mod quarantine;
pub mod queue;
pub mod redrive;
pub mod replay;
pub mod resources;
pub mod send;
pub mod signer;
pub mod stack;
pub mod verify;
pub mod webhooks;
pub mod window;
