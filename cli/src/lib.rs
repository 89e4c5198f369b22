//! `gemini-webhooks` as a library: the operations the command line runs against a deployed stack or the
//! local one, callable (and tested) without the binary.

pub mod endpoint;
pub mod lambda_events;
pub mod quarantine;
pub mod sample_events;
pub mod stack;
