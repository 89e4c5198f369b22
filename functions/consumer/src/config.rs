//! The consumer's configuration, read once at cold start.

use shared::config::{ConfigError, FromVars, Vars};
use shared::gemini::ApiLocation;

/// The consumer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `IDEMPOTENCY_TABLE`: the table of claims on each `webhook_id`.
    pub claims_table: String,
    /// `RESULTS_BUCKET`: where each job's results (or failure record) are stored.
    pub results_bucket: String,
    /// `GEMINI_API_KEY_SECRET_ARN`: the Secrets Manager secret holding the Gemini API key (plain text).
    pub api_key_secret: String,
    /// `GEMINI_API_BASE` and `GEMINI_API_VERSION`: the Gemini API (default Google's, `v1`; a local
    /// simulator in tests).
    pub api: ApiLocation,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            claims_table: vars.required("IDEMPOTENCY_TABLE")?,
            results_bucket: vars.required("RESULTS_BUCKET")?,
            api_key_secret: vars.required("GEMINI_API_KEY_SECRET_ARN")?,
            api: ApiLocation::from_lookup(|name| vars.optional(name)),
            endpoint_url: vars.endpoint_url(),
        })
    }
}
