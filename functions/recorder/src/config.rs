//! The recorder's configuration, read once at cold start.

use shared::aws::clients::Timeouts;
pub use shared::config::ConfigError;
use shared::config::{FromVars, Vars};

/// Default record lifetime: 7 days, well beyond Gemini's 24 h of retries, so a late retry still
/// finds its id and is dropped as a duplicate.
pub const DEFAULT_RECORD_TTL_SECS: u64 = 7 * 24 * 3600;

/// The recorder's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `EVENTS_TABLE`: the table's name.
    pub table: String,
    /// `RECORD_TTL_SECS` (default 7 days).
    pub ttl_secs: u64,
    /// `INGEST_DLQ_URL`: where messages that can never be recorded are kept.
    pub dead_letter_queue_url: String,
    /// `JOBS_TABLE`: the jobs ledger, when the stack has one (tracked jobs' ends close their entries).
    pub jobs_table: Option<String>,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let ttl_secs = vars.parsed("RECORD_TTL_SECS", DEFAULT_RECORD_TTL_SECS)?;
        if ttl_secs < 24 * 3600 {
            return Err(ConfigError::new(
                "RECORD_TTL_SECS",
                "must be at least 86400 (Gemini retries for 24 hours)",
            ));
        }
        Ok(Self {
            table: vars.required("EVENTS_TABLE")?,
            ttl_secs,
            dead_letter_queue_url: vars.queue_url("INGEST_DLQ_URL")?,
            jobs_table: vars.optional("JOBS_TABLE"),
            metrics_namespace: vars.metrics_namespace(),
            endpoint_url: vars.endpoint_url(),
        })
    }
}

/// The AWS SDK's timeouts: a stuck write fails its record (retried by SQS) well inside the function's
/// 30-second timeout, instead of timing the whole batch out. Generous per attempt, because a write that
/// times out after DynamoDB applied it is only found out as a duplicate on the retry.
pub const TIMEOUTS: Timeouts = Timeouts::STAGE;

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn needs_the_table_and_the_dlq_and_defaults_the_ttl_to_a_week() {
        assert_eq!(config(&[]).unwrap_err().variable, "EVENTS_TABLE");
        assert_eq!(config(&[("EVENTS_TABLE", "events")]).unwrap_err().variable, "INGEST_DLQ_URL");
        assert_eq!(
            config(&[("EVENTS_TABLE", "events"), ("INGEST_DLQ_URL", "https://q/dlq")]).unwrap(),
            Config {
                table: "events".into(),
                ttl_secs: 604_800,
                dead_letter_queue_url: "https://q/dlq".into(),
                jobs_table: None,
                metrics_namespace: "GeminiWebhooks".into(),
                endpoint_url: None,
            }
        );
    }

    #[test]
    fn refuses_a_ttl_shorter_than_the_retry_window() {
        let err = config(&[
            ("EVENTS_TABLE", "events"),
            ("INGEST_DLQ_URL", "https://q/dlq"),
            ("RECORD_TTL_SECS", "3600"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "RECORD_TTL_SECS");
        assert_eq!(
            config(&[("EVENTS_TABLE", "e"), ("RECORD_TTL_SECS", "x")]).unwrap_err().variable,
            "RECORD_TTL_SECS"
        );
    }
}
