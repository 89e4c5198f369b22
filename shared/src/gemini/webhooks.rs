//! The WebhookService (`/v1beta/webhooks`): register an endpoint, list, read, change, delete, ping, and
//! rotate its signing secret. Shapes from Google's API reference and the google-genai SDK's generated
//! models (snake_case both ways, lower-case enum values).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::{ApiError, GeminiClient};
use crate::signature::SigningSecret;

/// The events `subscribed_events` takes (the reference's enum: `batch.cancelled` and
/// `interaction.cancelled` are delivered but cannot be subscribed to).
pub const SUBSCRIBABLE_EVENTS: [&str; 7] = [
    "batch.succeeded",
    "batch.expired",
    "batch.failed",
    "interaction.requires_action",
    "interaction.completed",
    "interaction.failed",
    "video.generated",
];

/// A webhook's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Deliveries are sent.
    Enabled,
    /// Disabled by its owner.
    Disabled,
    /// Disabled by Gemini after deliveries kept failing.
    DisabledDueToFailedDeliveries,
    /// A state this client does not know yet.
    #[serde(untagged)]
    Other(String),
}

impl fmt::Display for WebhookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::DisabledDueToFailedDeliveries => "disabled_due_to_failed_deliveries",
            Self::Other(other) => other,
        })
    }
}

/// What Gemini shows of one signing secret: its last characters, and when it stops being used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// `whsec_...` and its last four characters.
    pub truncated_secret: String,
    /// When Gemini stops signing with it (RFC 3339); absent while it has no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
}

impl SecretInfo {
    /// `whsec_...` and the last four characters of `secret`: all Gemini ever shows of one.
    pub fn truncated(secret: &SigningSecret) -> String {
        let whole = secret.expose_whsec();
        format!("whsec_...{}", &whole[whole.len().saturating_sub(4)..])
    }

    /// Whether `secret` is the one this describes: same last four characters.
    pub fn describes(&self, secret: &SigningSecret) -> bool {
        let whole = secret.expose_whsec();
        let shown = self.truncated_secret.rsplit("...").next().unwrap_or_default();
        !shown.is_empty() && whole.ends_with(shown)
    }
}

/// A registered webhook.
#[derive(Clone, Deserialize)]
pub struct Webhook {
    /// Its id, used in paths.
    pub id: String,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Where deliveries go.
    #[serde(default)]
    pub uri: String,
    /// The event types delivered.
    #[serde(default)]
    pub subscribed_events: Vec<String>,
    /// Whether deliveries are sent.
    #[serde(default)]
    pub state: Option<WebhookState>,
    /// When it was created (RFC 3339; often absent).
    #[serde(default)]
    pub create_time: Option<String>,
    /// When it last changed (often absent).
    #[serde(default)]
    pub update_time: Option<String>,
    /// The signing secret, in the answer to `create` only: store it, never show it.
    #[serde(default, deserialize_with = "secret")]
    pub new_signing_secret: Option<SigningSecret>,
    /// The secrets Gemini signs with, truncated.
    #[serde(default)]
    pub signing_secrets: Vec<SecretInfo>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("uri", &self.uri)
            .field("subscribed_events", &self.subscribed_events)
            .field("state", &self.state)
            .field("signing_secrets", &self.signing_secrets)
            .finish_non_exhaustive()
    }
}

fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SigningSecret>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    text.filter(|t| !t.is_empty())
        .map(|t| SigningSecret::parse(&t).map_err(serde::de::Error::custom))
        .transpose()
}

/// A webhook to create.
#[derive(Debug, Clone, Serialize)]
pub struct NewWebhook {
    /// Where deliveries go.
    pub uri: String,
    /// The event types to deliver.
    pub subscribed_events: Vec<String>,
    /// A display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Fields to change; those left `None` are not sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebhookUpdate {
    /// A display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where deliveries go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The event types to deliver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribed_events: Option<Vec<String>>,
    /// Enabled or disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<WebhookState>,
}

impl WebhookUpdate {
    /// The `update_mask`: the fields set, comma-separated.
    fn mask(&self) -> String {
        [
            ("name", self.name.is_some()),
            ("uri", self.uri.is_some()),
            ("subscribed_events", self.subscribed_events.is_some()),
            ("state", self.state.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(field, _)| *field)
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// One page of webhooks.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookPage {
    /// The webhooks.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// The next page's token; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// What happens to the previous secrets when a new one is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// They are still used for 24 hours (the default): no delivery fails while the new one is rolled out.
    RevokePreviousSecretsAfterH24,
    /// They stop at once.
    RevokePreviousSecretsImmediately,
}

#[derive(Serialize)]
struct RotateRequest {
    revocation_behavior: Revocation,
}

#[derive(Deserialize)]
struct RotateResponse {
    #[serde(deserialize_with = "secret")]
    secret: Option<SigningSecret>,
}

#[derive(Deserialize)]
struct Empty {}

fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

impl GeminiClient {
    /// `POST /webhooks`: the answer holds `new_signing_secret`, shown this once.
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<Webhook, ApiError> {
        self.call("webhooks.create", self.http.post(self.url("webhooks")).json(webhook)).await
    }

    /// `GET /webhooks`, one page.
    pub async fn list_webhooks(
        &self,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<WebhookPage, ApiError> {
        let mut query = vec![("page_size", page_size.to_string())];
        if let Some(token) = page_token {
            query.push(("page_token", token.to_owned()));
        }
        self.call("webhooks.list", self.http.get(self.url("webhooks")).query(&query)).await
    }

    /// Every webhook, page after page.
    pub async fn all_webhooks(&self) -> Result<Vec<Webhook>, ApiError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_webhooks(100, token.as_deref()).await?;
            all.extend(page.webhooks);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// `GET /webhooks/{id}`.
    pub async fn get_webhook(&self, id: &str) -> Result<Webhook, ApiError> {
        let url = self.url(&format!("webhooks/{}", path_segment(id)));
        self.call("webhooks.get", self.http.get(url)).await
    }

    /// `PATCH /webhooks/{id}` with the fields `update` sets, named in `update_mask`.
    pub async fn update_webhook(&self, id: &str, update: &WebhookUpdate) -> Result<Webhook, ApiError> {
        let url = self.url(&format!("webhooks/{}", path_segment(id)));
        let request = self.http.patch(url).query(&[("update_mask", update.mask())]).json(update);
        self.call("webhooks.update", request).await
    }

    /// `DELETE /webhooks/{id}`.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), ApiError> {
        let url = self.url(&format!("webhooks/{}", path_segment(id)));
        self.call::<Empty>("webhooks.delete", self.http.delete(url)).await.map(|_| ())
    }

    /// `POST /webhooks/{id}:ping`: Gemini sends the webhook a test delivery.
    pub async fn ping_webhook(&self, id: &str) -> Result<(), ApiError> {
        let url = self.url(&format!("webhooks/{}:ping", path_segment(id)));
        self.call::<Empty>("webhooks.ping", self.http.post(url).json(&serde_json::json!({})))
            .await
            .map(|_| ())
    }

    /// `POST /webhooks/{id}:rotateSigningSecret`: the new secret (store it, never show it).
    pub async fn rotate_signing_secret(
        &self,
        id: &str,
        revocation: Revocation,
    ) -> Result<SigningSecret, ApiError> {
        let url = self.url(&format!("webhooks/{}:rotateSigningSecret", path_segment(id)));
        let request = self.http.post(url).json(&RotateRequest { revocation_behavior: revocation });
        let rotated: RotateResponse = self.call("webhooks.rotateSigningSecret", request).await?;
        rotated
            .secret
            .ok_or(ApiError::Unexpected { call: "webhooks.rotateSigningSecret", detail: "no secret".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example_parses_and_its_secret_is_never_shown() {
        let created: Webhook = serde_json::from_str(
            r#"{"id":"wh123bare0pq","name":"my-hook","uri":"https://example.com/hook",
            "subscribed_events":["batch.succeeded","interaction.completed","video.generated"],"state":"enabled",
            "signing_secrets":[{"truncated_secret":"whsec_...bcd=","expire_time":"2026-08-01T00:00:00Z"}],
            "new_signing_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","create_time":"2026-07-01T12:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(created.state, Some(WebhookState::Enabled));
        assert!(!format!("{created:?}").contains("MfKQ9r8G"), "never in Debug");
        let secret = created.new_signing_secret.unwrap();
        assert!(!created.signing_secrets[0].describes(&secret));

        let live: Webhook = serde_json::from_str(
            r#"{"subscribed_events":["video.generated"],"uri":"https://x.example/","id":"k0h9",
            "signing_secrets":[{"truncated_secret":"whsec_...3frh"}],"state":"disabled_due_to_failed_deliveries","extra":1}"#,
        )
        .unwrap();
        assert_eq!(live.state, Some(WebhookState::DisabledDueToFailedDeliveries));
        assert!(live.new_signing_secret.is_none() && live.create_time.is_none());
        let unknown: WebhookState = serde_json::from_str(r#""paused""#).unwrap();
        assert_eq!(unknown, WebhookState::Other("paused".into()));
    }

    #[test]
    fn a_truncated_secret_describes_the_secret_it_ends() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let shown = SecretInfo { truncated_secret: "whsec_...LaSw".into(), expire_time: None };
        assert!(shown.describes(&secret));
    }

    #[test]
    fn an_update_names_the_fields_it_sets() {
        let update = WebhookUpdate { state: Some(WebhookState::Disabled), ..WebhookUpdate::default() };
        assert_eq!(update.mask(), "state");
        assert_eq!(serde_json::to_string(&update).unwrap(), r#"{"state":"disabled"}"#);
        let rotate = RotateRequest { revocation_behavior: Revocation::RevokePreviousSecretsImmediately };
        assert_eq!(
            serde_json::to_string(&rotate).unwrap(),
            r#"{"revocation_behavior":"revoke_previous_secrets_immediately"}"#
        );
    }
}
