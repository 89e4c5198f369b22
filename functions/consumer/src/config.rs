//! The consumer's configuration, read once at cold start.

use shared::config::{ConfigError, FromVars, Vars};

/// The consumer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `IDEMPOTENCY_TABLE`: the table of claims on each `webhook_id`.
    pub claims_table: String,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self { claims_table: vars.required("IDEMPOTENCY_TABLE")?, endpoint_url: vars.endpoint_url() })
    }
}
