//! Reading a function's environment once, at cold start, into typed values, with errors that name the
//! variable. Functions read nothing from the environment anywhere else.

use std::fmt::Display;
use std::str::FromStr;

/// A variable that is missing or wrong. The message names the variable and never echoes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error in {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: &'static str, problem: impl Display) -> Self {
        Self { variable, problem: problem.to_string() }
    }
}

/// A source of variables: the process environment in `main`, a list in tests.
pub struct Vars<F> {
    lookup: F,
}

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn from_env() -> Self {
        Self { lookup: |name| std::env::var(name).ok() }
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// Variables looked up through `lookup`.
    pub fn new(lookup: F) -> Self {
        Self { lookup }
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The trimmed value, an error when unset or blank.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError::new(name, "is required"))
    }

    /// The value parsed as `T`, or `default` when unset.
    pub fn parsed<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e| ConfigError::new(name, format!("{raw:?}: {e}"))),
        }
    }
}

/// `METRICS_NAMESPACE`, read by every function that publishes metrics: the CloudWatch namespace they go
/// to (the template sets `GeminiWebhooks/<stack name>`; [`crate::metrics::DEFAULT_NAMESPACE`] otherwise).
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

/// `AWS_ENDPOINT_URL`, read by every function: an endpoint for every AWS client (a local emulator), none
/// when unset or empty. Read here, not by the SDK: see `aws::clients`.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// `AWS_ENDPOINT_URL`, when set and not blank.
    pub fn endpoint_url(&self) -> Option<String> {
        self.optional(AWS_ENDPOINT_URL)
    }

    /// `METRICS_NAMESPACE`, or the default.
    pub fn metrics_namespace(&self) -> String {
        self.optional(METRICS_NAMESPACE).unwrap_or_else(|| crate::metrics::DEFAULT_NAMESPACE.to_owned())
    }
}

/// A configuration read from variables. Implement [`FromVars::from_vars`]; `from_env` (for `main`)
/// and `from_lookup` (for tests) come with it.
pub trait FromVars: Sized {
    /// Reads and checks every variable the configuration needs.
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError>;

    /// Reads the process environment.
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Reads variables through `lookup`.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::new(lookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> Vars<impl Fn(&str) -> Option<String>> {
        Vars::new(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn blank_values_count_as_unset_and_errors_name_the_variable() {
        let vars = vars(&[("A", "  "), ("B", " 42 "), ("C", "many")]);
        assert_eq!(vars.optional("A"), None);
        assert_eq!(vars.required("A").unwrap_err().variable, "A");
        assert_eq!(vars.parsed("B", 0u64), Ok(42));
        assert_eq!(vars.parsed("D", 7u64), Ok(7));
        let err = vars.parsed("C", 0u64).unwrap_err();
        assert_eq!(err.variable, "C");
        assert!(err.to_string().starts_with("configuration error in C: \"many\""), "{err}");
    }
}
