//! The command line, as clap parses it: every command, flag and environment variable, with the help
//! text users read. Parsing only; `commands` runs what was asked.

// clap turns doc comments into help text, so the help (`--help`) documents these types and fields, and
// the containers carry none of their own.
#![allow(missing_docs)]

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use shared::EventKind;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a `whsec_` signing secret, a URL token for dynamic deliveries, and an Ed25519 key pair
    /// with its JWKS.
    Keygen,
    /// Print the URLs to give Gemini: the static one, and the dynamic one with the endpoint's token.
    Endpoint(EndpointArgs),
    /// Print the three webhook headers for a body.
    Sign(SignArgs),
    /// POST a signed event to a receiver and check its answer (exit 1 unless it is 2xx, or `--expect`).
    Send(SendArgs),
    /// Read the events table: what was recorded in a time window, or one event whole.
    Events {
        #[command(subcommand)]
        action: EventsAction,
    },
    /// Send recorded events again, to one queue or through the stack's routing, marked as replays.
    Replay(ReplayArgs),
    /// Move dead-lettered messages back to where they failed: `ingest`, `fanout`, or a routed queue.
    Redrive(RedriveArgs),
    /// Register the endpoint with Gemini and manage its webhooks (the WebhookService), the signing
    /// secret going straight into the endpoint's Secrets Manager secret, never shown.
    Webhooks {
        #[command(flatten)]
        api: GeminiArgs,
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// Start a Gemini job whose end is delivered to the stack: a batch, a background interaction, a video.
    Jobs {
        #[command(flatten)]
        api: GeminiArgs,
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Write Lambda event fixtures for every function (for `sam local invoke`), the receiver's signed now.
    Fixtures(FixturesArgs),
    /// List, show and release verified deliveries held in the receiver's quarantine.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
    /// Print the messages arriving on a queue of your own (a route you added for watching).
    Tail(TailArgs),
    /// POST each message arriving on a queue to a local endpoint: your consumer on your laptop, fed real
    /// events from a deployed stack.
    Forward(ForwardArgs),
}

#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The stack (its `WebhookUrl` and `EndpointSecretArn` outputs).
    #[arg(long, conflicts_with_all = ["url", "secret_arn"], required_unless_present = "url")]
    pub stack: Option<String>,
    /// The receiver's URL, instead of a stack.
    #[arg(long, requires = "secret_arn")]
    pub url: Option<String>,
    /// The endpoint's secret, instead of a stack.
    #[arg(long)]
    pub secret_arn: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The body to sign: a file, or `-` for standard input.
    pub body: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The `webhook-id` (default: a fresh `msg_...`).
    #[arg(long)]
    pub id: Option<String>,
    /// Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// HMAC-SHA256 with the endpoint's `whsec_` secret: what Gemini signs static webhooks with.
    V1,
    /// Ed25519: what Gemini signs dynamic webhooks with, using Google's keys. Only a receiver that
    /// trusts your key verifies it (`make dev`, or `JWKS_JSON` set to `keygen`'s JWKS); a deployed stack
    /// trusts Google's keys alone.
    V1a,
}

#[derive(Debug, Args)]
pub struct SignerArgs {
    /// The scheme to sign with.
    #[arg(long, value_enum, default_value = "v1")]
    pub scheme: SchemeArg,
    /// The `whsec_` secret, for `v1` (`@FILE` reads it from a file, `@-` from standard input).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_sensitive)]
    pub secret: Option<Sensitive>,
    /// The Ed25519 seed (base64, from `keygen`), for `v1a` (`@FILE`, `@-`).
    #[arg(long, env = "WEBHOOK_ED25519_SEED", hide_env_values = true, value_parser = parse_sensitive)]
    pub ed25519_seed: Option<Sensitive>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The receiver's URL (a Function URL, or the one `make dev` prints).
    pub url: String,
    /// The event type: a realistic envelope of that type is sent.
    #[arg(long = "type", default_value = "batch.succeeded", value_parser = EventTypeParser)]
    pub event_type: String,
    /// Send a type Gemini is not known to send (the receiver routes it to the default queue).
    #[arg(long)]
    pub allow_unknown_type: bool,
    /// Send this body instead of a generated envelope: a file, or `-` for standard input.
    #[arg(long, conflicts_with_all = ["event_type", "metadata", "job"])]
    pub body: Option<PathBuf>,
    /// Add `user_metadata` to the envelope (repeatable); a value that is JSON is sent as JSON.
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, serde_json::Value)>,
    /// The job's id, `data.id` (default: a fresh one in the type's shape, e.g. `batches/...`).
    #[arg(long)]
    pub job: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The `webhook-id` (default: a fresh `msg_...`).
    #[arg(long)]
    pub id: Option<String>,
    /// Send the same delivery this many times, as Gemini's retries would.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Change the body after signing (the receiver answers 401: use with `--expect 401`).
    #[arg(long)]
    pub tamper: bool,
    /// Sign with a timestamp this many seconds old (over 300 is refused: use with `--expect 401`).
    #[arg(long, default_value_t = 0)]
    pub age: i64,
    /// The endpoint's URL token, added as `?token=` (dynamic deliveries need it; `@FILE`, `@-`).
    #[arg(long, env = "WEBHOOK_URL_TOKEN", hide_env_values = true, value_parser = parse_sensitive)]
    pub url_token: Option<Sensitive>,
    /// The HTTP status every answer must have (default: any 2xx).
    #[arg(long, value_name = "STATUS", value_parser = clap::value_parser!(u16).range(100..600))]
    pub expect: Option<u16>,
}

#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// Output directory (default: `events`, or `events/local` when signing with your own secret).
    pub dir: Option<PathBuf>,
    /// Sign with this secret instead of the demo secret: the events then go to the git-ignored
    /// `events/local`, never into the committed `events/` (`@FILE`, `@-`).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_sensitive)]
    pub secret: Option<Sensitive>,
}

/// A deployed stack, whose outputs name the resources a command needs.
#[derive(Debug, Args)]
pub struct StackArg {
    /// A deployed stack: its outputs name the table and queues (and its fanout, the routing).
    #[arg(long)]
    pub stack: Option<String>,
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// The events table (the stack's `EventsTableName` output).
    #[arg(long, env = "EVENTS_TABLE")]
    pub table: Option<String>,
}

#[derive(Debug, Args)]
pub struct RoutingArgs {
    /// The routing rules, as the fanout reads them (default with --stack: the fanout's own).
    #[arg(long, env = "ROUTES", value_name = "JSON")]
    pub routes_json: Option<String>,
    /// Where events no rule matches go (default with --stack: the fanout's own).
    #[arg(long, env = "DEFAULT_QUEUE_URL", value_name = "URL")]
    pub default_queue: Option<String>,
}

#[derive(Debug, Args)]
pub struct WindowArgs {
    /// From when: a duration ago (`2h`, `7d`), a time (`2026-12-01T10:00Z`) or a date (`2026-12-01`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Until when (excluded), in the same forms (default: now).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only events whose type matches this glob (`batch.*`, `*.failed`).
    #[arg(long = "type", value_name = "GLOB")]
    pub event_type: Option<String>,
    /// Only the events of this job (`data.id`).
    #[arg(long, value_name = "DATA_ID")]
    pub job: Option<String>,
    /// Only these events (repeatable, or comma-separated): read by key, no Scan, no --since needed.
    #[arg(long = "webhook-id", value_name = "ID", value_delimiter = ',')]
    pub webhook_ids: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// What was recorded, newest first.
    List {
        #[command(flatten)]
        window: WindowArgs,
        /// Show at most this many (the newest).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        stack: StackArg,
        #[command(flatten)]
        table: TableArgs,
    },
    /// One recorded event, whole, with its provenance.
    Show {
        /// Its `webhook-id`.
        webhook_id: String,
        #[command(flatten)]
        stack: StackArg,
        #[command(flatten)]
        table: TableArgs,
    },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["to", "routes"]))]
#[command(
    after_help = "Each replayed message carries `replayed_at` (in the message and as an attribute) and its original `webhook_id`. A consumer idempotent on `DownstreamMessage::idempotency_key()` (the `webhook_id`, with `replayed_at` on a replay) handles a replay once more, however often SQS delivers it; the example consumer rewrites the same objects, so replaying a window twice is safe for it."
)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// Send every event to this queue.
    #[arg(long, value_name = "QUEUE_URL")]
    pub to: Option<String>,
    /// Send each event where the stack's routing sends it now.
    #[arg(long)]
    pub routes: bool,
    /// List and count what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go on with the replay stamped MS (what an earlier run printed) instead of starting a new one:
    /// consumers idempotent on `idempotency_key` drop what that run already sent.
    #[arg(long, value_name = "MS")]
    pub replayed_at: Option<i64>,
    #[command(flatten)]
    pub stack: StackArg,
    #[command(flatten)]
    pub table: TableArgs,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "ingest: the ingest DLQ back to the ingest queue; fanout: each message of the fanout DLQ to the queue that refused it (`--routes`: where the routing sends it now); batch, interaction, video, default (with --stack) or a queue's URL: that queue's DLQ back to it. SQS's own redrive (StartMessageMoveTask) moves ingest and routed DLQs; the fanout DLQ, and any `--max`, move message by message."
)]
pub struct RedriveArgs {
    /// What to redrive: `ingest`, `fanout`, a routed queue's name, or a queue's URL.
    pub what: String,
    /// Move at most this many messages (message by message).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
    /// For `fanout`: send each message where the routing sends its event now, not where it failed.
    #[arg(long)]
    pub routes: bool,
    /// The ingest queue (the stack's `IngestQueueUrl` output).
    #[arg(long, env = "INGEST_QUEUE_URL", value_name = "URL")]
    pub ingest_queue: Option<String>,
    /// The ingest DLQ (`IngestDLQUrl`).
    #[arg(long, env = "INGEST_DLQ_URL", value_name = "URL")]
    pub ingest_dlq: Option<String>,
    /// The fanout DLQ (`FanoutDLQUrl`).
    #[arg(long, env = "FANOUT_DLQ_URL", value_name = "URL")]
    pub fanout_dlq: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

/// Where the Gemini API is, and the key to call it with.
#[derive(Debug, Args)]
pub struct GeminiArgs {
    /// Your Gemini API key (`@FILE` reads it from a file, `@-` from standard input).
    #[arg(long, env = "GEMINI_API_KEY", hide_env_values = true, global = true, value_parser = parse_sensitive)]
    pub api_key: Option<Sensitive>,
    /// The API's base URL (a local simulator's, e.g. the one `make dev` prints).
    #[arg(long, env = "GEMINI_API_BASE", default_value = shared::gemini::DEFAULT_BASE_URL, global = true)]
    pub api_base: String,
    /// The API version.
    #[arg(long, env = "GEMINI_API_VERSION", default_value = shared::gemini::DEFAULT_API_VERSION, global = true)]
    pub api_version: String,
}

/// The endpoint's secret: named, or the stack's.
/// How long a registration waits for every running receiver to read its new secret: the receiver's
/// least time between two reads of it.
pub const SETTLE_SECS: u64 = shared::refresh::RefreshPolicy::SECRETS.miss_refetch_interval_secs;

#[derive(Debug, Args)]
pub struct SecretArgs {
    /// The endpoint's Secrets Manager secret (default with --stack: its `EndpointSecretArn` output).
    #[arg(long, value_name = "ARN")]
    pub secret_arn: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// Register the receiver with Gemini; its new signing secret goes into the endpoint's secret.
    Create {
        /// The receiver's URL (default with --stack: its `WebhookUrl` output).
        #[arg(long)]
        url: Option<String>,
        /// The events to deliver, comma-separated (default: all seven).
        #[arg(long, value_delimiter = ',', value_name = "EVENTS")]
        events: Vec<String>,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// Register even if a webhook for this URL exists (every event would then be delivered twice).
        #[arg(long)]
        allow_duplicate: bool,
        /// Seconds the new webhook stays disabled once its secret is stored, so that every running
        /// receiver reads the secret before the first delivery (default: the receiver's least time
        /// between two reads, 60).
        #[arg(long, value_name = "SECS", default_value_t = SETTLE_SECS)]
        settle: u64,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Every webhook.
    List,
    /// One webhook.
    Get {
        /// Its id.
        id: String,
    },
    /// Have Gemini send the webhook a test delivery.
    Ping {
        /// Its id.
        id: String,
    },
    /// Turn deliveries on (also after Gemini disabled it for failed deliveries).
    Enable {
        /// Its id.
        id: String,
    },
    /// Turn deliveries off.
    Disable {
        /// Its id.
        id: String,
    },
    /// Delete the webhook (its secret stays in the endpoint's secret; `prune` after another `create`).
    Delete {
        /// Its id.
        id: String,
    },
    /// Make a new signing secret and store it beside the old one: Gemini signs with both for 24 hours.
    Rotate {
        /// Its id.
        id: String,
        /// Revoke this webhook's previous secrets at once (deliveries signed with them fail from now on;
        /// other webhooks' secrets stay).
        #[arg(long)]
        immediately: bool,
        /// With --immediately: seconds to wait once the new secret is stored, for every running receiver
        /// to read it (deliveries meanwhile get 401, and Gemini retries them).
        #[arg(long, value_name = "SECS", default_value_t = SETTLE_SECS)]
        settle: u64,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Remove from the endpoint's secret this webhook's signing secrets Gemini no longer signs with
    /// (other webhooks' secrets stay).
    Prune {
        /// Its id.
        id: String,
        /// Also remove secrets no webhook owns and none of the visible webhooks lists (stored by hand,
        /// or for a webhook deleted since).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        secret: SecretArgs,
    },
}

/// Where a job's events go.
#[derive(Debug, Args)]
pub struct JobWebhookArgs {
    /// The receiver's dynamic URL, with its token (what `gemini-webhooks endpoint` prints).
    #[arg(long, env = "WEBHOOK_DYNAMIC_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
    /// `user_metadata`, echoed in every event of the job (routes can match it; repeatable).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, serde_json::Value)>,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Upload a JSONL file of requests and start a batch over it.
    Batch {
        /// The requests, one JSON object a line: `{"key": ..., "request": {"contents": [...]}}`.
        input: PathBuf,
        /// The model.
        #[arg(long, default_value = "gemini-2.5-flash")]
        model: String,
        /// A display name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Start an interaction in the background.
    Interaction {
        /// What to ask.
        input: String,
        /// The model.
        #[arg(long, default_value = "gemini-2.5-flash")]
        model: String,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Start a video generation.
    Video {
        /// What to film.
        prompt: String,
        /// The model.
        #[arg(long, default_value = "veo-3.0-generate-001")]
        model: String,
        #[command(flatten)]
        webhook: JobWebhookArgs,
    },
    /// Cancel a running batch or interaction: its `*.cancelled` event is delivered like any end.
    Cancel {
        /// `batches/...`, or an interaction's id (a video generation has no cancel).
        job: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List every held delivery (left in the queue).
    List {
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
    /// Print one held delivery, its body included.
    Show {
        /// The delivery's `webhook-id`.
        webhook_id: String,
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
    /// Re-inject a held delivery into the ingest queue, fixed (`--body`) or as it was.
    Release {
        /// The delivery's `webhook-id`.
        webhook_id: String,
        /// The ingest queue's URL (the stack's `IngestQueueUrl` output).
        #[arg(long, env = "INGEST_QUEUE_URL")]
        ingest_queue: String,
        /// The fixed body to release instead of the original: a file, or `-` for standard input.
        #[arg(long)]
        body: Option<PathBuf>,
        /// The events table (the stack's `EventsTableName` output): an id recorded already is not
        /// released (the recorder would drop it), and the CLI says why.
        #[arg(long, env = "EVENTS_TABLE", value_name = "TABLE")]
        table: String,
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
}

impl QuarantineAction {
    /// The quarantine every action reads.
    pub fn quarantine(&self) -> &QuarantineArgs {
        match self {
            Self::List { quarantine } | Self::Show { quarantine, .. } | Self::Release { quarantine, .. } => {
                quarantine
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// The quarantine queue's URL (the stack's `QuarantineQueueUrl` output).
    #[arg(long = "queue", env = "QUARANTINE_QUEUE_URL")]
    pub queue_url: String,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Reading a queue takes its messages from every other reader: on a queue a consumer is \
subscribed to, `tail` competes with it. Add a route to a queue of your own for watching instead."
)]
pub struct TailArgs {
    /// The queue's URL.
    pub queue_url: String,
    /// Delete each message once printed, and keep reading (default: print what is waiting, one bounded
    /// pass, and leave it all in the queue, visible again at once).
    #[arg(long)]
    pub consume: bool,
    /// With --consume: keep watching until Ctrl-C (default: stop after `--idle` seconds without one).
    #[arg(long, short, requires = "consume")]
    pub follow: bool,
    /// With --consume: stop after this many seconds without a message.
    #[arg(long, default_value_t = 20, conflicts_with = "follow")]
    pub idle: u64,
    /// Without --consume: print at most this many (each read counts toward the queue's maxReceiveCount,
    /// so a pass reads each message once, within 20 s).
    #[arg(long, default_value_t = crate::queue::PASS_MAX, conflicts_with = "consume")]
    pub max: usize,
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// The queue to read: a queue of your own that a route sends events to (`ExtraRoutes`), for development.
    #[arg(long = "queue")]
    pub queue_url: String,
    /// Where to POST each message, e.g. `http://localhost:3000/webhooks`.
    #[arg(long = "to")]
    pub target: String,
    /// What to POST: the downstream message as the queue holds it, or an SQS event of one record (for a
    /// Lambda running under `cargo lambda watch` or `sam local start-lambda`).
    #[arg(long, value_enum, default_value = "message")]
    pub format: crate::forward::Format,
    /// Stop after this many seconds without a message (default: keep forwarding until Ctrl-C).
    #[arg(long)]
    pub idle: Option<u64>,
    /// How long each POST may take before the message is left for redelivery.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

/// `--type`: any text, the known types offered in `--help` and completions; an unknown one is refused
/// later unless `--allow-unknown-type`.
#[derive(Clone)]
struct EventTypeParser;

impl TypedValueParser for EventTypeParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(EventKind::CATALOG.iter().map(|(name, _)| PossibleValue::new(*name))))
    }
}

fn parse_metadata(pair: &str) -> Result<(String, serde_json::Value), String> {
    let (key, value) = pair.split_once('=').ok_or("expected KEY=VALUE")?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.into()));
    Ok((key.to_owned(), value))
}

/// A secret the command line carries (a signing secret, a seed, a URL token, an API key): `Debug` shows
/// nothing of it, so no `{:?}` of the arguments can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sensitive(<redacted>)")
    }
}

/// The flags whose values are secrets: given literally on the command line, the value is in the
/// process list and the shell's history.
pub const SENSITIVE_FLAGS: [&str; 4] = ["--secret", "--ed25519-seed", "--url-token", "--api-key"];

/// A sensitive value as given: `@PATH` reads it from a file and `@-` from standard input (trailing
/// whitespace dropped), anything else is the value itself.
fn parse_sensitive(raw: &str) -> Result<Sensitive, String> {
    let Some(path) = raw.strip_prefix('@') else { return Ok(Sensitive(raw.to_owned())) };
    let text = if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading it from standard input: {e}"))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("reading it from {path}: {e}"))?
    };
    Ok(Sensitive(text.trim_end().to_owned()))
}

/// The sensitive flags `args` (the process's arguments) give a value literally, and whether a URL
/// among them carries a `token=`: what to warn about.
pub fn secrets_on_command_line(args: &[String]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        for flag in SENSITIVE_FLAGS {
            let value = match arg.strip_prefix(flag) {
                Some("") => args.get(i + 1).map(String::as_str),
                Some(rest) => rest.strip_prefix('='),
                None => None,
            };
            if value.is_some_and(|v| !v.starts_with('@')) && !found.contains(&flag) {
                found.push(flag);
            }
        }
        if arg.starts_with("http") && arg.contains("token=") && !found.contains(&"a URL with its token") {
            found.push("a URL with its token");
        }
    }
    found
}

#[cfg(test)]
mod sensitive_tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_secret_given_literally_is_found_and_one_from_a_file_is_not() {
        let literal = argv(&["gemini-webhooks", "send", "http://x/", "--secret", "whsec_abc", "--api-key=k"]);
        assert_eq!(secrets_on_command_line(&literal), ["--secret", "--api-key"]);
        let from_files =
            argv(&["gemini-webhooks", "send", "http://x/", "--secret", "@secret.txt", "--api-key=@-"]);
        assert!(secrets_on_command_line(&from_files).is_empty());
        let in_url = argv(&["gemini-webhooks", "send", "https://x/?token=abc"]);
        assert_eq!(secrets_on_command_line(&in_url), ["a URL with its token"]);
        // A flag that only starts like one is not it.
        assert!(secrets_on_command_line(&argv(&["x", "--secret-arn", "arn:..."])).is_empty());
    }

    #[test]
    fn a_secret_reads_from_a_file_and_never_shows_in_debug() {
        let path = std::env::temp_dir().join(format!("sensitive-{}", std::process::id()));
        std::fs::write(&path, "whsec_from_a_file\n").unwrap();
        let read = parse_sensitive(&format!("@{}", path.display())).unwrap();
        assert_eq!(read.expose(), "whsec_from_a_file");
        assert_eq!(format!("{read:?}"), "Sensitive(<redacted>)");
        assert!(parse_sensitive("@/no/such/file").unwrap_err().contains("/no/such/file"));
        std::fs::remove_file(path).unwrap();
    }
}
