//! `verify`: a captured delivery checked offline, as `svix verify` does for Svix: which signature entry
//! verified, or exactly why none did, with the receiver's own verifier.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::keys::JwksCache;
use shared::refresh::RefreshPolicy;
use shared::signature::{DEFAULT_TOLERANCE_SECS, SigningSecret, UrlToken, Verifier};

use super::flags::{SecretArgs, Sensitive, parse_sensitive, read_input};
use crate::ops::verify::{Captured, Report, check};
use crate::ops::window::instant;
use crate::ui::output::{Output, bad, good, styled};
use crate::ui::report::usage;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The delivery as captured: `name: value` header lines, an empty line, then the body byte for
    /// byte; a request line first (`POST /?token=... HTTP/1.1`) gives the URL's token. `-` reads
    /// standard input.
    pub delivery: PathBuf,
    /// The body from a file of its own (`-`: standard input); the delivery then holds the headers alone.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// `v1` signing secrets, `whsec_`, comma-separated (`@FILE`, `@-`).
    #[arg(long, env = "WEBHOOK_SECRETS", hide_env_values = true, value_parser = parse_sensitive)]
    pub secret: Option<Sensitive>,
    /// Keys for `v1a` and JWT entries: a JWKS document, or `whpk_` public keys (`@FILE` reads a file).
    #[arg(long, env = "JWKS_JSON", value_name = "KEYS", conflicts_with = "jwks_url")]
    pub jwks: Option<String>,
    /// Keys for `v1a` and JWT entries, fetched from a JWKS URL (Google's, for Gemini's deliveries).
    #[arg(long, env = "JWKS_URL", value_name = "URL")]
    pub jwks_url: Option<String>,
    #[command(flatten)]
    pub endpoint_secret: SecretArgs,
    /// The endpoint's URL token, which a dynamic delivery's URL must carry (default: the endpoint's
    /// secret's, with --secret-arn or --stack). Checked only when the capture has its request line.
    #[arg(long, env = "WEBHOOK_URL_TOKEN", hide_env_values = true, value_parser = parse_sensitive, value_name = "TOKEN")]
    pub url_token: Option<Sensitive>,
    /// When to judge the timestamp at: `delivery` (its own `webhook-timestamp`), Unix seconds, a time
    /// (`2026-12-01T10:00:00Z`) or a duration ago (`2h`). Default: now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// How far the timestamp may be from that time, in seconds either way.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_SECS, value_name = "SECS")]
    pub tolerance: u64,
    /// The URL Gemini was given, which a JWT entry's `aud` must name.
    #[arg(long, value_name = "URL")]
    pub audience: Option<String>,
}

/// The verdict, printed: each entry, then the delivery.
#[derive(Serialize)]
struct Shown {
    entries: Vec<ShownEntry>,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    judged_at: i64,
    /// Whether the URL's token was checked; absent when no entry is dynamic (`v1a`, JWT).
    #[serde(skip_serializing_if = "Option::is_none")]
    token_checked: Option<bool>,
}

#[derive(Serialize)]
struct ShownEntry {
    entry: String,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Shown {
    fn of(report: &Report, judged_at: i64, token_checked: Option<bool>) -> Self {
        let entries = report
            .entries
            .iter()
            .map(|e| ShownEntry {
                entry: e.entry.clone(),
                verified: e.verdict.is_ok(),
                scheme: e.verdict.as_ref().ok().map(ToString::to_string),
                code: e.verdict.as_ref().err().map(|e| e.code()),
                error: e.verdict.as_ref().err().map(ToString::to_string),
            })
            .collect();
        let overall = report.overall.as_ref();
        Self {
            entries,
            verified: overall.is_ok(),
            scheme: overall.ok().map(|v| v.scheme.to_string()),
            webhook_id: overall.ok().map(|v| v.webhook_id.to_string()),
            code: overall.err().map(|e| e.code()),
            error: overall.err().map(ToString::to_string),
            judged_at,
            token_checked,
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            let verdict = match (&entry.scheme, &entry.error) {
                (Some(scheme), _) => styled(good(), format!("verifies ({scheme})")),
                (None, Some(error)) => styled(bad(), error),
                (None, None) => String::new(),
            };
            writeln!(f, "  {:<16} {verdict}", entry.entry)?;
        }
        let token = match self.token_checked {
            Some(false) => "; the URL's token was not checked (no request line, or no token to compare)",
            _ => "",
        };
        match (&self.scheme, &self.error) {
            (Some(scheme), _) => write!(
                f,
                "{}: {scheme}, webhook-id {}, judged at {}{token}",
                styled(good(), "verified"),
                self.webhook_id.as_deref().unwrap_or_default(),
                self.judged_at
            ),
            (None, error) => write!(
                f,
                "{}: {}, judged at {}{token}",
                styled(bad(), "not verified"),
                error.as_deref().unwrap_or_default(),
                self.judged_at
            ),
        }
    }
}

pub(crate) async fn run(args: VerifyArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    if args.delivery.as_os_str() == "-" && args.body.as_ref().is_some_and(|b| b.as_os_str() == "-") {
        return Err(usage("the delivery and --body cannot both be standard input"));
    }
    let body = args.body.as_deref().map(read_input).transpose()?;
    let captured = Captured::parse(&read_input(&args.delivery)?, body)
        .with_context(|| format!("reading the delivery {}", args.delivery.display()))?;
    let judged_at = judged_at(args.at.as_deref(), &captured)?;
    let clock = Arc::new(ManualClock::at(judged_at));

    let stored = match args.endpoint_secret.locate(endpoint).await? {
        Some((store, _)) => Some(store.read().await?.secrets),
        None => None,
    };
    let mut secrets: Vec<SigningSecret> = stored.as_ref().map(|s| s.signing.clone()).unwrap_or_default();
    if let Some(list) = &args.secret {
        secrets.extend(SigningSecret::parse_list(list.expose()).map_err(|e| {
            usage(format!("--secret (or WEBHOOK_SECRETS) is not a list of signing secrets: {e}"))
        })?);
    }
    let token = match &args.url_token {
        Some(token) => Some(
            UrlToken::parse(token.expose())
                .map_err(|e| usage(format!("--url-token (or WEBHOOK_URL_TOKEN) is not a URL token: {e}")))?,
        ),
        None => stored.and_then(|s| s.url_token),
    };
    let token_checked = token.is_some() && captured.url_token.is_some();

    let mut builder =
        Verifier::builder().secrets(secrets).tolerance_secs(args.tolerance).clock(clock.clone());
    match (&args.jwks, &args.jwks_url) {
        (Some(keys), _) => {
            let text = match keys.strip_prefix('@') {
                Some(path) => read_input(path.as_ref())?,
                None => keys.clone().into_bytes(),
            };
            let keys = JwksCache::inline(&text, clock.clone())
                .map_err(|e| usage(format!("--jwks (or JWKS_JSON) gives no usable key: {e}")))?;
            builder = builder.keys(Arc::new(keys));
        }
        (None, Some(url)) => {
            let keys = JwksCache::remote(url, clock.clone(), RefreshPolicy::JWKS)
                .map_err(|e| usage(format!("--jwks-url (or JWKS_URL): {e}")))?;
            builder = builder.keys(Arc::new(keys));
        }
        (None, None) => {}
    }
    builder = match (&token, token_checked) {
        (Some(token), true) => builder.url_token(token.clone()),
        _ => builder.accept_dynamic_without_token(),
    };
    if let Some(audience) = &args.audience {
        builder = builder.audience(audience.clone());
    }
    let verifier = builder.build().map_err(|e| usage(format!("nothing to verify with: {e}")))?;

    let report = check(&verifier, &captured).await;
    let dynamic = report.entries.iter().any(|e| e.dynamic);
    let shown = Shown::of(&report, judged_at, dynamic.then_some(token_checked));
    out.print(&shown);
    match report.overall {
        Ok(_) => Ok(()),
        Err(error) => Err(anyhow::anyhow!("the delivery does not verify: {error}")),
    }
}

/// The Unix seconds to judge at: `--at`, or now.
fn judged_at(at: Option<&str>, captured: &Captured) -> anyhow::Result<i64> {
    let now_ms = SystemClock.unix_now_ms();
    match at {
        None => Ok(now_ms.div_euclid(1000)),
        Some("delivery") => captured
            .headers
            .get(shared::signature::WEBHOOK_TIMESTAMP)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| usage("--at delivery: the delivery has no readable webhook-timestamp")),
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().map_err(|_| usage(format!("--at {text}: not a time")))
        }
        Some(text) => Ok(instant("--at", text, now_ms).map_err(|e| usage(e.to_string()))?.div_euclid(1000)),
    }
}
