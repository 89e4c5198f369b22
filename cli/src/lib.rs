//! `gemini-webhooks` as a library, laid out as cargo's own command line is: [`commands`] holds each
//! command (its flags, its run, its printed summary), [`ops`] the operations they run against a
//! deployed stack, the local one or the Gemini API (what the tests call), and [`ui`] how results and
//! errors are printed.

pub mod commands;
pub mod ops;
pub mod ui;

pub use commands::{Cli, run};
