//! Flags several commands take (a stack, a table, a routing, a window of events, the Gemini API, the
//! endpoint's secret, a signer), the secrets they carry, and reading a `--body`-style input.

use std::path::Path;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use shared::keys::text::parse_secret_key;
use shared::signature::SigningSecret;
use shared::signature::sign::Ed25519Signer;

use crate::ops::aws::sdk_config;
use crate::ops::endpoint_secret::EndpointSecret;
use crate::ops::signer::Signer;
use crate::ops::stack::{StackOutputs, outputs};
use crate::ui::report::usage;

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
    /// The Ed25519 secret key, for `v1a`: `whsk_` (from `keygen`) or base64, of its 32-byte seed or 64
    /// bytes with its public key (`@FILE`, `@-`).
    #[arg(long, env = "WEBHOOK_ED25519_SEED", hide_env_values = true, value_parser = parse_sensitive)]
    pub ed25519_seed: Option<Sensitive>,
}

impl SignerArgs {
    /// The signer these flags describe; a flag that is missing or unusable is a usage error naming it
    /// (never its value).
    pub(crate) fn signer(&self) -> anyhow::Result<Signer> {
        match self.scheme {
            SchemeArg::V1 => {
                let text = self.secret.as_ref().map(Sensitive::expose).ok_or_else(|| {
                    usage("--scheme v1 needs --secret (or WEBHOOK_SECRET): the endpoint's whsec_ secret")
                })?;
                let secret = SigningSecret::parse(text).map_err(|e| {
                    usage(format!("--secret (or WEBHOOK_SECRET) is not a signing secret: {e}"))
                })?;
                Ok(Signer::V1(secret))
            }
            SchemeArg::V1a => {
                let text = self.ed25519_seed.as_ref().map(Sensitive::expose).ok_or_else(|| {
                    usage("--scheme v1a needs --ed25519-seed (or WEBHOOK_ED25519_SEED), from `gemini-webhooks keygen`")
                })?;
                let seed = parse_secret_key(text).map_err(|e| {
                    usage(format!(
                        "--ed25519-seed (or WEBHOOK_ED25519_SEED) is not an Ed25519 secret key (whsk_ or base64 of \
                         a 32-byte seed, or 64 bytes with its public key): {e}; `gemini-webhooks keygen` makes one"
                    ))
                })?;
                Ok(Signer::V1a(Ed25519Signer::from_seed(&seed)))
            }
        }
    }
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

impl GeminiArgs {
    /// The Gemini client these flags describe.
    pub(crate) fn client(&self) -> anyhow::Result<shared::gemini::GeminiClient> {
        let key = self.api_key.as_ref().map(Sensitive::expose).filter(|k| !k.is_empty()).ok_or_else(|| {
            usage("give --api-key (or GEMINI_API_KEY): a Gemini API key from https://aistudio.google.com/apikey")
        })?;
        Ok(shared::gemini::GeminiClient::new(&self.api_base, &self.api_version, key)?)
    }
}

/// The endpoint's secret: named, or the stack's.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// The endpoint's Secrets Manager secret (default with --stack: its `EndpointSecretArn` output).
    #[arg(long, value_name = "ARN")]
    pub secret_arn: Option<String>,
    #[command(flatten)]
    pub stack: StackArg,
}

impl SecretArgs {
    /// The endpoint's secret the flags name, and with `--stack` its outputs; `None` when they name
    /// none.
    pub(crate) async fn locate(
        &self,
        endpoint: Option<&str>,
    ) -> anyhow::Result<Option<(EndpointSecret, Option<StackOutputs>)>> {
        if self.secret_arn.is_none() && self.stack.stack.is_none() {
            return Ok(None);
        }
        let config = &sdk_config(endpoint).await;
        let stack = match &self.stack.stack {
            Some(name) => Some(StackOutputs::load(&aws_sdk_cloudformation::Client::new(config), name).await?),
            None => None,
        };
        let arn = match (&self.secret_arn, &stack) {
            (Some(arn), _) => arn.clone(),
            (None, Some(outputs)) => outputs.get(outputs::ENDPOINT_SECRET_ARN)?.to_owned(),
            (None, None) => return Ok(None),
        };
        Ok(Some((EndpointSecret::new(aws_sdk_secretsmanager::Client::new(config), arn), stack)))
    }
}

pub(crate) fn parse_metadata(pair: &str) -> Result<(String, serde_json::Value), String> {
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
pub const SENSITIVE_FLAGS: [&str; 5] =
    ["--secret", "--ed25519-seed", "--url-token", "--api-key", "--task-token"];

/// A sensitive value as given: `@PATH` reads it from a file and `@-` from standard input (trailing
/// whitespace dropped), anything else is the value itself.
pub(crate) fn parse_sensitive(raw: &str) -> Result<Sensitive, String> {
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

/// The bytes of a file, or of standard input for `-`.
pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).context("reading standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
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
