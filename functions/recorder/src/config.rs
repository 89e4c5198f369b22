//! The recorder's configuration, read once at cold start.

/// Default record lifetime: 7 days, well beyond Gemini's 24 h of retries, so a late retry still
/// finds its id and is dropped as a duplicate.
pub const DEFAULT_RECORD_TTL_SECS: u64 = 7 * 24 * 3600;

/// A variable that is missing or wrong.
#[derive(Debug, thiserror::Error)]
#[error("configuration error in {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// The recorder's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `EVENTS_TABLE`: the table's name.
    pub table: String,
    /// `RECORD_TTL_SECS` (default 7 days).
    pub ttl_secs: u64,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let table = get("EVENTS_TABLE")
            .ok_or(ConfigError { variable: "EVENTS_TABLE", problem: "is required".into() })?;
        let ttl_secs = match get("RECORD_TTL_SECS") {
            None => DEFAULT_RECORD_TTL_SECS,
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if secs >= 24 * 3600 => secs,
                Ok(_) => {
                    return Err(ConfigError {
                        variable: "RECORD_TTL_SECS",
                        problem: "must be at least 86400 (Gemini retries for 24 hours)".into(),
                    });
                }
                Err(_) => {
                    return Err(ConfigError {
                        variable: "RECORD_TTL_SECS",
                        problem: format!("expected a whole number of seconds, got {raw:?}"),
                    });
                }
            },
        };
        Ok(Self { table, ttl_secs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn needs_the_table_and_defaults_the_ttl_to_a_week() {
        assert_eq!(config(&[]).unwrap_err().variable, "EVENTS_TABLE");
        assert_eq!(
            config(&[("EVENTS_TABLE", "events")]).unwrap(),
            Config { table: "events".into(), ttl_secs: 604_800 }
        );
    }

    #[test]
    fn refuses_a_ttl_shorter_than_the_retry_window() {
        let err = config(&[("EVENTS_TABLE", "events"), ("RECORD_TTL_SECS", "3600")]).unwrap_err();
        assert_eq!(err.variable, "RECORD_TTL_SECS");
        assert_eq!(
            config(&[("EVENTS_TABLE", "e"), ("RECORD_TTL_SECS", "x")]).unwrap_err().variable,
            "RECORD_TTL_SECS"
        );
    }
}
