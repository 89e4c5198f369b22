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
use shared::signature::{EndpointSecrets, SigningSecret};

use super::gemini_client as client;
use crate::args::{GeminiArgs, SecretArgs, WebhooksAction};
use crate::aws::sdk_config;
use crate::endpoint_secret::{EndpointSecret, SecretStoreError};
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
        WebhooksAction::Create { url, events, name, allow_duplicate, settle, secret } => {
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
            store.read().await?;
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
            let id = created.id.clone();
            let secret = created
                .new_signing_secret
                .clone()
                .context("Gemini's answer to create held no new_signing_secret")?;
            // Off until every running receiver can verify it, so its first delivery does.
            let disabled = WebhookUpdate { state: Some(WebhookState::Disabled), ..WebhookUpdate::default() };
            gemini.update_webhook(&id, &disabled).await.with_context(|| {
                format!("webhook {id} was created, but could not be disabled while its secret is stored")
            })?;
            let ((), written) = store.update(|secrets| {
            secrets.add(secret.clone(), &id);
            Ok(())
        }).await.with_context(
                || {
                    format!(
                        "webhook {id} was created, but its signing secret could not be stored (it is not \
                         shown, and Gemini shows it only once): once {arn} can be written, run `gemini-webhooks \
                         webhooks rotate {id} --immediately --secret-arn {arn}` to make and store a new one and \
                         then `gemini-webhooks webhooks enable {id}`, or `gemini-webhooks webhooks delete {id}`",
                        arn = store.arn()
                    )
                },
            )?;
            settle_for(settle, &id, out).await;
            let enabled = WebhookUpdate { state: Some(WebhookState::Enabled), ..WebhookUpdate::default() };
            let live = gemini.update_webhook(&id, &enabled).await.with_context(|| {
                format!("webhook {id}'s secret is stored, but it could not be enabled: run `gemini-webhooks webhooks enable {id}`")
            })?;
            out.print(&Shown::from(&live));
            out.print(&stored_now(&store, &id, &written, &[]));
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
            out.note(format!(
                "deleted {id}; its secrets stay in the endpoint's secret until `webhooks prune --force` removes them"
            ));
        }
        WebhooksAction::Rotate { id, immediately, settle, secret } => {
            let (store, _) = endpoint_secret(endpoint, &secret).await?;
            store.read().await?;
            let revocation = if immediately {
                Revocation::RevokePreviousSecretsImmediately
            } else {
                Revocation::RevokePreviousSecretsAfterH24
            };
            let new = gemini.rotate_signing_secret(&id, revocation).await?;
            let (removed, written) = store
                .update(|secrets| Ok(rotated(secrets, &id, new.clone(), immediately)))
                .await
                .with_context(|| {
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
            if immediately {
                settle_for(settle, &id, out).await;
            }
            out.print(&stored_now(&store, &id, &written, &removed));
        }
        WebhooksAction::Prune { id, force, secret } => {
            let (store, _) = endpoint_secret(endpoint, &secret).await?;
            let webhooks = gemini.all_webhooks().await?;
            let webhook = match webhooks.iter().find(|w| w.id == id) {
                Some(webhook) => webhook.clone(),
                None => gemini.get_webhook(&id).await?,
            };
            let now = jiff::Timestamp::now();
            let (pruned, written) = store
                .update(|secrets| {
                    pruned(secrets, &webhook, &webhooks, now, force).map_err(SecretStoreError::Refused)
                })
                .await?;
            if pruned.orphans > 0 {
                out.warn(format!(
                    "kept {} secret(s) no webhook owns and none of the visible webhooks signs with \
                     (stored by hand, or for a webhook deleted since): `webhooks prune {id} --force` removes them",
                    pruned.orphans
                ));
            }
            out.print(&stored_now(&store, &id, &written, &pruned.removed));
        }
    }
    Ok(())
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

/// The endpoint's secrets after `id` rotated to `new`: `new` added for `id`, and with `immediately` the
/// secrets recorded as `id`'s removed (never another webhook's, nor one whose owner is unknown).
/// Returns what was removed.
fn rotated(
    secrets: &mut EndpointSecrets,
    id: &str,
    new: SigningSecret,
    immediately: bool,
) -> Vec<SigningSecret> {
    let removed: Vec<SigningSecret> = if immediately {
        secrets.signing.iter().filter(|s| secrets.owner(s) == Some(id) && **s != new).cloned().collect()
    } else {
        Vec::new()
    };
    for secret in &removed {
        secrets.remove(secret);
    }
    secrets.add(new, id);
    removed
}

/// What `prune` did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Pruned {
    /// The secrets removed.
    removed: Vec<SigningSecret>,
    /// Secrets no webhook owns and none signs with, kept (without `--force`).
    orphans: usize,
}

/// The endpoint's secrets pruned for `webhook`: its own secrets Gemini no longer signs with are
/// removed; another webhook's are kept; one whose owner is unknown is kept, and recorded as its owner's,
/// when a visible webhook signs with it, and otherwise removed only with `force`. Refuses to leave no
/// secret, or to prune when none of the stored secrets is one `webhook` signs with (the wrong webhook or
/// secret, most likely).
fn pruned(
    secrets: &mut EndpointSecrets,
    webhook: &Webhook,
    visible: &[Webhook],
    now: jiff::Timestamp,
    force: bool,
) -> Result<Pruned, String> {
    let live = |w: &Webhook| -> Vec<SecretInfo> {
        w.signing_secrets
            .iter()
            .filter(|s| {
                s.expire_time
                    .as_deref()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .is_none_or(|t| t > now)
            })
            .cloned()
            .collect()
    };
    let signs_with = |w: &Webhook, secret: &SigningSecret| live(w).iter().any(|info| info.describes(secret));
    let id = webhook.id.as_str();
    if !secrets.signing.iter().any(|s| signs_with(webhook, s)) {
        return Err(format!(
            "none of the {} secret(s) stored is one Gemini signs {id} with now: nothing pruned (is it the right \
             webhook and secret?)",
            secrets.signing.len()
        ));
    }
    let mut outcome = Pruned::default();
    for secret in secrets.signing.clone() {
        match secrets.owner(&secret).map(str::to_owned) {
            Some(owner) if owner == id => {
                if !signs_with(webhook, &secret) {
                    outcome.removed.push(secret);
                }
            }
            Some(_) => {}
            None => match visible.iter().chain([webhook]).find(|w| signs_with(w, &secret)) {
                Some(owner) => secrets.add(secret, &owner.id),
                None if force => outcome.removed.push(secret),
                None => outcome.orphans += 1,
            },
        }
    }
    for secret in &outcome.removed {
        secrets.remove(secret);
    }
    if secrets.signing.is_empty() {
        return Err("that would leave the endpoint's secret with no signing secret: nothing pruned".into());
    }
    Ok(outcome)
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
