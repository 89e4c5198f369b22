//! The one way these tests run the built CLI: every variable the CLI reads (found from its argument
//! definitions), and the AWS SDK's and logging's, cleared first, so the caller's environment never
//! decides an outcome; then what the test gives.
// Each test file uses its own share of this.
#![allow(dead_code)]

use std::process::Command;

/// How a run ended.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code.
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Run {
    /// The exit code and both outputs.
    pub(crate) fn parts(self) -> (Option<i32>, String, String) {
        (self.code, self.stdout, self.stderr)
    }

    /// Standard output, the run having succeeded.
    pub(crate) fn succeeded(self) -> String {
        assert_eq!(self.code, Some(0), "{}{}", self.stdout, self.stderr);
        self.stdout
    }
}

/// The built CLI, with a clean environment.
pub(crate) fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gemini-webhooks"));
    for name in gemini_webhooks::commands::environment_variables() {
        command.env_remove(name);
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("RUST_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `command` to its end.
pub(crate) fn run(mut command: Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs `command` to its end off the async runtime, which the emulator and simulators serve on.
pub(crate) async fn run_async(command: Command) -> Run {
    tokio::task::spawn_blocking(move || run(command)).await.unwrap()
}
