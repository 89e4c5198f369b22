//! The fanout's configuration, read once at cold start.

use shared::aws::clients::Timeouts;
use shared::config::{FromVars, Vars};
use shared::routing::{Routes, RoutesError};

pub use shared::config::ConfigError;

/// The fanout's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ROUTES` and `DEFAULT_QUEUE_URL`, parsed.
    pub routes: Routes,
    /// `FANOUT_DLQ_URL`: where records a routed queue refuses for good are kept.
    pub dead_letter_queue_url: String,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let default_queue = vars.queue_url("DEFAULT_QUEUE_URL")?;
        let routes = Routes::parse(vars.optional("ROUTES").as_deref(), default_queue)
            .map_err(|e: RoutesError| ConfigError::new("ROUTES", e))?;
        Ok(Self {
            routes,
            dead_letter_queue_url: vars.queue_url("FANOUT_DLQ_URL")?,
            metrics_namespace: vars.metrics_namespace(),
            endpoint_url: vars.endpoint_url(),
        })
    }
}

/// The AWS SDK's timeouts: a stuck send fails its window (retried by the stream) well inside the
/// function's 30-second timeout. Generous per attempt, because a send that times out after SQS accepted
/// it is sent again on the retry: the one way a downstream queue can see an event twice.
pub const TIMEOUTS: Timeouts = Timeouts::STAGE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_queue_is_required_and_a_bad_rule_is_named() {
        assert_eq!(Config::from_lookup(|_| None).unwrap_err().variable, "DEFAULT_QUEUE_URL");
        let err = Config::from_lookup(|name| match name {
            "DEFAULT_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/default".into()),
            "FANOUT_DLQ_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/fanout-dlq".into()),
            "ROUTES" => Some(r#"[{"match": "batch.*", "queues": []}]"#.into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error in ROUTES: rule #1: no target: `queues` and `buses` are both empty"
        );
    }
}
