//! The command line, in cargo's shape: each module here is one command (its clap arguments, its run,
//! and how its results print), over the operations in [`crate::ops`]; [`flags`] holds the flags several
//! commands share. Errors carry context naming what was involved; [`crate::ui::report`] prints them.
//!
//! clap turns doc comments into help text, so the help (`--help`) documents the argument types and
//! their fields, and the containers carry none of their own.
#![allow(missing_docs)]

pub mod endpoint;
pub mod events;
pub mod fixtures;
pub mod flags;
pub mod forward;
pub mod jobs;
pub mod keys;
pub mod quarantine;
pub mod redrive;
pub mod replay;
pub mod send;
pub mod tail;
pub mod verify;
pub mod webhooks;

use clap::{Args, Parser, Subcommand};

use crate::ui::output::Output;

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Print one JSON object a line (stable field names) instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    /// On failure, print the error's full details (SDK and HTTP structures) after the message.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// A local AWS emulator's endpoint (as `make dev` prints), with its dummy credentials; default: AWS,
    /// with your credentials and region.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
}

/// `gemini-webhooks`: keys, signatures, signed test deliveries, and the queues of a deployed stack or the
/// local one (`make dev`).
#[derive(Debug, Parser)]
#[command(name = "gemini-webhooks", version, about, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 success, 1 failure (including an unexpected answer to `send`), 2 usage error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a `whsec_` signing secret, a URL token for dynamic deliveries, and an Ed25519 key pair
    /// with its JWKS.
    Keygen,
    /// Print the URLs to give Gemini: the static one, and the dynamic one with the endpoint's token.
    Endpoint(endpoint::EndpointArgs),
    /// Print the three webhook headers for a body.
    Sign(keys::SignArgs),
    /// POST a signed event to a receiver and check its answer (exit 1 unless it is 2xx, or `--expect`).
    Send(send::SendArgs),
    /// Check a captured delivery offline: which signature entry verifies, or exactly why none does
    /// (exit 1 unless the delivery verifies).
    Verify(verify::VerifyArgs),
    /// Read the events table: what was recorded in a time window, or one event whole.
    Events {
        #[command(subcommand)]
        action: events::EventsAction,
    },
    /// Send recorded events again, to one queue or through the stack's routing, marked as replays.
    Replay(replay::ReplayArgs),
    /// Move dead-lettered messages back to where they failed: `ingest`, `fanout`, or a routed queue.
    Redrive(redrive::RedriveArgs),
    /// Register the endpoint with Gemini and manage its webhooks (the WebhookService), the signing
    /// secret going straight into the endpoint's Secrets Manager secret, never shown.
    Webhooks {
        #[command(flatten)]
        api: flags::GeminiArgs,
        #[command(subcommand)]
        action: webhooks::WebhooksAction,
    },
    /// Start a Gemini job whose end is delivered to the stack: a batch, a background interaction, a video.
    Jobs {
        #[command(flatten)]
        api: flags::GeminiArgs,
        #[command(subcommand)]
        action: jobs::JobsAction,
    },
    /// Write Lambda event fixtures for every function (for `sam local invoke`), the receiver's signed now.
    Fixtures(fixtures::FixturesArgs),
    /// List, show and release verified deliveries held in the receiver's quarantine.
    Quarantine {
        #[command(subcommand)]
        action: quarantine::QuarantineAction,
    },
    /// Print the messages arriving on a queue of your own (a route you added for watching).
    Tail(tail::TailArgs),
    /// POST each message arriving on a queue to a local endpoint: your consumer on your laptop, fed real
    /// events from a deployed stack.
    Forward(forward::ForwardArgs),
}

/// Runs the command `cli` describes.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output::new(cli.global.json);
    let endpoint = cli.global.endpoint.as_deref();
    let argv: Vec<String> = std::env::args().collect();
    for given in flags::secrets_on_command_line(&argv) {
        out.warn(format!(
            "{given} on the command line is visible to other users (the process list) and kept in your \
             shell's history: give it from the environment, or as @FILE (@- for standard input)"
        ));
    }
    match cli.command {
        Command::Keygen => keys::keygen(out),
        Command::Sign(args) => keys::sign(args, out),
        Command::Endpoint(args) => endpoint::run(args, endpoint, out).await,
        Command::Send(args) => send::run(args, out).await,
        Command::Verify(args) => verify::run(args, endpoint, out).await,
        Command::Events { action } => events::run(action, endpoint, out).await,
        Command::Replay(args) => replay::run(args, endpoint, out).await,
        Command::Redrive(args) => redrive::run(args, endpoint, out).await,
        Command::Webhooks { api, action } => webhooks::run(api, action, endpoint, out).await,
        Command::Jobs { api, action } => jobs::run(api, action, endpoint, out).await,
        Command::Fixtures(args) => fixtures::run(args, out),
        Command::Quarantine { action } => quarantine::run(action, endpoint, out).await,
        Command::Tail(args) => tail::run(args, endpoint, out).await,
        Command::Forward(args) => forward::run(args, endpoint, out).await,
    }
}

/// Every environment variable the command line reads, from its argument definitions: what a test
/// clears so that the caller's environment never decides its outcome.
pub fn environment_variables() -> Vec<String> {
    fn walk(command: &clap::Command, found: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env().and_then(|name| name.to_str())
                && !found.iter().any(|f| f == name)
            {
                found.push(name.to_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, found);
        }
    }
    let mut found = Vec::new();
    walk(&<Cli as clap::CommandFactory>::command(), &mut found);
    found.sort();
    found
}
