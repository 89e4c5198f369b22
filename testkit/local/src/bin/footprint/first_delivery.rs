//! The cold first delivery: what a cold start costs up to the answer of the invocation that caused it,
//! its calls to AWS (and, for a `v1a` delivery, to the JWKS) made the way they are made in AWS, over
//! TLS. Each function is started `starts` times with its calls going straight to the emulator (and a
//! JWKS server) over plain HTTP and as often through [`testkit::TlsFront`]s, the two interleaved so the
//! machine's drift falls on both alike. Both load the same trust store, the system's roots named by
//! `SSL_CERT_FILE` as the template names them, and the TLS runs the run's certificate authority with
//! them (Node.js: through `NODE_EXTRA_CA_CERTS`). The difference is what TLS adds: the handshakes,
//! each server's chain checked, and the process's first random numbers.

use std::path::Path;
use std::time::Duration;

use shared::fixtures::sample_events::DEMO_URL_TOKEN;
use shared::keys::jwks_document;
use shared::signature::SigningSecret;
use shared::signature::sign::Ed25519Signer;
use testkit::{Emulator, Stack, StreamReader, TlsFront};

use crate::drain::Drain;
use crate::events::{self, Workload};
use crate::launch::{self, ColdStart, Subject};
use crate::report::{Role, Stats, ms};
use crate::subjects::{self, Target};
use crate::{Error, Options, check_enqueued, count};

/// One function's cold first deliveries.
#[derive(Debug, Clone)]
pub(crate) struct ColdRow {
    /// What the report calls it.
    pub(crate) label: String,
    /// Exec to the first poll, over both kinds of run.
    pub(crate) poll: Stats,
    /// Exec to the first answer, over plain HTTP.
    pub(crate) plain: Stats,
    /// Exec to the first answer, through TLS.
    pub(crate) tls: Stats,
    /// What the row is to the targets.
    pub(crate) role: Role,
}

/// A JWKS server on loopback holding one Ed25519 key, and a TLS front for it beside the emulator's:
/// what a `v1a` receiver's first delivery fetches, as it fetches Google's.
pub(crate) struct Jwks {
    key: Ed25519Signer,
    plain: String,
    front: TlsFront,
    server: tokio::task::JoinHandle<()>,
}

impl Jwks {
    pub(crate) async fn start(beside: &TlsFront) -> Result<Self, Error> {
        let key = Ed25519Signer::generate();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let document = jwks_document([key.public_jwk(None)]).to_string();
        let server = tokio::spawn(local_stack::http::serve_json(listener, document));
        let front = beside.beside(address).await?;
        Ok(Self { key, plain: format!("http://{address}"), front, server })
    }
}

impl Drop for Jwks {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the cold first deliveries call, plainly and through TLS, and the receiver's secret.
pub(crate) struct Cold<'a> {
    pub(crate) emulator: &'a Emulator,
    pub(crate) front: &'a TlsFront,
    pub(crate) jwks: &'a Jwks,
    pub(crate) secret: &'a SigningSecret,
}

/// One row of the cold first deliveries: a function and, for the receiver, the scheme it is sent.
#[derive(Debug, Clone, Copy)]
enum ColdRun {
    ReceiverV1,
    ReceiverV1a,
    Recorder,
    Fanout,
}

impl ColdRun {
    /// In pipeline order: the recorder's batches are the fanout's stream records.
    const ALL: [Self; 4] = [Self::ReceiverV1, Self::ReceiverV1a, Self::Recorder, Self::Fanout];

    fn function(self) -> &'static str {
        match self {
            Self::ReceiverV1 | Self::ReceiverV1a => "receiver",
            Self::Recorder => "recorder",
            Self::Fanout => "fanout",
        }
    }

    /// What the report calls the row.
    fn name(self) -> &'static str {
        match self {
            Self::ReceiverV1a => "receiver, v1a",
            _ => self.function(),
        }
    }
}

/// The cold first deliveries of one set's receiver (`v1`, then `v1a`), recorder and fanout, on a
/// stack of their own.
pub(crate) async fn of_set(
    cold: &Cold<'_>,
    dir: &Path,
    place: Option<&str>,
    options: &Options,
) -> Result<Vec<ColdRow>, Error> {
    let emulator = cold.emulator;
    let stack = Stack::create(emulator).await?;
    let target = Target { endpoint: emulator.endpoint(), stack: &stack, secret: cold.secret };
    let sqs = emulator.sqs().await;
    let mut stream = StreamReader::open(&emulator.sdk_config().await, &stack.stream_arn).await?;
    let starts = options.first_deliveries;
    let aws = Fronted { plain: emulator.endpoint(), front: cold.front };
    let jwks = Fronted { plain: &cold.jwks.plain, front: &cold.jwks.front };
    let ingest = [stack.ingest.url.as_str()];
    let mut rows = Vec::new();
    for run in ColdRun::ALL.into_iter().filter(|run| options.functions.contains(&run.function())) {
        let function = run.function();
        let label = match place {
            Some(place) => format!("{} ({place})", run.name()),
            None => run.name().to_owned(),
        };
        let mut plain = subjects::rust(function, label, subjects::bootstrap(dir, function)?, &target);
        let mut workload = match run {
            ColdRun::ReceiverV1 => Workload::deliveries(cold.secret, "msg_fp_cold"),
            ColdRun::ReceiverV1a => {
                plain.env.extend([
                    ("JWKS_URL".to_owned(), format!("{}/jwks", cold.jwks.plain)),
                    ("WEBHOOK_URL_TOKEN".to_owned(), DEMO_URL_TOKEN.to_owned()),
                ]);
                Workload::v1a_deliveries(cold.jwks.key.clone(), DEMO_URL_TOKEN, "msg_fp_cold_v1a")
            }
            ColdRun::Recorder => Workload::ingest("msg_fp_cold_rec", &stack.ingest.arn),
            ColdRun::Fanout => {
                // One recorder batch's records per start: exactly the records the recorder's starts wrote.
                let records = 2 * starts * events::RECORDER_BATCH;
                let drain = Drain::new(sqs.clone(), &stack, "batch", 0);
                Workload::stream(&mut stream, records, events::RECORDER_BATCH, drain).await?
            }
        };
        let tls = through_tls(&plain, &[aws, jwks])?;
        let before = count(&sqs, &ingest).await?;
        let role = if function == "receiver" { Role::Targeted } else { Role::Measured };
        rows.push(measure(&plain, &tls, &mut workload, starts, role).await?);
        if function == "receiver" {
            check_enqueued(&sqs, &ingest, before, 2 * starts, &plain.label).await?;
        }
    }
    Ok(rows)
}

/// A service a function calls over plain HTTP on loopback, at `plain`, and the TLS front standing for
/// it (the emulator for AWS; a JWKS server for Google's keys).
#[derive(Clone, Copy)]
pub(crate) struct Fronted<'a> {
    pub(crate) plain: &'a str,
    pub(crate) front: &'a TlsFront,
}

/// A function whose calls go through TLS fronts, and the fronts it must have reached.
pub(crate) struct ThroughTls<'a> {
    pub(crate) subject: Subject,
    fronts: Vec<&'a TlsFront>,
}

/// `subject` with its calls through the fronts of `services`, trusting their authority: every
/// variable naming a service's plain URL (`AWS_ENDPOINT_URL`; the queue URLs, which the AWS SDK for
/// JavaScript sends to directly; `JWKS_URL`) names its front instead, as every AWS and Google URL is
/// `https`. The fronts must share one authority ([`TlsFront::beside`]): one file is trusted.
pub(crate) fn through_tls<'a>(subject: &Subject, services: &[Fronted<'a>]) -> Result<ThroughTls<'a>, Error> {
    let Some(first) = services.first() else { return Err("no TLS front to go through".into()) };
    if services.iter().any(|service| service.front.ca_file() != first.front.ca_file()) {
        return Err("the TLS fronts must share one certificate authority".into());
    }
    let mut tls = subject.clone();
    tls.env.retain(|(name, _)| name != subjects::SSL_CERT_FILE);
    let mut fronts: Vec<&TlsFront> = Vec::new();
    for (_, value) in &mut tls.env {
        for service in services {
            if let Some(rest) = value.strip_prefix(service.plain) {
                *value = format!("{}{rest}", service.front.url());
                if !fronts.iter().any(|front| std::ptr::eq(*front, service.front)) {
                    fronts.push(service.front);
                }
                break;
            }
        }
    }
    // Rust: the system's roots and the authority, in place of the roots alone, so the trust store
    // loaded is the one loaded over plain HTTP, and in AWS, plus one. Node.js adds NODE_EXTRA_CA_CERTS
    // to the roots it carries.
    let bundle = first.front.bundle_file().display().to_string();
    let ca = first.front.ca_file().display().to_string();
    tls.env.extend([(subjects::SSL_CERT_FILE.to_owned(), bundle), ("NODE_EXTRA_CA_CERTS".to_owned(), ca)]);
    Ok(ThroughTls { subject: tls, fronts })
}

/// `starts` cold first deliveries of `plain` and as many of `tls` (a start that made no handshake at
/// each front its calls go through is an error), interleaved, each handed the next event of
/// `workload`, its answer checked, and what it sent accounted for before the next start.
pub(crate) async fn measure(
    plain: &Subject,
    tls: &ThroughTls<'_>,
    workload: &mut Workload,
    starts: usize,
    role: Role,
) -> Result<ColdRow, Error> {
    eprintln!("{}: {starts} cold first deliveries over HTTP and {starts} through TLS ...", plain.label);
    let (mut polls, mut over_http, mut over_tls) = (Vec::new(), Vec::new(), Vec::new());
    for start in 0..starts {
        for (subject, answers, offset) in [(plain, &mut over_http, 0), (&tls.subject, &mut over_tls, 1)] {
            let index = 2 * start + offset;
            let handshakes: Vec<usize> = tls.fronts.iter().map(|front| front.handshakes()).collect();
            let event = workload.event(index)?;
            let check = |id: &str, outcome: &_| workload.check(id, outcome);
            let ColdStart { poll, answer } = launch::first_answer(subject, event, check).await?;
            let missed =
                tls.fronts.iter().zip(&handshakes).any(|(front, before)| front.handshakes() == *before);
            if offset == 1 && missed {
                return Err(
                    format!("{}: answered without a TLS handshake at each front", tls.subject.label).into()
                );
            }
            workload.after(index, index + 1 == 2 * starts).await?;
            polls.push(poll);
            answers.push(answer);
        }
    }
    let stats = |samples: Vec<Duration>| Stats::of(samples).ok_or("no cold-start samples");
    let row = ColdRow {
        label: plain.label.clone(),
        poll: stats(polls)?,
        plain: stats(over_http)?,
        tls: stats(over_tls)?,
        role,
    };
    eprintln!(
        "{}: first answer median {:.1} ms over HTTP, {:.1} ms through TLS",
        row.label,
        ms(row.plain.median),
        ms(row.tls.median)
    );
    Ok(row)
}
