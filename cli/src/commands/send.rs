//! `send`: a signed delivery, as Gemini would make it, and whether the receiver answered as expected.

use std::fmt;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use shared::EventKind;
use shared::clock::{Clock, SystemClock};
use shared::signature::UrlToken;

use super::read_input;
use super::signer::Signer;
use crate::args::SendArgs;
use crate::endpoint::urls;
use crate::envelopes::{Envelope, fresh_job_id};
use crate::output::{Output, bad, good, styled};
use crate::report::usage;
use shared::signature::sign::fresh_webhook_id;

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

pub(super) async fn run(args: SendArgs, out: Output) -> anyhow::Result<()> {
    let signer = Signer::from_args(&args.signer)?;
    let known = EventKind::of(&args.event_type) != EventKind::Other;
    if args.body.is_none() && !known && !args.allow_unknown_type {
        return Err(usage(unknown_type(&args.event_type)));
    }
    reqwest::Url::parse(&args.url).map_err(|e| usage(format!("{:?} is not a URL: {e}", args.url)))?;
    let target = match args.url_token.as_ref().map(crate::args::Sensitive::expose) {
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
        let response = http
            .post(&target)
            .header("content-type", "application/json")
            .header("webhook-id", &signed.id)
            .header("webhook-timestamp", &signed.timestamp)
            .header("webhook-signature", &signed.signature)
            .body(sent.clone())
            .send()
            .await
            // The URL may carry the endpoint's token: never in a message.
            .map_err(reqwest::Error::without_url)
            .with_context(|| {
                format!("could not reach {}: is the receiver running? (`make dev` prints its URL)", args.url)
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
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
            answer: serde_json::from_str(&text).unwrap_or(Value::String(text)),
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
