//! `send`: a signed delivery, as Gemini would make it, and whether the receiver answered as expected.

use std::fmt;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use shared::EventKind;
use shared::clock::{Clock, SystemClock};
use shared::signature::UrlToken;

use super::flags::{Sensitive, SignerArgs, parse_metadata, parse_sensitive, read_input};
use crate::ops::endpoint::urls;
use crate::ops::send;
use crate::ui::output::{Output, bad, good, styled};
use crate::ui::report::usage;
use clap::Args;
use clap::builder::{PossibleValue, TypedValueParser};
use shared::fixtures::envelopes::{Envelope, fresh_job_id};
use shared::signature::sign::fresh_webhook_id;
use std::path::PathBuf;

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

/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One answer from the receiver.
#[derive(Serialize)]
struct Answer {
    attempt: u32,
    status: u16,
    /// Whether it is the answer `--expect` (or any 2xx) asked for.
    expected: bool,
    webhook_id: String,
    #[serde(rename = "type")]
    event_type: String,
    scheme: &'static str,
    /// The receiver's JSON answer (a string when it was not JSON).
    answer: Value,
}

impl Answer {
    /// The receiver's short answer: `accepted`, or an error code and its message.
    fn summary(&self) -> String {
        let text = |key: &str| self.answer.get(key).and_then(Value::as_str);
        match (text("status"), text("error"), text("message")) {
            (Some(status), _, _) => match text("reason") {
                Some(reason) => format!("{status} ({reason})"),
                None => status.to_owned(),
            },
            (None, Some(code), Some(message)) => format!("{code}: {message}"),
            (None, Some(code), None) => code.to_owned(),
            _ => self.answer.as_str().map_or_else(|| self.answer.to_string(), str::to_owned),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let style = if self.expected { good() } else { bad() };
        write!(
            f,
            "{} {}  {}  {}  {}",
            styled(style, self.status),
            self.summary(),
            self.webhook_id,
            self.event_type,
            self.scheme
        )
    }
}

pub(crate) async fn run(args: SendArgs, out: Output) -> anyhow::Result<()> {
    let signer = args.signer.signer()?;
    let known = EventKind::of(&args.event_type) != EventKind::Other;
    if args.body.is_none() && !known && !args.allow_unknown_type {
        return Err(usage(unknown_type(&args.event_type)));
    }
    reqwest::Url::parse(&args.url).map_err(|e| usage(format!("{:?} is not a URL: {e}", args.url)))?;
    let target = match args.url_token.as_ref().map(Sensitive::expose) {
        Some(token) => {
            let token = UrlToken::parse(token)
                .map_err(|e| usage(format!("--url-token (or WEBHOOK_URL_TOKEN) is not a URL token: {e}")))?;
            urls(&args.url, &token).dynamic_url
        }
        None => args.url.clone(),
    };
    let now = SystemClock.unix_now();
    let (body, event_type) = match &args.body {
        Some(path) => {
            let body = read_input(path)?;
            let event_type = shared::event::Event::parse(&body)
                .map_or_else(|_| "(not an event)".to_owned(), |e| e.event_type().to_owned());
            (body, event_type)
        }
        None => {
            let job = args.job.clone().unwrap_or_else(|| fresh_job_id(&args.event_type));
            let envelope = args
                .metadata
                .iter()
                .fold(Envelope::realistic(&args.event_type, &job, now), |e, (k, v)| e.metadata(k, v.clone()));
            (envelope.to_bytes(), args.event_type.clone())
        }
    };
    let id = args.id.clone().unwrap_or_else(fresh_webhook_id);
    let signed = signer.sign(&id, now - args.age, &body);
    let mut sent = body;
    if args.tamper {
        // Any byte changed after signing; a trailing space keeps it the same JSON.
        sent.push(b' ');
    }

    let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let mut unexpected = None;
    for attempt in 1..=args.repeat {
        let reply = send::post(&http, &target, &signed, sent.clone()).await.with_context(|| {
            format!("could not reach {}: is the receiver running? (`make dev` prints its URL)", args.url)
        })?;
        let status = reply.status;
        let expected = match args.expect {
            Some(expect) => status == expect,
            None => (200..300).contains(&status),
        };
        let answer = Answer {
            attempt,
            status,
            expected,
            webhook_id: signed.id.clone(),
            event_type: event_type.clone(),
            scheme: signer.scheme(),
            answer: reply.body,
        };
        out.print(&answer);
        if !expected && unexpected.is_none() {
            unexpected = Some(format!("{} {}", answer.status, answer.summary()));
        }
    }
    match unexpected {
        None => Ok(()),
        Some(answer) => {
            let wanted = args.expect.map_or_else(|| "a 2xx".to_owned(), |s| s.to_string());
            anyhow::bail!(
                "{} answered {answer}, not {wanted} (--expect STATUS sets the answer to expect)",
                args.url
            )
        }
    }
}

/// The usage error for a type Gemini is not known to send, with the nearest known one.
fn unknown_type(event_type: &str) -> String {
    let nearest = EventKind::CATALOG
        .iter()
        .map(|(name, _)| (strsim::jaro_winkler(event_type, name), *name))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    let hint = nearest.map(|(_, name)| format!(" (did you mean {name}?)")).unwrap_or_default();
    format!(
        "--type {event_type} is not a type Gemini sends{hint}; --allow-unknown-type sends it anyway, and \
         `gemini-webhooks send --help` lists the known types"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_suggests_the_type_it_resembles() {
        assert!(unknown_type("batch.succeded").contains("did you mean batch.succeeded?"));
        assert!(!unknown_type("model.tuned").contains("did you mean"));
    }
}
