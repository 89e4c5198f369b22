//! `gemini-webhooks`: keys, signatures and signed test deliveries for Gemini webhooks, against a
//! deployed stack or the local one (`make dev`).

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use shared::EventKind;
use shared::clock::{Clock, SystemClock};
use shared::keys::jwks_document;
use shared::message::DownstreamMessage;
use shared::signature::SigningSecret;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};

#[derive(Parser)]
#[command(name = "gemini-webhooks", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a `whsec_` signing secret, a URL token for dynamic deliveries, and an Ed25519 key pair
    /// with its JWKS.
    Keygen,
    /// Print the URLs to give Gemini: the static one, and the dynamic one with the endpoint's token.
    Endpoint {
        /// The stack (its `WebhookUrl` and `EndpointSecretArn` outputs).
        #[arg(long, conflicts_with_all = ["url", "secret_arn"])]
        stack: Option<String>,
        /// The receiver's URL, instead of a stack.
        #[arg(long, requires = "secret_arn")]
        url: Option<String>,
        /// The endpoint's secret, instead of a stack.
        #[arg(long)]
        secret_arn: Option<String>,
        /// A local emulator's endpoint (default: AWS, with your credentials).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Print the three webhook headers for a body (read from a file, or `-` for stdin).
    Sign {
        /// The body to sign.
        body: PathBuf,
        #[command(flatten)]
        signer: SignerArgs,
        /// The `webhook-id` (default: a fresh `msg_...`).
        #[arg(long)]
        id: Option<String>,
        /// Unix seconds (default: now).
        #[arg(long)]
        timestamp: Option<i64>,
    },
    /// POST a signed event of a given type to a receiver URL and print the answer.
    Send {
        /// The receiver's URL (a Function URL, or `make dev`'s local one).
        url: String,
        /// The event type.
        #[arg(long = "type", default_value = "batch.succeeded")]
        event_type: String,
        #[command(flatten)]
        signer: SignerArgs,
        /// The `webhook-id` (default: a fresh `msg_...`).
        #[arg(long)]
        id: Option<String>,
        /// Send the same delivery this many times (as Gemini's retries would).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Change the body after signing (expect 401).
        #[arg(long)]
        tamper: bool,
        /// Sign with a timestamp this many seconds old (over 300 expects 401).
        #[arg(long, default_value_t = 0)]
        age: i64,
        /// The endpoint's URL token, added to the URL as `?token=` (dynamic deliveries need it).
        #[arg(long, env = "WEBHOOK_URL_TOKEN")]
        url_token: Option<String>,
    },
    /// Write Lambda event fixtures for every function, the receiver's signed now.
    Events {
        /// Output directory (default: `events`, or `events/local` when signing with your own secret).
        dir: Option<PathBuf>,
        /// Sign with this secret instead of the demo secret: the events then go to the git-ignored
        /// `events/local`, never into the committed `events/`.
        #[arg(long, env = "WEBHOOK_SECRET")]
        secret: Option<String>,
    },
    /// List, show and release verified deliveries held in the receiver's quarantine.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
    /// Print (and delete) the messages arriving on a routed queue.
    Tail {
        /// The queue URL.
        queue_url: String,
        /// The local emulator's endpoint, printed by `make dev` (default: AWS, with your credentials).
        #[arg(long)]
        endpoint: Option<String>,
        /// Leave messages on the queue.
        #[arg(long)]
        keep: bool,
        /// Stop after this many seconds without a message.
        #[arg(long, default_value_t = 20)]
        idle: u64,
    },
}

#[derive(Subcommand)]
enum QuarantineAction {
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
        /// The fixed body to release instead of the original (`-` reads stdin).
        #[arg(long)]
        body: Option<PathBuf>,
        #[command(flatten)]
        quarantine: QuarantineArgs,
    },
}

#[derive(clap::Args)]
struct QuarantineArgs {
    /// The quarantine queue's URL (the stack's `QuarantineQueueUrl` output).
    #[arg(long = "queue", env = "QUARANTINE_QUEUE_URL")]
    queue_url: String,
    /// The local emulator's endpoint, printed by `make dev` (default: AWS, with your credentials).
    #[arg(long)]
    endpoint: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    V1,
    V1a,
}

#[derive(clap::Args)]
struct SignerArgs {
    /// The scheme to sign with.
    #[arg(long, value_enum, default_value = "v1")]
    scheme: SchemeArg,
    /// The `whsec_` secret, for `v1`.
    #[arg(long, env = "WEBHOOK_SECRET")]
    secret: Option<String>,
    /// The Ed25519 seed (base64, from `keygen`), for `v1a`.
    #[arg(long, env = "WEBHOOK_ED25519_SEED")]
    ed25519_seed: Option<String>,
}

impl SignerArgs {
    fn sign(
        &self,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<SignedHeaders, Box<dyn std::error::Error>> {
        Ok(match self.scheme {
            SchemeArg::V1 => {
                let secret =
                    self.secret.as_deref().ok_or("--secret (or WEBHOOK_SECRET) is required for v1")?;
                SignedHeaders::v1(&SigningSecret::parse(secret)?, id, timestamp, body)
            }
            SchemeArg::V1a => {
                let seed = self.ed25519_seed.as_deref().ok_or("--ed25519-seed is required for v1a")?;
                let seed: [u8; 32] =
                    STANDARD.decode(seed)?.try_into().map_err(|_| "the seed must be 32 bytes")?;
                SignedHeaders::v1a(&Ed25519Signer::from_seed(&seed), id, timestamp, body)
            }
        })
    }
}

/// SDK configuration: the local emulator's (fixed region, dummy credentials) or the user's AWS.
async fn aws_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    match endpoint {
        Some(endpoint) => {
            let credentials =
                aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "local");
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .credentials_provider(credentials)
                .load()
                .await
        }
        None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
    }
}

fn read_body(path: &std::path::Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()).into())
    }
}

async fn quarantine(action: QuarantineAction) -> Result<(), Box<dyn std::error::Error>> {
    use gemini_webhooks::quarantine::Quarantine;
    let args = match &action {
        QuarantineAction::List { quarantine } | QuarantineAction::Show { quarantine, .. } => quarantine,
        QuarantineAction::Release { quarantine, .. } => quarantine,
    };
    let sqs = aws_sdk_sqs::Client::new(&aws_config(args.endpoint.as_deref()).await);
    let held = Quarantine::new(sqs.clone(), &args.queue_url);
    match action {
        QuarantineAction::List { .. } => {
            let all = held.list().await?;
            println!("{:<40} {:<14} {:>8}  detail", "webhook-id", "reason", "bytes");
            for item in &all {
                match &item.delivery {
                    Ok(d) => println!(
                        "{:<40} {:<14} {:>8}  {}",
                        d.provenance.webhook_id,
                        d.reason.as_str(),
                        d.body.len(),
                        d.detail
                    ),
                    Err(e) => println!(
                        "{:<40} {:<14} {:>8}  not a quarantined delivery: {e}",
                        item.message_id, "-", "-"
                    ),
                }
            }
            println!("{} held", all.len());
        }
        QuarantineAction::Show { webhook_id, .. } => {
            let delivery = held.show(&webhook_id).await?;
            let body = match std::str::from_utf8(&delivery.body) {
                Ok(text) => json!(text),
                Err(_) => json!({"base64": STANDARD.encode(&delivery.body)}),
            };
            let shown = json!({
                "webhook_id": delivery.provenance.webhook_id, "webhook_timestamp": delivery.provenance.webhook_timestamp,
                "received_at": delivery.provenance.received_at, "scheme": delivery.provenance.scheme, "reason": delivery.reason,
                "detail": delivery.detail, "body_sha256": delivery.body_sha256, "body": body,
            });
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        QuarantineAction::Release { webhook_id, ingest_queue, body, .. } => {
            let fixed = body.as_deref().map(read_body).transpose()?;
            let ingest = shared::aws::sqs::SqsQueue::new(sqs, &ingest_queue);
            let released = held.release(&webhook_id, fixed.as_deref(), &ingest).await?;
            println!(
                "released {webhook_id} into the ingest queue ({} held message(s) removed)",
                released.count
            );
        }
    }
    Ok(())
}

fn fresh_id() -> String {
    let secret = SigningSecret::generate().expose_whsec();
    let token: String =
        secret["whsec_".len()..].chars().filter(char::is_ascii_alphanumeric).take(20).collect();
    format!("msg_{token}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::metrics::silence();
    match Cli::parse().command {
        Command::Keygen => {
            let key = Ed25519Signer::generate();
            println!("WEBHOOK_SECRET={}", SigningSecret::generate().expose_whsec());
            println!("WEBHOOK_URL_TOKEN={}", shared::signature::UrlToken::generate().expose());
            println!("WEBHOOK_ED25519_SEED={}", STANDARD.encode(key.expose_seed()));
            println!("JWKS_JSON='{}'", jwks_document([key.public_jwk(Some("local-1"))]));
        }
        Command::Sign { body, signer, id, timestamp } => {
            let body = read_body(&body)?;
            let id = id.unwrap_or_else(fresh_id);
            let signed = signer.sign(&id, timestamp.unwrap_or_else(|| SystemClock.unix_now()), &body)?;
            println!(
                "webhook-id: {}\nwebhook-timestamp: {}\nwebhook-signature: {}",
                signed.id, signed.timestamp, signed.signature
            );
        }
        Command::Endpoint { stack, url, secret_arn, endpoint } => {
            let config = aws_config(endpoint.as_deref()).await;
            let (url, arn) = match (stack, url, secret_arn) {
                (Some(stack), _, _) => {
                    let cfn = aws_sdk_cloudformation::Client::new(&config);
                    let outputs = gemini_webhooks::stack::StackOutputs::load(&cfn, &stack).await?;
                    (outputs.get("WebhookUrl")?.to_owned(), outputs.get("EndpointSecretArn")?.to_owned())
                }
                (None, Some(url), Some(arn)) => (url, arn),
                _ => return Err("give --stack NAME, or --url URL and --secret-arn ARN".into()),
            };
            let secrets = aws_sdk_secretsmanager::Client::new(&config);
            let urls = gemini_webhooks::endpoint::endpoint_urls(&secrets, &url, &arn).await?;
            println!("static  (register with Gemini):         {}", urls.static_url);
            println!("dynamic (webhook_config.uris, secret):  {}", urls.dynamic_url);
        }
        Command::Send { url, event_type, signer, id, repeat, tamper, age, url_token } => {
            let url = match url_token {
                Some(token) => {
                    let token = shared::signature::UrlToken::parse(&token)
                        .map_err(|e| format!("--url-token (or WEBHOOK_URL_TOKEN): {e}"))?;
                    gemini_webhooks::endpoint::urls(&url, &token).dynamic_url
                }
                None => url,
            };
            let id = id.unwrap_or_else(fresh_id);
            let data = match EventKind::of(&event_type) {
                EventKind::BatchSucceeded | EventKind::VideoGenerated => {
                    json!({"id": "jobs/cli", "output_file_uri": "gs://bucket/output"})
                }
                kind if kind.is_failure() => {
                    json!({"id": "jobs/cli", "error_code": 13, "error_message": "internal"})
                }
                _ => json!({"id": "jobs/cli"}),
            };
            let body = json!({"type": event_type, "version": "v1", "data": data}).to_string();
            let signed = signer.sign(&id, SystemClock.unix_now() - age, body.as_bytes())?;
            let sent = if tamper { body.replace("jobs/cli", "jobs/evil") } else { body };
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
            for _ in 0..repeat.max(1) {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &signed.id)
                    .header("webhook-timestamp", &signed.timestamp)
                    .header("webhook-signature", &signed.signature)
                    .body(sent.clone())
                    .send()
                    .await?;
                println!("{} {}", response.status().as_u16(), response.text().await?);
            }
        }
        Command::Events { dir, secret } => {
            use gemini_webhooks::sample_events::{DEMO_SECRET, LocalStack, sample_events};
            let demo = secret.as_deref().is_none_or(|s| s == DEMO_SECRET);
            let committed = std::path::Path::new("events");
            let dir = match dir {
                // A real secret never lands in the committed fixtures.
                Some(dir) if !demo && dir.components().eq(committed.components()) => committed.join("local"),
                Some(dir) => dir,
                None if demo => committed.to_owned(),
                None => committed.join("local"),
            };
            std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let now = SystemClock.unix_now();
            let mut events = sample_events(secret.as_deref().unwrap_or(DEMO_SECRET), now)?;
            events.push(("env", LocalStack::default_local().env_vars()));
            for (name, event) in events {
                let path = dir.join(format!("{name}.json"));
                std::fs::write(&path, serde_json::to_string_pretty(&event)? + "\n")
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
            }
            let signer = if demo { "the demo secret" } else { "your secret (WEBHOOK_SECRET or --secret)" };
            println!(
                "wrote {}: the receiver's events signed with {signer} at {now}, valid for 300 s",
                dir.display()
            );
        }
        Command::Quarantine { action } => quarantine(action).await?,
        Command::Tail { queue_url, endpoint, keep, idle } => {
            let sqs = aws_sdk_sqs::Client::new(&aws_config(endpoint.as_deref()).await);
            let mut idle_for = 0;
            while idle_for < idle {
                let page = sqs
                    .receive_message()
                    .queue_url(&queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await?;
                if page.messages().is_empty() {
                    idle_for += 1;
                    continue;
                }
                idle_for = 0;
                for message in page.messages() {
                    match DownstreamMessage::from_sqs_body(message.body().unwrap_or_default()) {
                        Ok(m) => println!(
                            "{}  {:<28} job={} output={} error={}",
                            m.provenance.webhook_id,
                            m.event_type,
                            m.data_id.as_deref().unwrap_or("-"),
                            m.event.output_uri().unwrap_or("-"),
                            m.event.error_code().map_or("-".to_owned(), |c| c.to_string()),
                        ),
                        Err(e) => println!("(not a downstream message: {e})"),
                    }
                    if !keep {
                        sqs.delete_message()
                            .queue_url(&queue_url)
                            .receipt_handle(message.receipt_handle().unwrap_or_default())
                            .send()
                            .await?;
                    }
                }
            }
        }
    }
    Ok(())
}
