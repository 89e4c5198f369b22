//! `make demo`: the whole pipeline on this machine, no AWS account and no Docker. Starts the emulator
//! and the local Gemini, creates the stack's table, queues and bucket, registers the receiver with the
//! local Gemini, and wires the real receiver, recorder and fanout. Then, first, the loop this project
//! exists for (`story`): a batch started with a dynamic webhook, its end delivered, recorded, routed and
//! its results stored in S3 by the consumer. Then the edges: signed deliveries of every event type
//! (static `v1` and dynamic `v1a`) plus a retry, a forgery, a stale replay and a quarantined delivery
//! over HTTP, with what the receiver answered and where each event arrived. Exits 0 only when every
//! expectation held.
//!
//! `make dev` (`src/bin/dev.rs`) keeps the same pipeline running for your own deliveries.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

mod ledger;
mod story;
mod workflow;

use std::time::Duration;

use gemini_sim::{Settings, Simulator};
use gemini_webhooks::ops::event_log::EventLog;
use gemini_webhooks::ops::quarantine::Quarantine;
use local_stack::http::serve_json;
use local_stack::{Endpoint, Pipeline, routed_queue_for};
use serde_json::json;
use shared::EventKind;
use shared::aws::queue::SqsQueue;
use shared::clock::{Clock, SystemClock};
use shared::gemini::{DEFAULT_API_VERSION, GeminiClient, NewWebhook, SUBSCRIBABLE_EVENTS};
use shared::keys::jwks_document;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use shared::signature::{SigningSecret, UrlToken};
use testkit::Emulator;
use tokio::net::TcpListener;

/// The API key the local Gemini accepts.
const GEMINI_KEY: &str = "demo-api-key";

/// One delivery and what should come of it.
#[derive(Clone)]
struct Case {
    label: String,
    scheme: &'static str,
    signed: SignedHeaders,
    body: Vec<u8>,
    expect_status: u16,
    /// The routed queue it must reach, or `None` when it must reach none (again).
    expect_queue: Option<&'static str>,
    /// Not a delivery: the release of the quarantined delivery with the same id.
    release: bool,
    /// Posted to the plain URL even though signed dynamically (without the token).
    to_plain_url: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    shared::metrics::silence();
    println!("starting the local AWS emulator (moto) and the local Gemini on 127.0.0.1 ...");
    let emulator = Emulator::start()?;
    let settings =
        Settings { finish_jobs_after: None, first_retry: Duration::from_millis(50), ..Settings::default() };
    let gemini = Simulator::start(GEMINI_KEY, settings).await?;
    let key = Ed25519Signer::generate();

    // Google's JWKS, played by a server on loopback: the local Gemini's key, and one of our own for the
    // hand-made dynamic deliveries below.
    let mut keys: Vec<serde_json::Value> = gemini.jwks()["keys"].as_array().cloned().unwrap_or_default();
    keys.push(key.public_jwk(Some("local-1")));
    let jwks_listener = TcpListener::bind("127.0.0.1:0").await?;
    let jwks_url = format!("http://{}/.well-known/jwks.json", jwks_listener.local_addr()?);
    tokio::spawn(serve_json(jwks_listener, jwks_document(keys).to_string()));

    // Register the receiver with the local Gemini, as `gemini-webhooks webhooks create` does: its
    // signing secret is the receiver's.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let client = GeminiClient::new(gemini.base_url(), DEFAULT_API_VERSION, GEMINI_KEY)?;
    let events = SUBSCRIBABLE_EVENTS.iter().map(|e| (*e).to_owned()).collect();
    let registered = client
        .create_webhook(&NewWebhook { uri: url.clone(), subscribed_events: events, name: None })
        .await?;
    let secret = registered.new_signing_secret.clone().ok_or("no signing secret")?;

    let token = UrlToken::generate();
    let vars = [
        ("WEBHOOK_SECRETS", secret.expose_whsec()),
        ("WEBHOOK_URL_TOKEN", token.expose().to_owned()),
        ("JWKS_URL", jwks_url),
    ];
    let pipeline = Pipeline::start(&emulator, &vars, Arc::new(SystemClock)).await?;
    let endpoint = Endpoint::new(&url, &token);
    pipeline.serve_receiver(listener);
    println!();
    let story_held = story::run(&emulator, &pipeline, &endpoint, &gemini, &client, &registered.id).await?;
    let ledger_held = ledger::run(&emulator, &pipeline, &endpoint, &gemini, &client).await?;
    let workflow_held = workflow::run(&emulator, &pipeline, &endpoint, &gemini, &client).await?;
    let now = SystemClock.unix_now();
    let http = reqwest::Client::new();

    let mut cases = Vec::new();
    let types = EventKind::CATALOG.iter().map(|(name, _)| *name).chain(["model.tuned"]);
    for (i, event_type) in types.enumerate() {
        let body = json!({"type": event_type, "version": "v1", "data": {"id": format!("jobs/{i}")}})
            .to_string()
            .into_bytes();
        let queue = routed_queue_for(event_type);
        let (scheme, signed) = if i % 2 == 0 {
            ("v1", SignedHeaders::v1(&secret, &format!("msg_demo_{i:02}"), now, &body))
        } else {
            ("v1a", SignedHeaders::v1a(&key, &format!("msg_demo_{i:02}"), now, &body))
        };
        cases.push(Case {
            label: event_type.to_owned(),
            scheme,
            signed,
            body,
            expect_status: 200,
            expect_queue: Some(queue),
            release: false,
            to_plain_url: false,
        });
    }
    let retried = Case { label: "retry of batch.succeeded".into(), expect_queue: None, ..cases[0].clone() };
    let body = cases[0].body.clone();
    cases.push(retried);
    // Genuine, signed with "Google's" key, but posted without the endpoint's token: someone else's job.
    cases.push(Case {
        label: "dynamic, without the token".into(),
        scheme: "v1a",
        signed: SignedHeaders::v1a(&key, "msg_demo_theirs", now, &body),
        body: body.clone(),
        expect_status: 401,
        expect_queue: None,
        release: false,
        to_plain_url: true,
    });
    cases.push(Case {
        label: "forged (unknown secret)".into(),
        scheme: "v1",
        signed: SignedHeaders::v1(&SigningSecret::generate(), "msg_demo_forged", now, &body),
        body: body.clone(),
        expect_status: 401,
        expect_queue: None,
        release: false,
        to_plain_url: false,
    });
    cases.push(Case {
        label: "stale (10 minutes old)".into(),
        scheme: "v1",
        signed: SignedHeaders::v1(&secret, "msg_demo_stale", now - 600, &body),
        body,
        expect_status: 401,
        expect_queue: None,
        release: false,
        to_plain_url: false,
    });
    // Signed, so the user's, but not an event: kept in the quarantine (202), released below, fixed.
    let not_an_event = br#"{"kind":"batch.succeeded","data":{"id":"jobs/q"}}"#.to_vec();
    cases.push(Case {
        label: "verified, not an event".into(),
        scheme: "v1",
        signed: SignedHeaders::v1(&secret, "msg_demo_quarantined", now, &not_an_event),
        body: not_an_event,
        expect_status: 202,
        expect_queue: None,
        release: false,
        to_plain_url: false,
    });

    let mut statuses = Vec::new();
    for case in &cases {
        let dynamic = case.scheme == "v1a" && !case.to_plain_url;
        let response = http
            .post(endpoint.for_scheme(dynamic))
            .header("content-type", "application/json")
            .headers(case.signed.to_header_map()?)
            .body(case.body.clone())
            .send()
            .await?;
        statuses.push(response.status().as_u16());
    }
    let mut drained = pipeline.drain().await?;
    // The quarantined delivery, released with its `type` fixed, as `gemini-webhooks quarantine release
    // msg_demo_quarantined --body fixed.json` does.
    let quarantine = Quarantine::new(pipeline.sqs.clone(), &pipeline.stack.quarantine.url);
    let held = quarantine.list().await?.0.len();
    let fixed = br#"{"type":"batch.succeeded","data":{"id":"jobs/q"}}"#;
    let ingest = SqsQueue::new(pipeline.sqs.clone(), &pipeline.stack.ingest.url);
    let recorded = EventLog::new(emulator.dynamodb().await, &pipeline.stack.table);
    quarantine.release("msg_demo_quarantined", Some(fixed), &ingest, &recorded).await?;
    cases.push(Case {
        label: "... released, type fixed".into(),
        expect_status: 0,
        expect_queue: Some("batch"),
        release: true,
        ..cases[cases.len() - 1].clone()
    });
    statuses.push(0);
    drained.add(pipeline.drain().await?);

    let mut arrivals: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for (name, messages) in pipeline.take_downstream().await? {
        for message in messages {
            arrivals.entry(message.provenance.webhook_id.to_string()).or_default().push(name);
        }
    }

    println!("the edges: every event type, retries, forgeries, a quarantined delivery");
    println!("{:<30} {:<6} {:<7} {:<22} as expected", "delivery", "scheme", "answer", "arrived in");
    let mut all_good = story_held && ledger_held && workflow_held && held == 1;
    let mut seen = BTreeMap::new();
    for (case, status) in cases.iter().zip(&statuses) {
        let first = seen.insert(case.signed.id.clone(), ()).is_none();
        let arrived = match (first, *status) {
            // Held at first; it arrives once released (the release's row).
            (true, 202) => Vec::new(),
            (true, _) => arrivals.get(&case.signed.id).cloned().unwrap_or_default(),
            (false, _) if case.release => arrivals.get(&case.signed.id).cloned().unwrap_or_default(),
            (false, _) => Vec::new(),
        };
        let expected_arrival: Vec<&str> = case.expect_queue.into_iter().collect();
        let counted = first || case.release;
        let good = *status == case.expect_status && (!counted || arrived == expected_arrival);
        all_good &= good;
        let arrived_text = match (counted, arrived.is_empty()) {
            (false, _) => "(duplicate: dropped)".to_owned(),
            (true, true) if *status == 202 => "(quarantined)".to_owned(),
            (true, true) => "-".to_owned(),
            (true, false) => arrived.join(", "),
        };
        let answer = if case.release { "cli".to_owned() } else { status.to_string() };
        println!(
            "{:<30} {:<6} {:<7} {:<22} {}",
            case.label,
            case.scheme,
            answer,
            arrived_text,
            if good { "yes" } else { "NO" }
        );
    }
    println!();
    println!(
        "recorder handled {} ingest messages; fanout routed {} new events; failures: {}",
        drained.ingested,
        drained.inserts,
        drained.ingest_failures + drained.stream_failures
    );
    println!("{}", if all_good { "every expectation held" } else { "SOME EXPECTATIONS FAILED" });
    Ok(all_good)
}
