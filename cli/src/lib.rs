//! `gemini-webhooks` as a library: the command line (`args`, `commands`, and how results and errors are
//! printed: `output`, `report`), and the operations it runs against a deployed stack or the local one,
//! callable (and tested) without the binary.

pub mod args;
pub mod aws;
pub mod commands;
pub mod endpoint;
pub mod endpoint_secret;
pub mod envelopes;
pub mod event_log;
pub mod forward;
pub mod interrupt;
pub mod lambda_events;
pub mod output;
pub mod quarantine;
pub mod queue;
pub mod redrive;
pub mod replay;
pub mod report;
pub mod resources;
pub mod sample_events;
pub mod stack;
pub mod window;
