//! The cold first delivery: what a cold start costs up to the answer of the invocation that caused it,
//! its calls to AWS made the way they are made in AWS, over TLS. Each function is started
//! `starts` times with its AWS calls going straight to the emulator over plain HTTP and as often
//! through [`testkit::TlsFront`] (a certificate authority of the run's own, trusted through
//! `SSL_CERT_FILE`, or `NODE_EXTRA_CA_CERTS` for Node.js), the two interleaved so the machine's drift
//! falls on both alike. The difference is what TLS adds: the handshake, the trust store loaded and
//! checked, and the first use of the process's random number generator.

use std::time::Duration;

use testkit::TlsFront;

use crate::Error;
use crate::events::Workload;
use crate::launch::{self, ColdStart, Subject};
use crate::report::Role;
use crate::report::{Stats, ms};

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

/// `subject` with its AWS calls through `front`, trusting its authority: every variable naming the
/// emulator at `plain` (`AWS_ENDPOINT_URL`, and the queue URLs, which the AWS SDK for JavaScript sends
/// to directly) names the front instead, as every AWS URL is `https` in AWS.
pub(crate) fn through_tls(subject: &Subject, plain: &str, front: &TlsFront) -> Subject {
    let mut tls = subject.clone();
    let url = front.url();
    for (_, value) in &mut tls.env {
        if let Some(rest) = value.strip_prefix(plain) {
            *value = format!("{url}{rest}");
        }
    }
    let ca = front.ca_file().display().to_string();
    tls.env.extend([("SSL_CERT_FILE".to_owned(), ca.clone()), ("NODE_EXTRA_CA_CERTS".to_owned(), ca)]);
    tls
}

/// `starts` cold first deliveries of `plain` and as many of `tls` (whose calls must go through
/// `front`: a start that made no handshake there is an error), interleaved, each handed the next event
/// of `workload` and its answer checked.
pub(crate) async fn measure(
    plain: &Subject,
    (tls, front): (&Subject, &TlsFront),
    workload: &Workload,
    starts: usize,
    role: Role,
) -> Result<ColdRow, Error> {
    eprintln!("{}: {starts} cold first deliveries over HTTP and {starts} through TLS ...", plain.label);
    let (mut polls, mut over_http, mut over_tls) = (Vec::new(), Vec::new(), Vec::new());
    for start in 0..starts {
        for (subject, answers, offset) in [(plain, &mut over_http, 0), (tls, &mut over_tls, 1)] {
            let index = 2 * start + offset;
            let check = |id: &str, outcome: &_| workload.check(id, outcome);
            let handshakes = front.handshakes();
            let ColdStart { poll, answer } =
                launch::first_answer(subject, workload.event(index)?, check).await?;
            if offset == 1 && front.handshakes() == handshakes {
                return Err(format!("{}: answered without a TLS handshake at the front", tls.label).into());
            }
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
