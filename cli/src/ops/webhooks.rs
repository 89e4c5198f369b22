//! The webhook operations that change two places, Gemini and the endpoint's secret, in the order that
//! loses no delivery, each failure of the second step saying exactly how to finish: registering
//! ([`register`]), rotating ([`rotate`]) and pruning ([`prune`]) the signing secrets.

use anyhow::Context as _;
use shared::gemini::{
    GeminiClient, NewWebhook, Revocation, SUBSCRIBABLE_EVENTS, SecretInfo, Webhook, WebhookState,
    WebhookUpdate,
};
use shared::signature::{EndpointSecrets, SigningSecret};

use crate::ops::endpoint_secret::{EndpointSecret, SecretStoreError};

/// A webhook registered, and what the endpoint's secret holds since.
#[derive(Debug)]
pub struct Registration {
    /// The webhook, enabled.
    pub webhook: Webhook,
    /// The endpoint's secrets, the new one among them.
    pub stored: EndpointSecrets,
}

/// Registers `new` (every subscribable event when it names none) and stores its signing secret in
/// `store`: created, disabled until `settle` has let every running receiver read the secret, then
/// enabled, so its first delivery verifies. Refuses a second webhook for the same URL unless
/// `allow_duplicate` (every event would be delivered twice).
pub async fn register(
    gemini: &GeminiClient,
    store: &EndpointSecret,
    mut new: NewWebhook,
    allow_duplicate: bool,
    settle: impl AsyncFnOnce(&str),
) -> anyhow::Result<Registration> {
    if new.subscribed_events.is_empty() {
        new.subscribed_events = SUBSCRIBABLE_EVENTS.iter().map(|e| (*e).to_owned()).collect();
    }
    // Read first: a secret that cannot be read or written is found before anything is created.
    store.read().await?;
    let url = new.uri.clone();
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
    let created = gemini.create_webhook(&new).await?;
    let id = created.id.clone();
    let secret =
        created.new_signing_secret.clone().context("Gemini's answer to create held no new_signing_secret")?;
    // Off until every running receiver can verify it, so its first delivery does.
    set(gemini, &id, WebhookState::Disabled).await.with_context(|| {
        format!("webhook {id} was created, but could not be disabled while its secret is stored")
    })?;
    let ((), stored) = store
        .update(|secrets| {
            secrets.add(secret.clone(), &id);
            Ok(())
        })
        .await
        .with_context(|| {
            format!(
                "webhook {id} was created, but its signing secret could not be stored (it is not shown, and \
                 Gemini shows it only once): once {arn} can be written, run `gemini-webhooks webhooks rotate \
                 {id} --immediately --secret-arn {arn}` to make and store a new one and then `gemini-webhooks \
                 webhooks enable {id}`, or `gemini-webhooks webhooks delete {id}`",
                arn = store.arn()
            )
        })?;
    settle(&id).await;
    let webhook = set(gemini, &id, WebhookState::Enabled).await.with_context(|| {
        format!("webhook {id}'s secret is stored, but it could not be enabled: run `gemini-webhooks webhooks enable {id}`")
    })?;
    Ok(Registration { webhook, stored })
}

async fn set(
    gemini: &GeminiClient,
    id: &str,
    state: WebhookState,
) -> Result<Webhook, shared::gemini::ApiError> {
    gemini.update_webhook(id, &WebhookUpdate { state: Some(state), ..WebhookUpdate::default() }).await
}

/// A rotation, and what the endpoint's secret holds since.
#[derive(Debug)]
pub struct Rotation {
    /// The secrets removed (`immediately`: the webhook's previous ones).
    pub removed: Vec<SigningSecret>,
    /// The endpoint's secrets, the new one among them.
    pub stored: EndpointSecrets,
}

/// Has Gemini make webhook `id` a new signing secret and stores it beside the others; `immediately`
/// revokes the webhook's previous secrets at Gemini and here, then waits for `settle`.
pub async fn rotate(
    gemini: &GeminiClient,
    store: &EndpointSecret,
    id: &str,
    immediately: bool,
    settle: impl AsyncFnOnce(&str),
) -> anyhow::Result<Rotation> {
    store.read().await?;
    let revocation = if immediately {
        Revocation::RevokePreviousSecretsImmediately
    } else {
        Revocation::RevokePreviousSecretsAfterH24
    };
    let new = gemini.rotate_signing_secret(id, revocation).await?;
    let (removed, stored) = store
        .update(|secrets| Ok(rotated(secrets, id, new.clone(), immediately)))
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
        settle(id).await;
    }
    Ok(Rotation { removed, stored })
}

/// Removes from the endpoint's secret webhook `id`'s signing secrets Gemini no longer signs with (see
/// [`pruned`]).
pub async fn prune(
    gemini: &GeminiClient,
    store: &EndpointSecret,
    id: &str,
    force: bool,
) -> anyhow::Result<(Pruned, EndpointSecrets)> {
    let webhooks = gemini.all_webhooks().await?;
    let webhook = match webhooks.iter().find(|w| w.id == id) {
        Some(webhook) => webhook.clone(),
        None => gemini.get_webhook(id).await?,
    };
    let now = jiff::Timestamp::now();
    Ok(store
        .update(|secrets| pruned(secrets, &webhook, &webhooks, now, force).map_err(SecretStoreError::Refused))
        .await?)
}

/// The endpoint's secrets after `id` rotated to `new`: `new` added for `id`, and with `immediately` the
/// secrets recorded as `id`'s removed (never another webhook's, nor one whose owner is unknown).
/// Returns what was removed.
pub fn rotated(
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
pub struct Pruned {
    /// The secrets removed.
    pub removed: Vec<SigningSecret>,
    /// Secrets no webhook owns and none signs with, kept (without `--force`).
    pub orphans: usize,
}

/// The endpoint's secrets pruned for `webhook`: its own secrets Gemini no longer signs with are
/// removed; another webhook's are kept; one whose owner is unknown is kept, and recorded as its owner's,
/// when a visible webhook signs with it, and otherwise removed only with `force`. Refuses to leave no
/// secret, or to prune when none of the stored secrets is one `webhook` signs with (the wrong webhook or
/// secret, most likely).
pub fn pruned(
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
