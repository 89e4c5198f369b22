//! A function's binary started as Lambda would start it, with only the variables a test gives: what it
//! says, and how it exits, when a setting stops it at start-up; or, started well, serving a local
//! Runtime API ([`RuntimeApi`]).

use std::process::{Child, Command, Stdio};

use crate::RuntimeApi;

/// How a start-up ended.
#[derive(Debug, Clone)]
pub struct StartUp {
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    /// Everything it wrote to standard error.
    pub stderr: String,
}

impl StartUp {
    /// Checks that it stopped with a message whose first line names `variable` (causes may follow on
    /// lines of their own; no `Debug` structure dump, no backtrace), and returns the message.
    pub fn refused(&self, variable: &str) -> &str {
        assert_eq!(self.code, Some(1), "exits 1: {}", self.stderr);
        let message = self.stderr.trim();
        let first = message.lines().next().unwrap_or_default();
        assert!(first.contains(variable), "the first line names {variable}: {message}");
        assert!(!message.contains(" { ") && !message.contains("Error {"), "no Debug dump: {message}");
        assert!(!message.contains("stack backtrace"), "no backtrace: {message}");
        message
    }
}

/// Runs `binary` with exactly `vars` (and a Lambda runtime API that refuses connections, so a
/// configuration that passes fails on the runtime, not on a setting).
pub fn start_up(binary: &str, vars: &[(&str, &str)]) -> StartUp {
    let output = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .envs(vars.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    StartUp { code: output.status.code(), stderr: String::from_utf8_lossy(&output.stderr).into_owned() }
}

/// A function's binary running as Lambda runs it, polling a [`RuntimeApi`]; killed when dropped.
#[derive(Debug)]
pub struct Running(Child);

impl Running {
    /// Starts `binary` against `api` with exactly `vars`, the variables Lambda sets for every function,
    /// and `AWS_LAMBDA_MAX_CONCURRENCY` when given (Lambda Managed Instances set it).
    pub fn under(
        api: &RuntimeApi,
        binary: &str,
        vars: &[(&str, &str)],
        max_concurrency: Option<&str>,
    ) -> Self {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_LAMBDA_FUNCTION_NAME", "function")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(concurrency) = max_concurrency {
            command.env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency);
        }
        Self(command.spawn().unwrap_or_else(|e| panic!("starting {binary}: {e}")))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
