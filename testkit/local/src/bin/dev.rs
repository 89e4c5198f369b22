//! `make dev`: the pipeline on this machine, kept running until Ctrl-C, pointed at your own setup: your
//! secret, URL token and routes (flags or the environment), on the port you choose. Prints one live line
//! per delivery: when, its `webhook-id`, type and scheme, the receiver's answer and reason, and where the
//! fanout sent it. `RUST_LOG` shows the functions' own logs.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use gemini_sim::{Settings, Simulator};
use gemini_webhooks::ui::output::{bad, dim, good, styled};
use gemini_webhooks::ui::time::clock_time;
use lambda_http::{Body, Request, Response};
use local_stack::http::serve_json;
use local_stack::{Drained, Endpoint, Pipeline, Routed};
use serde_json::Value;
use shared::clock::SystemClock;
use shared::keys::jwks_document;
use shared::routing::Routes;
use shared::signature::sign::Ed25519Signer;
use shared::signature::{EndpointSecrets, SigningSecret, UrlToken};
use testkit::{Emulator, ROUTED_QUEUES};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The local pipeline, kept running: the real receiver on HTTP, the recorder and fanout polling.
#[derive(Parser)]
#[command(name = "make dev", max_term_width = 100)]
struct Args {
    /// The receiver's port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "DEV_PORT", default_value_t = 8080)]
    port: u16,
    /// The emulator's port (default: a free one).
    #[arg(long, env = "DEV_EMULATOR_PORT")]
    emulator_port: Option<u16>,
    /// The endpoint's `whsec_` signing secret(s), space-separated (default: a fresh one, printed).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The endpoint's URL token for dynamic deliveries (default: a fresh one, printed).
    #[arg(long, env = "WEBHOOK_URL_TOKEN", hide_env_values = true)]
    url_token: Option<String>,
    /// Routes as the fanout reads them (`ROUTES`); a queue given by a plain name instead of a URL is
    /// created in the emulator (default: the template's batch, interaction and video routes).
    #[arg(long, env = "ROUTES")]
    routes: Option<String>,
    /// The local Gemini's port (default: a free one).
    #[arg(long, env = "DEV_GEMINI_PORT")]
    gemini_port: Option<u16>,
}

/// The API key the local Gemini accepts.
const GEMINI_API_KEY: &str = "dev-api-key";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();
    shared::metrics::silence();
    let outcome = run(args).await;
    gemini_webhooks::ui::report::report(outcome, false, false)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let secret = match &args.secret {
        Some(text) => {
            SigningSecret::parse_list(text).context("--secret (or WEBHOOK_SECRET) is not usable")?;
            text.clone()
        }
        None => SigningSecret::generate().expose_whsec(),
    };
    let token = match &args.url_token {
        Some(text) => UrlToken::parse(text).context("--url-token (or WEBHOOK_URL_TOKEN) is not usable")?,
        None => UrlToken::generate(),
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await.map_err(|e| {
        let taken = e.kind() == std::io::ErrorKind::AddrInUse;
        let hint =
            if taken { " (another `make dev`?): pass --port N, or --port 0 for a free one" } else { "" };
        anyhow::Error::new(e).context(format!("listening on 127.0.0.1:{}{hint}", args.port))
    })?;

    anstream::println!("starting the local AWS emulator (moto) ...");
    let emulator = match args.emulator_port {
        Some(port) => Emulator::start_on("127.0.0.1", port),
        None => Emulator::start(),
    }
    .context("starting the emulator (make venv installs it)")?;
    let gemini = Simulator::start_on(
        &format!("127.0.0.1:{}", args.gemini_port.unwrap_or(0)),
        GEMINI_API_KEY,
        Settings::default(),
    )
    .await
    .context("starting the local Gemini")?;
    // Google's JWKS, played by a server on loopback: the local Gemini's key (its dynamic deliveries)
    // and one of our own (for `gemini-webhooks send --scheme v1a`).
    let key = Ed25519Signer::generate();
    let mut keys: Vec<Value> = gemini.jwks()["keys"].as_array().cloned().unwrap_or_default();
    keys.push(key.public_jwk(Some("local-1")));
    let jwks_listener = TcpListener::bind("127.0.0.1:0").await?;
    let jwks_url = format!("http://{}/.well-known/jwks.json", jwks_listener.local_addr()?);
    tokio::spawn(serve_json(jwks_listener, jwks_document(keys).to_string()));
    // The endpoint's secret in the emulator's Secrets Manager, as a deployed stack has it: what
    // `gemini-webhooks webhooks create --secret-arn` writes to.
    let signing = SigningSecret::parse_list(&secret)?;
    let value = EndpointSecrets::new(signing, Some(token.clone())).to_secret_string();
    let created = emulator
        .secretsmanager()
        .await
        .create_secret()
        .name(format!("gemini-webhooks-dev-{}-endpoint", std::process::id()))
        .secret_string(value)
        .send()
        .await
        .context("creating the endpoint's secret in the emulator")?;
    let secret_arn = created.arn().unwrap_or_default().to_owned();
    let vars = [("WEBHOOK_SECRETS_ARN", secret_arn.clone()), ("JWKS_URL", jwks_url)];
    let mut pipeline = Pipeline::start(&emulator, &vars, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("creating the stack in the emulator")?;
    let queues = match &args.routes {
        Some(routes) => {
            let (routes, queues) = user_routes(&emulator, &pipeline, routes).await?;
            pipeline.set_routes(routes);
            queues
        }
        None => pipeline.stack.routed.iter().map(|(name, q)| ((*name).to_owned(), q.url.clone())).collect(),
    };

    let endpoint = Endpoint::new(&format!("http://{}/", listener.local_addr()?), &token);
    let (deliveries, mut received) = mpsc::unbounded_channel();
    serve_watched(&pipeline, listener, deliveries);
    let local = Local { endpoint: &endpoint, emulator: &emulator, gemini: &gemini, secret_arn: &secret_arn };
    print_banner(&args, &local, &secret, &key, &queues, &pipeline);

    let mut pending = Vec::new();
    let mut unclaimed = Vec::new();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            Some(delivery) = received.recv() => pending.push(delivery),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        while let Ok(delivery) = received.try_recv() {
            pending.push(delivery);
        }
        let drained =
            pipeline.drain().await.map_err(|e| anyhow::anyhow!("{e}")).context("running the triggers")?;
        print_outcomes(std::mem::take(&mut pending), drained, &mut unclaimed, &queues);
    }
}

/// Routes from `--routes`, with each queue given by name created in the emulator; and every queue by name.
async fn user_routes(
    emulator: &Emulator,
    pipeline: &Pipeline,
    routes: &str,
) -> anyhow::Result<(Routes, BTreeMap<String, String>)> {
    let mut rules: Value = serde_json::from_str(routes).context("--routes (or ROUTES) is not JSON")?;
    let sqs = emulator.sqs().await;
    let mut queues = BTreeMap::new();
    for queue in
        rules.as_array_mut().into_iter().flatten().filter_map(|r| r.get_mut("queues")?.as_array_mut())
    {
        for entry in queue.iter_mut().filter(|q| q.as_str().is_some_and(|q| !q.contains("://"))) {
            let name = entry.as_str().unwrap_or_default().to_owned();
            let created = testkit::create_queue_named(&sqs, &pipeline.stack.prefix, &name, &ROUTED_QUEUES[0])
                .await
                .with_context(|| format!("creating queue {name} for --routes"))?;
            *entry = Value::String(created.url.clone());
            queues.insert(name, created.url);
        }
    }
    let default = pipeline.stack.routed("default").url.clone();
    queues.insert("default".into(), default.clone());
    let routes = Routes::parse(Some(&rules.to_string()), default).context("--routes (or ROUTES)")?;
    Ok((routes, queues))
}

/// What the receiver saw and answered for one request.
struct Delivery {
    at_ms: i64,
    webhook_id: String,
    event_type: String,
    scheme: &'static str,
    status: u16,
    answer: Value,
}

/// Serves the receiver, reporting each request and its answer on `deliveries`.
fn serve_watched(pipeline: &Pipeline, listener: TcpListener, deliveries: mpsc::UnboundedSender<Delivery>) {
    let receiver = pipeline.receiver();
    let handle = move |request: Request| {
        let (receiver, deliveries) = (receiver.clone(), deliveries.clone());
        async move {
            let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
            let webhook_id = header("webhook-id").to_owned();
            let scheme = scheme_of(header("webhook-signature"));
            let event_type = serde_json::from_slice::<Value>(request.body())
                .ok()
                .and_then(|v| v.get("type")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "-".into());
            let response = receiver::handle(&receiver, request).await;
            let _ = deliveries.send(Delivery {
                at_ms: shared::clock::Clock::unix_now_ms(&SystemClock),
                webhook_id,
                event_type,
                scheme,
                status: response.status().as_u16(),
                answer: answer_of(&response),
            });
            response
        }
    };
    tokio::spawn(local_stack::http::serve(listener, Arc::new(handle)));
}

/// The scheme a `webhook-signature` header claims (what verified is the receiver's business).
fn scheme_of(signature: &str) -> &'static str {
    match signature.trim() {
        "" => "-",
        s if s.starts_with("v1a,") => "v1a",
        s if s.starts_with("v1,") => "v1",
        s if s.split('.').count() == 3 => "jwt",
        _ => "?",
    }
}

fn answer_of(response: &Response<Body>) -> Value {
    let bytes: &[u8] = match response.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// A line per delivery, with where each accepted one went (or why it went nowhere). An event may be
/// routed in the pass before its delivery's line is due (the triggers run while the receiver answers),
/// so routed events wait a few passes for theirs; one routed with no delivery (a release from the
/// quarantine, a record retried) then gets a line of its own.
fn print_outcomes(
    deliveries: Vec<Delivery>,
    drained: Drained,
    unclaimed: &mut Vec<(Routed, u8)>,
    queues: &BTreeMap<String, String>,
) {
    let names = |routed: &Routed| {
        let name_of = |url: &String| {
            queues.iter().find(|(_, u)| *u == url).map_or_else(|| url.clone(), |(name, _)| name.clone())
        };
        routed.queues.iter().map(name_of).collect::<Vec<_>>().join(", ")
    };
    unclaimed.extend(drained.routed.into_iter().map(|r| (r, 0)));
    for d in deliveries {
        let text = |key: &str| d.answer.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        let (style, outcome) = match d.status {
            200 => match unclaimed.iter().position(|(r, _)| r.webhook_id == d.webhook_id) {
                Some(i) => (good(), format!("accepted → {}", names(&unclaimed.remove(i).0))),
                None if drained.ingest_failures + drained.stream_failures > 0 => {
                    (good(), "accepted; recording is being retried".to_owned())
                }
                None => (good(), "accepted; a retry of a recorded event: not routed again".to_owned()),
            },
            202 => (
                bad(),
                format!("quarantined ({}): `gemini-webhooks quarantine list` shows it", text("reason")),
            ),
            _ => (bad(), format!("{}: {}", text("error"), text("message"))),
        };
        let at = clock_time(d.at_ms);
        let status = styled(style, d.status);
        anstream::println!(
            "{at}  {:<36} {:<28} {:<4} {status} {outcome}",
            d.webhook_id,
            d.event_type,
            d.scheme
        );
    }
    const PASSES: u8 = 4;
    for (routed, passes) in unclaimed.iter_mut() {
        *passes += 1;
        if *passes == PASSES {
            let at = clock_time(shared::clock::Clock::unix_now_ms(&SystemClock));
            let (id, event_type) = (&routed.webhook_id, &routed.event_type);
            anstream::println!(
                "{at}  {id:<36} {event_type:<28}      {} → {}",
                styled(dim(), "routed"),
                names(routed)
            );
        }
    }
    unclaimed.retain(|(_, passes)| *passes < PASSES);
}

/// Where the local pieces are, for the banner.
struct Local<'a> {
    endpoint: &'a Endpoint,
    emulator: &'a Emulator,
    gemini: &'a Simulator,
    secret_arn: &'a str,
}

fn print_banner(
    args: &Args,
    local: &Local<'_>,
    secret: &str,
    key: &Ed25519Signer,
    queues: &BTreeMap<String, String>,
    pipeline: &Pipeline,
) {
    let seed = shared::keys::text::secret_key_text(&key.expose_seed());
    let (e, url) = (local.emulator.endpoint(), &local.endpoint.plain);
    anstream::println!("receiver      {url}");
    anstream::println!("dynamic URL   {}", local.endpoint.dynamic);
    anstream::println!("emulator      {e}");
    anstream::println!(
        "gemini        GEMINI_API_BASE={} GEMINI_API_KEY={GEMINI_API_KEY}",
        local.gemini.base_url()
    );
    anstream::println!("secret        {}", local.secret_arn);
    match args.secret {
        Some(_) => anstream::println!("v1 secret     yours (WEBHOOK_SECRET)"),
        None => anstream::println!("v1 secret     WEBHOOK_SECRET={secret}"),
    }
    anstream::println!("v1a key       WEBHOOK_ED25519_SEED={seed}");
    for (name, url) in queues {
        anstream::println!("queue {name:<12}{url}");
    }
    anstream::println!("quarantine    {}", pipeline.stack.quarantine.url);
    anstream::println!();
    anstream::println!("{}", styled(dim(), "try, in another terminal (with WEBHOOK_SECRET set as above):"));
    anstream::println!("  gemini-webhooks send {url} --type batch.failed");
    let watched = queues.iter().find(|(name, _)| *name != "default").or_else(|| queues.iter().next());
    if let Some((_, queue)) = watched {
        anstream::println!("  gemini-webhooks tail {queue} --endpoint {e} --consume --follow");
        anstream::println!(
            "  gemini-webhooks forward --queue {queue} --to http://127.0.0.1:3000/ --endpoint {e}"
        );
    }
    anstream::println!(
        "{}",
        styled(dim(), "or as Gemini would (with GEMINI_API_BASE and GEMINI_API_KEY set as above):")
    );
    anstream::println!(
        "  gemini-webhooks webhooks create --url {url} --secret-arn {} --endpoint {e}",
        local.secret_arn
    );
    anstream::println!("  gemini-webhooks webhooks ping ID");
    anstream::println!(
        "  gemini-webhooks jobs interaction \"hello\" --webhook-url '{}'   (its end comes 2 s later)",
        local.endpoint.dynamic
    );
    anstream::println!(
        "  curl -X POST {}/_sim/events -d '{{\"type\": \"batch.succeeded\", \"data\": {{\"id\": \"batches/1\"}}}}'",
        local.gemini.base_url()
    );
    anstream::println!(
        "{}",
        styled(dim(), "a line per delivery below; RUST_LOG=info shows the functions' logs; Ctrl-C stops")
    );
}
