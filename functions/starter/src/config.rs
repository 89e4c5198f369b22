//! The starter's configuration, read once at cold start.

use shared::aws::clients::Timeouts;
use shared::config::{ConfigError, FromVars, Vars};
use shared::gemini::ApiLocation;

/// The starter's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `JOB_REQUESTS_DLQ_URL`: where a request that names no task to fail is kept.
    pub requests_dlq_url: String,
    /// `IDEMPOTENCY_TABLE`: the claims table, so a request delivered twice starts one job.
    pub claims_table: String,
    /// `JOBS_TABLE`: the jobs ledger, where each job is tracked with its task's token.
    pub jobs_table: String,
    /// `SCHEDULE_GROUP`: where a job's first check is scheduled.
    pub schedule_group: String,
    /// `SCHEDULER_ROLE_ARN`: the role the check's schedule invokes the reconciler as.
    pub scheduler_role_arn: String,
    /// `RECONCILER_ARN`: the function the check invokes.
    pub reconciler_arn: String,
    /// `WEBHOOK_URL`: the receiver's URL, which the dynamic webhook adds its token to.
    pub webhook_url: String,
    /// `WEBHOOK_SECRETS_ARN`: the endpoint's secret, holding the URL token.
    pub endpoint_secret: String,
    /// `GEMINI_API_KEY_SECRET_ARN`: the secret holding the Gemini API key.
    pub api_key_secret: String,
    /// `GEMINI_API_BASE` and `GEMINI_API_VERSION`: the Gemini API (default Google's, `v1`).
    pub api: ApiLocation,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            requests_dlq_url: vars.queue_url("JOB_REQUESTS_DLQ_URL")?,
            claims_table: vars.required("IDEMPOTENCY_TABLE")?,
            jobs_table: vars.required("JOBS_TABLE")?,
            schedule_group: vars.required("SCHEDULE_GROUP")?,
            scheduler_role_arn: vars.required("SCHEDULER_ROLE_ARN")?,
            reconciler_arn: vars.required("RECONCILER_ARN")?,
            webhook_url: vars.required("WEBHOOK_URL")?,
            endpoint_secret: vars.required("WEBHOOK_SECRETS_ARN")?,
            api_key_secret: vars.required("GEMINI_API_KEY_SECRET_ARN")?,
            api: ApiLocation::from_lookup(|name| vars.optional(name)),
            endpoint_url: vars.endpoint_url(),
        })
    }
}

/// The AWS SDK's timeouts: a stuck call must fail the invocation well inside its timeout, so the
/// request comes back.
pub const TIMEOUTS: Timeouts = Timeouts::CONSUMER;

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, &str); 9] = [
        ("JOB_REQUESTS_DLQ_URL", "https://sqs.us-east-1.amazonaws.com/1/requests-dlq"),
        ("IDEMPOTENCY_TABLE", "claims"),
        ("JOBS_TABLE", "jobs"),
        ("SCHEDULE_GROUP", "group"),
        ("SCHEDULER_ROLE_ARN", "arn:role"),
        ("RECONCILER_ARN", "arn:reconciler"),
        ("WEBHOOK_URL", "https://abc.lambda-url.us-east-1.on.aws/"),
        ("WEBHOOK_SECRETS_ARN", "arn:endpoint"),
        ("GEMINI_API_KEY_SECRET_ARN", "arn:key"),
    ];

    #[test]
    fn needs_every_resource_it_calls() {
        for missing in ALL.map(|(name, _)| name) {
            let error = Config::from_lookup(|n| {
                ALL.iter().find(|(k, _)| *k == n && *k != missing).map(|(_, v)| (*v).to_owned())
            })
            .unwrap_err();
            assert_eq!(error.variable, missing);
        }
        let config =
            Config::from_lookup(|n| ALL.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())).unwrap();
        assert_eq!(config.api, ApiLocation::default(), "Google's API, v1");
    }
}
