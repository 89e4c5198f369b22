//! The cold first delivery: what a cold start costs up to the answer of the invocation that caused it,
//! its calls to AWS (and, for a `v1a` delivery, to the JWKS) made the way they are made in AWS, over
//! TLS. Each function is started `starts` times with its calls going straight to the emulator (and a
//! JWKS server) over plain HTTP and as often through [`testkit::TlsFront`]s (a certificate authority of
//! the run's own, trusted through `SSL_CERT_FILE` naming the system's roots and it, so the trust store
//! is as large as in AWS, or `NODE_EXTRA_CA_CERTS` for Node.js), the two interleaved so the machine's
//! drift falls on both alike. The difference is what TLS adds: the
//! handshakes, the trust store loaded and checked, and the first use of the process's random number
//! generator.

use std::time::Duration;

use testkit::TlsFront;

use crate::Error;
use crate::events::Workload;
use crate::launch::{self, ColdStart, Subject};
use crate::report::Role;
use crate::report::{Stats, ms};
use crate::subjects;

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
