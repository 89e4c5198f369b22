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
    /// Generate a `whsec_` signing secret and an Ed25519 key pair with its JWKS.
    Keygen,
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
    },
    /// Write Lambda event fixtures for every function, the receiver's signed now.
    Events {
        /// Output directory.
        #[arg(default_value = "events")]
        dir: PathBuf,
        /// The secret to sign with (default: the demo secret).
        #[arg(long, env = "WEBHOOK_SECRET")]
        secret: Option<String>,
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
            println!("WEBHOOK_ED25519_SEED={}", STANDARD.encode(key.expose_seed()));
            println!("JWKS_JSON='{}'", jwks_document([key.public_jwk(Some("local-1"))]));
        }
        Command::Sign { body, signer, id, timestamp } => {
            let body = if body.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
                bytes
            } else {
                std::fs::read(&body)?
            };
            let id = id.unwrap_or_else(fresh_id);
            let signed = signer.sign(&id, timestamp.unwrap_or_else(|| SystemClock.unix_now()), &body)?;
            println!(
                "webhook-id: {}\nwebhook-timestamp: {}\nwebhook-signature: {}",
                signed.id, signed.timestamp, signed.signature
            );
        }
        Command::Send { url, event_type, signer, id, repeat, tamper, age } => {
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
            let secret = secret.unwrap_or_else(|| e2e::sample_events::DEMO_SECRET.to_owned());
            std::fs::create_dir_all(&dir)?;
            let now = SystemClock.unix_now();
            for (name, event) in e2e::sample_events::sample_events(&secret, now)? {
                std::fs::write(
                    dir.join(format!("{name}.json")),
                    serde_json::to_string_pretty(&event)? + "\n",
                )?;
            }
            println!("wrote {} (receiver events signed at {now}, valid for 300 s)", dir.display());
        }
        Command::Tail { queue_url, endpoint, keep, idle } => {
            // A local endpoint is the emulator: its fixed region and dummy credentials.
            let config = match endpoint {
                Some(endpoint) => testkit::sdk_config_for(&endpoint, testkit::harness_timeouts()).await,
                None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
            };
            let sqs = aws_sdk_sqs::Client::new(&config);
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
                            m.webhook_id,
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
