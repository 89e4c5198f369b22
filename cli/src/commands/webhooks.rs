//! `webhooks`: the endpoint registered with Gemini, and its signing secret kept in the endpoint's
//! Secrets Manager secret without ever being shown. Each step that changes two places says, when the
//! second fails, exactly how to finish.

use std::fmt;

use anyhow::Context as _;
use serde::Serialize;
use shared::gemini::{
    GeminiClient, NewWebhook, Revocation, SUBSCRIBABLE_EVENTS, SecretInfo, Webhook, WebhookState,
    WebhookUpdate,
};
use shared::signature::SigningSecret;

use super::gemini_client as client;
use crate::args::{GeminiArgs, SecretArgs, WebhooksAction};
use crate::aws::sdk_config;
use crate::endpoint_secret::EndpointSecret;
use crate::output::{Output, bad, good, styled};
use crate::report::usage;
use crate::stack::{StackOutputs, outputs};

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

/// The endpoint's secret, and with `--stack` its outputs (the only AWS these commands need).
async fn endpoint_secret(
    endpoint: Option<&str>,
    args: &SecretArgs,
) -> anyhow::Result<(EndpointSecret, Option<StackOutputs>)> {
    let config = &sdk_config(endpoint).await;
    let stack = match &args.stack.stack {
        Some(name) => Some(StackOutputs::load(&aws_sdk_cloudformation::Client::new(config), name).await?),
        None => None,
    };
    let arn = match (&args.secret_arn, &stack) {
        (Some(arn), _) => arn.clone(),
        (None, Some(outputs)) => outputs.get(outputs::ENDPOINT_SECRET_ARN)?.to_owned(),
        (None, None) => return Err(usage("give --secret-arn ARN (the endpoint's secret), or --stack NAME")),
    };
    Ok((EndpointSecret::new(aws_sdk_secretsmanager::Client::new(config), arn), stack))
}

pub(super) async fn run(
    api: GeminiArgs,
    action: WebhooksAction,
    endpoint: Option<&str>,
    out: Output,
) -> anyhow::Result<()> {
    let gemini = client(&api)?;
    match action {
        WebhooksAction::Create { url, events, name, allow_duplicate, secret } => {
            let (store, stack) = endpoint_secret(endpoint, &secret).await?;
            let url = match (url, &stack) {
                (Some(url), _) => url,
                (None, Some(outputs)) => outputs.get(outputs::WEBHOOK_URL)?.to_owned(),
                (None, None) => return Err(usage("give --url URL (the receiver's), or --stack NAME")),
            };
            let events = if events.is_empty() {
                SUBSCRIBABLE_EVENTS.iter().map(|e| (*e).to_owned()).collect()
            } else {
                events
            };
            // Read first: a secret that cannot be read or written is found before anything is created.
            let stored = store.read().await?;
            if !allow_duplicate
                && let Some(existing) = gemini.all_webhooks().await?.into_iter().find(|w| w.uri == url)
            {
                anyhow::bail!(
                    "webhook {} already delivers to {url}: a second one would deliver every event twice \
                     (--allow-duplicate registers it anyway; `webhooks rotate {}` makes a new secret)",
                    existing.id,
                    existing.id
                );
            }
            let created =
                gemini.create_webhook(&NewWebhook { uri: url, subscribed_events: events, name }).await?;
            let secret = created
                .new_signing_secret
                .clone()
                .context("Gemini's answer to create held no new_signing_secret")?;
            let written = store.add(&stored, &secret).await.with_context(|| {
                format!(
                    "webhook {id} was created, but its signing secret could not be stored (it is not shown, \
                     and Gemini shows it only once): once {arn} can be written, run `gemini-webhooks webhooks \
                     rotate {id} --immediately --secret-arn {arn}` to make and store a new one, or \
                     `gemini-webhooks webhooks delete {id}`",
                    id = created.id,
                    arn = store.arn()
                )
            })?;
            out.print(&Shown::from(&created));
            out.print(&stored_now(&store, &created.id, &written, &[]));
        }
        WebhooksAction::List => {
            for webhook in gemini.all_webhooks().await? {
                out.print(&Shown::from(&webhook));
            }
        }
        WebhooksAction::Get { id } => out.print(&Shown::from(&gemini.get_webhook(&id).await?)),
        WebhooksAction::Ping { id } => {
            gemini.ping_webhook(&id).await?;
            out.note(format!("Gemini is sending {id} a test delivery"));
        }
        WebhooksAction::Enable { id } => set_state(&gemini, &id, WebhookState::Enabled, out).await?,
        WebhooksAction::Disable { id } => set_state(&gemini, &id, WebhookState::Disabled, out).await?,
        WebhooksAction::Delete { id } => {
            gemini.delete_webhook(&id).await?;
            out.note(format!("deleted {id}; its secret stays in the endpoint's secret until you remove it"));
        }
        WebhooksAction::Rotate { id, immediately, secret } => {
            let (store, _) = endpoint_secret(endpoint, &secret).await?;
            let stored = store.read().await?;
            let revocation = if immediately {
                Revocation::RevokePreviousSecretsImmediately
            } else {
                Revocation::RevokePreviousSecretsAfterH24
            };
            let new = gemini.rotate_signing_secret(&id, revocation).await?;
            let (kept, removed): (Vec<SigningSecret>, Vec<SigningSecret>) = if immediately {
                (Vec::new(), stored.secrets.signing.clone())
            } else {
                (stored.secrets.signing.clone(), Vec::new())
            };
            let signing: Vec<SigningSecret> =
                std::iter::once(new.clone()).chain(kept.iter().cloned()).collect();
            store.write(&stored, &signing).await.with_context(|| {
                let consequence = if immediately {
                    "deliveries are refused (401) until it is"
                } else {
                    "deliveries still verify with the previous secret for 24 hours"
                };
                format!(
                    "Gemini now signs {id} with a new secret that could not be stored in {arn} ({consequence}): \
                     once it can be written, run `gemini-webhooks webhooks rotate {id} --secret-arn {arn}` again",
                    arn = store.arn()
                )
            })?;
            out.print(&stored_now(&store, &id, &signing, &removed));
        }
        WebhooksAction::Prune { id, secret } => {
            let (store, _) = endpoint_secret(endpoint, &secret).await?;
            let webhook = gemini.get_webhook(&id).await?;
            let stored = store.read().await?;
            let now = jiff::Timestamp::now();
            let live: Vec<&SecretInfo> = webhook
                .signing_secrets
                .iter()
                .filter(|s| {
                    s.expire_time
                        .as_deref()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_none_or(|t| t > now)
                })
                .collect();
            let (kept, removed): (Vec<SigningSecret>, Vec<SigningSecret>) =
                stored.secrets.signing.iter().cloned().partition(|s| live.iter().any(|l| l.describes(s)));
            if kept.is_empty() {
                anyhow::bail!(
                    "none of the {} secret(s) in {} is one Gemini signs {id} with now: nothing pruned (is it the \
                     right webhook and secret?)",
                    stored.secrets.signing.len(),
                    store.arn()
                );
            }
            if !removed.is_empty() {
                store.write(&stored, &kept).await?;
            }
            out.print(&stored_now(&store, &id, &kept, &removed));
        }
    }
    Ok(())
}

async fn set_state(gemini: &GeminiClient, id: &str, state: WebhookState, out: Output) -> anyhow::Result<()> {
    let update = WebhookUpdate { state: Some(state), ..WebhookUpdate::default() };
    out.print(&Shown::from(&gemini.update_webhook(id, &update).await?));
    Ok(())
}

/// What the endpoint's secret holds for `id` now: `stored`, and what was `removed`, truncated.
fn stored_now(
    store: &EndpointSecret,
    id: &str,
    stored: &[SigningSecret],
    removed: &[SigningSecret],
) -> Stored {
    Stored {
        webhook_id: id.to_owned(),
        secret_arn: store.arn().to_owned(),
        stored: stored.iter().map(SecretInfo::truncated).collect(),
        removed: removed.iter().map(SecretInfo::truncated).collect(),
    }
}
