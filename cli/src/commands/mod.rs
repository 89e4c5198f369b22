//! One module per command: each reads its arguments, calls the library's operations, and prints its
//! results through [`Output`]. Errors carry context naming what was involved; `report` prints them.

mod endpoint;
mod event_line;
mod events;
mod fixtures;
mod forward;
mod jobs;
mod keys;
mod quarantine;
mod redrive;
mod replay;
mod send;
mod signer;
mod tail;
mod webhooks;

use std::path::Path;

use anyhow::Context as _;

use crate::args::{Cli, Command, StackArg};
use crate::output::Output;
use crate::report::usage;
use crate::resources::Resources;

/// Runs the command `cli` describes.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output::new(cli.global.json);
    let endpoint = cli.global.endpoint.as_deref();
    let argv: Vec<String> = std::env::args().collect();
    for given in crate::args::secrets_on_command_line(&argv) {
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

/// The resources the flags name (`given` sets them), completed from `--stack` when it is given.
async fn resources_for(
    config: &aws_config::SdkConfig,
    stack: &StackArg,
    given: impl FnOnce(&mut Resources),
) -> anyhow::Result<Resources> {
    let mut resources = Resources::default();
    given(&mut resources);
    match &stack.stack {
        Some(name) => resources.complete_from_stack(config, name).await,
        None => Ok(resources),
    }
}

/// The Gemini client the flags describe.
fn gemini_client(api: &crate::args::GeminiArgs) -> anyhow::Result<shared::gemini::GeminiClient> {
    let key = api.api_key.as_ref().map(crate::args::Sensitive::expose).filter(|k| !k.is_empty()).ok_or_else(|| {
        usage("give --api-key (or GEMINI_API_KEY): a Gemini API key from https://aistudio.google.com/apikey")
    })?;
    Ok(shared::gemini::GeminiClient::new(&api.api_base, &api.api_version, key)?)
}

/// The bytes of a file, or of standard input for `-`.
fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).context("reading standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// When a reading loop stops: never (`None`), or after `limit` seconds with no message.
struct IdleLimit {
    limit: Option<u64>,
    since: tokio::time::Instant,
}

impl IdleLimit {
    fn new(limit: Option<u64>) -> Self {
        Self { limit, since: tokio::time::Instant::now() }
    }

    /// How long the next receive may long-poll (SQS allows up to 20 s), or `None` when it is time to stop.
    fn next_wait(&self) -> Option<i32> {
        let left = match self.limit {
            None => 20,
            Some(limit) => limit.saturating_sub(self.since.elapsed().as_secs()).min(20),
        };
        (left > 0).then(|| i32::try_from(left).unwrap_or(20))
    }

    /// Messages arrived: the idle time starts again.
    fn reset(&mut self) {
        self.since = tokio::time::Instant::now();
    }
}
