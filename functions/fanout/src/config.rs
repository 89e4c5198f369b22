//! The fanout's configuration, read once at cold start.

use shared::routing::{Routes, RoutesError};

/// A variable that is missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `DEFAULT_QUEUE_URL` is not set.
    #[error("configuration error in DEFAULT_QUEUE_URL: is required")]
    NoDefaultQueue,
    /// `ROUTES` is unusable; the message names the rule.
    #[error("configuration error in ROUTES: {0}")]
    Routes(#[from] RoutesError),
}

/// Reads `ROUTES` and `DEFAULT_QUEUE_URL` through `lookup` (the environment in `main`).
pub fn routes_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Routes, ConfigError> {
    let default_queue =
        lookup("DEFAULT_QUEUE_URL").filter(|v| !v.trim().is_empty()).ok_or(ConfigError::NoDefaultQueue)?;
    Ok(Routes::parse(lookup("ROUTES").as_deref(), default_queue.trim())?)
}

/// Reads the process environment.
pub fn routes_from_env() -> Result<Routes, ConfigError> {
    routes_from_lookup(|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_queue_is_required_and_a_bad_rule_is_named() {
        assert!(matches!(routes_from_lookup(|_| None), Err(ConfigError::NoDefaultQueue)));
        let err = routes_from_lookup(|name| match name {
            "DEFAULT_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/default".into()),
            "ROUTES" => Some(r#"[{"match": "batch.*", "queues": []}]"#.into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "configuration error in ROUTES: rule #1: `queues` is empty");
    }
}
