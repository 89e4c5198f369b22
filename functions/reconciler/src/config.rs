//! The reconciler's configuration, read once at cold start.

use shared::aws::clients::Timeouts;
use shared::config::{ConfigError, FromVars, Vars};
use shared::gemini::ApiLocation;

/// The reconciler's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `JOBS_TABLE`: the jobs ledger.
    pub jobs_table: String,
    /// `INGEST_QUEUE_URL`: where reconciled ends go, as deliveries do.
    pub ingest_queue_url: String,
    /// `GEMINI_API_KEY_SECRET_ARN`: the secret holding the Gemini API key.
    pub api_key_secret: String,
    /// `GEMINI_API_BASE` and `GEMINI_API_VERSION`: the Gemini API (default Google's, `v1`; a local
    /// simulator in tests).
    pub api: ApiLocation,
    /// `SCHEDULE_GROUP`: the EventBridge Scheduler group the checks are made in.
    pub schedule_group: String,
    /// `SCHEDULER_ROLE_ARN`: the role a check's schedule invokes this function as.
    pub scheduler_role_arn: String,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: vars.required("JOBS_TABLE")?,
            ingest_queue_url: vars.queue_url("INGEST_QUEUE_URL")?,
            api_key_secret: vars.required("GEMINI_API_KEY_SECRET_ARN")?,
            api: ApiLocation::from_lookup(|name| vars.optional(name)),
            schedule_group: vars.required("SCHEDULE_GROUP")?,
            scheduler_role_arn: vars.required("SCHEDULER_ROLE_ARN")?,
            metrics_namespace: vars.metrics_namespace(),
            endpoint_url: vars.endpoint_url(),
        })
    }
}

/// The AWS SDK's timeouts: a check is in no hurry, but a stuck call must fail the invocation well
/// inside its timeout, so the schedule's retry (or the next `jobs reconcile`) takes over.
pub const TIMEOUTS: Timeouts = Timeouts::CONSUMER;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_the_ledger_the_queue_the_key_and_the_scheduler() {
        let all = [
            ("JOBS_TABLE", "jobs"),
            ("INGEST_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/ingest"),
            ("GEMINI_API_KEY_SECRET_ARN", "arn:key"),
            ("SCHEDULE_GROUP", "group"),
            ("SCHEDULER_ROLE_ARN", "arn:role"),
        ];
        for missing in all.map(|(name, _)| name) {
            let error = Config::from_lookup(|n| {
                all.iter().find(|(k, _)| *k == n && *k != missing).map(|(_, v)| (*v).to_owned())
            })
            .unwrap_err();
            assert_eq!(error.variable, missing);
        }
        let config =
            Config::from_lookup(|n| all.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())).unwrap();
        assert_eq!(config.api, ApiLocation::default(), "Google's API, v1");
    }
}
