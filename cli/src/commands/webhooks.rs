//! `webhooks`: the endpoint registered with Gemini, and its signing secret kept in the endpoint's
//! Secrets Manager secret without ever being shown. Each step that changes two places says, when the
//! second fails, exactly how to finish.

use std::fmt;

use serde::Serialize;
use shared::gemini::{GeminiClient, NewWebhook, SecretInfo, Webhook, WebhookState, WebhookUpdate};
use shared::signature::{EndpointSecrets, SigningSecret};

use super::flags::{GeminiArgs, SecretArgs};
use crate::ops::endpoint_secret::EndpointSecret;
use crate::ops::stack::{StackOutputs, outputs};
use crate::ops::webhooks;
use crate::ui::output::{Output, bad, good, styled};
use crate::ui::report::usage;
use clap::Subcommand;

/// How long a registration waits for every running receiver to read its new secret: the receiver's
/// least time between two reads of it.
pub const SETTLE_SECS: u64 = shared::refresh::RefreshPolicy::SECRETS.miss_refetch_interval_secs;

#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// Register the receiver with Gemini; its new signing secret goes into the endpoint's secret.
    Create {
        /// The receiver's URL (default with --stack: its `WebhookUrl` output).
        #[arg(long)]
        url: Option<String>,
        /// The events to deliver, comma-separated (default: all seven).
        #[arg(long, value_delimiter = ',', value_name = "EVENTS")]
        events: Vec<String>,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// Register even if a webhook for this URL exists (every event would then be delivered twice).
        #[arg(long)]
        allow_duplicate: bool,
        /// Seconds the new webhook stays disabled once its secret is stored, so that every running
        /// receiver reads the secret before the first delivery (default: the receiver's least time
        /// between two reads, 60).
        #[arg(long, value_name = "SECS", default_value_t = SETTLE_SECS)]
        settle: u64,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Every webhook.
    List,
    /// One webhook.
    Get {
        /// Its id.
        id: String,
    },
    /// Have Gemini send the webhook a test delivery.
    Ping {
        /// Its id.
        id: String,
    },
    /// Turn deliveries on (also after Gemini disabled it for failed deliveries).
    Enable {
        /// Its id.
        id: String,
    },
    /// Turn deliveries off.
    Disable {
        /// Its id.
        id: String,
    },
    /// Delete the webhook (its secret stays in the endpoint's secret; `prune` after another `create`).
    Delete {
        /// Its id.
        id: String,
    },
    /// Make a new signing secret and store it beside the old one: Gemini signs with both for 24 hours.
    Rotate {
        /// Its id.
        id: String,
        /// Revoke this webhook's previous secrets at once (deliveries signed with them fail from now on;
        /// other webhooks' secrets stay).
        #[arg(long)]
        immediately: bool,
        /// With --immediately: seconds to wait once the new secret is stored, for every running receiver
        /// to read it (deliveries meanwhile get 401, and Gemini retries them).
        #[arg(long, value_name = "SECS", default_value_t = SETTLE_SECS)]
        settle: u64,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Remove from the endpoint's secret this webhook's signing secrets Gemini no longer signs with
    /// (other webhooks' secrets stay).
    Prune {
        /// Its id.
        id: String,
        /// Also remove secrets no webhook owns and none of the visible webhooks lists (stored by hand,
        /// or for a webhook deleted since).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        secret: SecretArgs,
    },
}

/// A webhook as the CLI prints it: never a secret, only the truncated forms.
#[derive(Serialize)]
struct Shown {
    id: String,
    name: Option<String>,
    uri: String,
    state: Option<String>,
    subscribed_events: Vec<String>,
    signing_secrets: Vec<SecretInfo>,
    create_time: Option<String>,
}

impl From<&Webhook> for Shown {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id.clone(),
            name: w.name.clone(),
            uri: w.uri.clone(),
            state: w.state.as_ref().map(ToString::to_string),
            subscribed_events: w.subscribed_events.clone(),
            signing_secrets: w.signing_secrets.clone(),
            create_time: w.create_time.clone(),
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.as_deref().unwrap_or("-");
        let style = if state == "enabled" { good() } else { bad() };
        write!(f, "{}  {}  {}", self.id, styled(style, state), self.uri)?;
        write!(f, "\n  events:  {}", self.subscribed_events.join(", "))?;
        for secret in &self.signing_secrets {
            let until = secret.expire_time.as_deref().map(|t| format!(" (until {t})")).unwrap_or_default();
            write!(f, "\n  secret:  {}{until}", secret.truncated_secret)?;
        }
        Ok(())
    }
}

/// What happened to the endpoint's secret.
#[derive(Serialize)]
struct Stored {
    webhook_id: String,
    secret_arn: String,
    /// The secrets now stored, truncated.
    stored: Vec<String>,
    /// The secrets removed, truncated.
    removed: Vec<String>,
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the endpoint's secret {} holds {}",
            self.webhook_id,
            self.secret_arn,
            self.stored.join(", ")
        )?;
        if !self.removed.is_empty() {
            write!(f, " (removed {})", self.removed.join(", "))?;
        }
        Ok(())
    }
}

pub(crate) async fn run(
    api: GeminiArgs,
    action: WebhooksAction,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let gemini = api.client()?;
    match action {
        WebhooksAction::Create { url, events, name, allow_duplicate, settle, secret } => {
            let (store, stack) = located(endpoint, &secret).await?;
            let url = match (url, &stack) {
                (Some(url), _) => url,
                (None, Some(outputs)) => outputs.get(outputs::WEBHOOK_URL)?.to_owned(),
                (None, None) => return Err(usage("give --url URL (the receiver's), or --stack NAME")),
            };
            let new = NewWebhook { uri: url, subscribed_events: events, name };
            let registered = webhooks::register(&gemini, &store, new, allow_duplicate, async |id| {
                settle_for(settle, id, out).await
            })
            .await?;
            out.print(&Shown::from(&registered.webhook));
            out.print(&stored_now(&store, &registered.webhook.id, &registered.stored, &[]));
        }
        WebhooksAction::List => {
            for webhook in gemini.all_webhooks().await? {
                out.print(&Shown::from(&webhook));
            }
        }
        WebhooksAction::Get { id } => out.print(&Shown::from(&gemini.get_webhook(&id).await?)),
        WebhooksAction::Ping { id } => {
            gemini.ping_webhook(&id).await?;
            out.note(format!(
                "Gemini is sending {id} a test delivery: the receiver answers it 200 and counts it in its \
                 `Pings` metric and a log line (outcome \"ping\"); it reaches no queue"
            ));
        }
        WebhooksAction::Enable { id } => set_state(&gemini, &id, WebhookState::Enabled, out).await?,
        WebhooksAction::Disable { id } => set_state(&gemini, &id, WebhookState::Disabled, out).await?,
        WebhooksAction::Delete { id } => {
            gemini.delete_webhook(&id).await?;
            out.note(format!(
                "deleted {id}; its secrets stay in the endpoint's secret until `webhooks prune --force` removes them"
            ));
        }
        WebhooksAction::Rotate { id, immediately, settle, secret } => {
            let (store, _) = located(endpoint, &secret).await?;
            let rotation = webhooks::rotate(&gemini, &store, &id, immediately, async |id| {
                settle_for(settle, id, out).await
            })
            .await?;
            out.print(&stored_now(&store, &id, &rotation.stored, &rotation.removed));
        }
        WebhooksAction::Prune { id, force, secret } => {
            let (store, _) = located(endpoint, &secret).await?;
            let (pruned, stored) = webhooks::prune(&gemini, &store, &id, force).await?;
            if pruned.orphans > 0 {
                out.warn(format!(
                    "kept {} secret(s) no webhook owns and none of the visible webhooks signs with \
                     (stored by hand, or for a webhook deleted since): `webhooks prune {id} --force` removes them",
                    pruned.orphans
                ));
            }
            out.print(&stored_now(&store, &id, &stored, &pruned.removed));
        }
    }
    Ok(())
}

/// The endpoint's secret the flags name, and with `--stack` its outputs (the only AWS these commands
/// need).
async fn located(
    endpoint: Option<&str>,
    args: &SecretArgs,
) -> anyhow::Result<(EndpointSecret, Option<StackOutputs>)> {
    args.locate(endpoint)
        .await?
        .ok_or_else(|| usage("give --secret-arn ARN (the endpoint's secret), or --stack NAME"))
}

/// Waits `secs` for every running receiver to read the endpoint's secret again (it reads it at once
/// after a miss, at most once per that interval), saying so.
async fn settle_for(secs: u64, id: &str, out: Output) {
    if secs == 0 {
        return;
    }
    out.note(format!(
        "{id}: waiting {secs} s so that every running receiver reads the new secret before Gemini delivers \
         with it (--settle 0 skips this)"
    ));
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
}

async fn set_state(gemini: &GeminiClient, id: &str, state: WebhookState, out: Output) -> anyhow::Result<()> {
    let update = WebhookUpdate { state: Some(state), ..WebhookUpdate::default() };
    out.print(&Shown::from(&gemini.update_webhook(id, &update).await?));
    Ok(())
}

/// What the endpoint's secret holds now (`stored`, each with its webhook when known), and what was
/// `removed`, truncated.
fn stored_now(
    store: &EndpointSecret,
    id: &str,
    stored: &EndpointSecrets,
    removed: &[SigningSecret],
) -> Stored {
    let shown = |secret: &SigningSecret| match stored.owner(secret) {
        Some(owner) => format!("{} ({owner})", SecretInfo::truncated(secret)),
        None => SecretInfo::truncated(secret),
    };
    Stored {
        webhook_id: id.to_owned(),
        secret_arn: store.arn().to_owned(),
        stored: stored.signing.iter().map(shown).collect(),
        removed: removed.iter().map(SecretInfo::truncated).collect(),
    }
}
