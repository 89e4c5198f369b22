//! Reading a function's environment once, at cold start, into typed values, with errors that name the
//! variable. Functions read nothing from the environment anywhere else.

use std::cell::RefCell;
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

/// A variable a configuration reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// Its name.
    pub name: &'static str,
    /// Whether the configuration fails without it.
    pub required: bool,
}

/// A source of variables: the process environment in `main`, a list in tests. It notes every name it
/// is asked for, so the list of variables a configuration reads is derived from the code that reads
/// them ([`FromVars::variables`]), never kept by hand.
pub struct Vars<F> {
    lookup: F,
    /// Answer as if nothing were set and every required variable were empty: to list what is read.
    discovering: bool,
    read: RefCell<Vec<Variable>>,
}

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn from_env() -> Self {
        Self::new(|name| std::env::var(name).ok())
    }

    fn discovering() -> Self {
        Self { discovering: true, ..Self::new(|_| None) }
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// Variables looked up through `lookup`.
    pub fn new(lookup: F) -> Self {
        Self { lookup, discovering: false, read: RefCell::new(Vec::new()) }
    }

    fn note(&self, name: &'static str, required: bool) {
        let mut read = self.read.borrow_mut();
        match read.iter_mut().find(|v| v.name == name) {
            Some(seen) => seen.required |= required,
            None => read.push(Variable { name, required }),
        }
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.note(name, false);
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The trimmed value, an error when unset or blank.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.note(name, true);
        if self.discovering {
            return Ok(String::new());
        }
        self.optional(name).ok_or_else(|| ConfigError::new(name, "is required"))
    }

    /// The trimmed value, required to be an SQS queue URL (a bare queue name or an ARN is refused here
    /// rather than by the first SendMessage).
    pub fn queue_url(&self, name: &'static str) -> Result<String, ConfigError> {
        let url = self.required(name)?;
        if self.discovering || crate::sqs::is_queue_url(&url) {
            Ok(url)
        } else {
            Err(ConfigError::new(
                name,
                format!(
                    "{url:?} is not a queue URL: give the URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), not a name or ARN"
                ),
            ))
        }
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

    /// Every variable the configuration reads, and which it requires: found by reading them, so the
    /// template test checks the code, not a list kept beside it.
    fn variables() -> Vec<Variable> {
        let vars = Vars::discovering();
        // Nothing is set, so checks between values may refuse; every read before that is noted, and
        // configurations read every variable before checking them together.
        let _ = Self::from_vars(&vars);
        vars.read.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> Vars<impl Fn(&str) -> Option<String>> {
        Vars::new(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    struct Sample;

    impl FromVars for Sample {
        fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
            vars.required("NEEDED")?;
            vars.optional("MAYBE");
            vars.parsed("NUMBER", 5u32)?;
            Ok(Sample)
        }
    }

    #[test]
    fn the_variables_a_configuration_reads_are_found_by_reading_them() {
        assert_eq!(
            Sample::variables(),
            [
                Variable { name: "NEEDED", required: true },
                Variable { name: "MAYBE", required: false },
                Variable { name: "NUMBER", required: false },
            ]
        );
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
