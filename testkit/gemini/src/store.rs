//! The simulator's webhooks, and the JSON Google's reference gives them: snake_case fields, lower-case
//! states, `new_signing_secret` on create only, `signing_secrets[]` truncated with their `expire_time`.

use serde_json::{Value, json};
use shared::gemini::SecretInfo;
use shared::signature::SigningSecret;

/// The events the WebhookService accepts in `subscribed_events` (the reference's enum).
pub use shared::gemini::SUBSCRIBABLE_EVENTS as SUBSCRIBABLE;

/// How long previous secrets keep being used after a default rotation.
pub const OVERLAP_SECS: i64 = 24 * 3600;

/// One signing secret and when it stops being used.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The secret.
    pub secret: SigningSecret,
    /// Unix seconds; `None` while it has no end.
    pub expires_at: Option<i64>,
}

impl Secret {
    /// Whether Gemini still signs with it at `now`.
    pub fn live_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A webhook's state, as the reference spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Deliveries are sent.
    Enabled,
    /// Disabled by its owner.
    Disabled,
    /// Disabled after deliveries kept failing.
    DisabledDueToFailedDeliveries,
}

impl State {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::DisabledDueToFailedDeliveries => "disabled_due_to_failed_deliveries",
        }
    }

    /// The state a PATCH may set (the failure state is Gemini's to set).
    pub fn settable(value: &str) -> Option<Self> {
        match value {
            "enabled" => Some(Self::Enabled),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// One registered webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: Option<String>,
    /// Where deliveries go.
    pub uri: String,
    /// The events delivered.
    pub subscribed_events: Vec<String>,
    /// Whether deliveries are sent.
    pub state: State,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Newest first.
    pub secrets: Vec<Secret>,
    /// Delivery attempts that failed in a row.
    pub failures_in_a_row: u32,
}

impl Webhook {
    /// The secrets deliveries are signed with at `now`: every one not yet expired.
    pub fn live_secrets(&self, now: i64) -> Vec<SigningSecret> {
        self.secrets.iter().filter(|s| s.live_at(now)).map(|s| s.secret.clone()).collect()
    }

    /// The resource as the API returns it (expired secrets are no longer listed).
    pub fn to_json(&self, now: i64) -> Value {
        let secrets: Vec<Value> = self
            .secrets
            .iter()
            .filter(|s| s.live_at(now))
            .map(|s| {
                let mut shown = json!({"truncated_secret": SecretInfo::truncated(&s.secret)});
                if let Some(at) = s.expires_at {
                    shown["expire_time"] = json!(rfc3339(at));
                }
                shown
            })
            .collect();
        let mut resource = json!({
            "id": self.id,
            "uri": self.uri,
            "subscribed_events": self.subscribed_events,
            "state": self.state.as_str(),
            "create_time": rfc3339(self.created_at),
            "update_time": rfc3339(self.updated_at),
            "signing_secrets": secrets,
        });
        if let Some(name) = &self.name {
            resource["name"] = json!(name);
        }
        resource
    }
}

/// Unix seconds as RFC 3339 (UTC, whole seconds), as Google's timestamps are written.
pub fn rfc3339(unix_secs: i64) -> String {
    jiff::Timestamp::from_second(unix_secs).map_or_else(|_| unix_secs.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_769_083_200), "2026-01-22T12:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
