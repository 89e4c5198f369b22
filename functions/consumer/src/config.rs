//! The consumer's configuration, read once at cold start.

use shared::config::{ConfigError, FromVars, Vars};

/// The consumer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `IDEMPOTENCY_TABLE`: the table of claims on each `webhook_id`.
    pub claims_table: String,
    /// `RESULTS_BUCKET`: where each job's results (or failure record) are stored.
    pub results_bucket: String,
    /// `GEMINI_API_KEY_SECRET_ARN`: the Secrets Manager secret holding the Gemini API key (plain text).
    pub api_key_secret: String,
    /// `GEMINI_API_BASE`: the Gemini API (default Google's; a local simulator in tests).
    pub api_base: String,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            claims_table: vars.required("IDEMPOTENCY_TABLE")?,
            results_bucket: vars.required("RESULTS_BUCKET")?,
            api_key_secret: vars.required("GEMINI_API_KEY_SECRET_ARN")?,
            api_base: vars
                .optional("GEMINI_API_BASE")
                .unwrap_or_else(|| shared::gemini::DEFAULT_BASE_URL.to_owned()),
            endpoint_url: vars.endpoint_url(),
        })
    }
}
