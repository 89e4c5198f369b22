//! How a command ends: its exit code, and its error printed the one way every command prints errors.
//!
//! The first line says what failed and names the flag, variable, path, URL or queue involved, and what
//! to do; each cause follows on a line of its own; the full structures (SDK and HTTP errors) only with
//! `-v`. Messages are built from [`anyhow`] contexts, so a command adds what it knows at each level and
//! never formats a chain by hand. No message holds a secret, token or body: commands name them, never
//! echo them.

use std::fmt;
use std::process::ExitCode;

use serde_json::json;

/// The command line was wrong: a missing or invalid flag, found after parsing (exit 2, as clap's own
/// usage errors).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error naming what to fix.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Exit codes.
pub mod exit {
    /// Everything asked for was done.
    pub const SUCCESS: u8 = 0;
    /// Something failed (including an answer `send` did not expect).
    pub const FAILURE: u8 = 1;
    /// The command line was wrong.
    pub const USAGE: u8 = 2;
}

/// The exit code for a command's outcome.
pub fn exit_code(outcome: &anyhow::Result<()>) -> u8 {
    match outcome {
        Ok(()) => exit::SUCCESS,
        Err(e) if e.is::<UsageError>() => exit::USAGE,
        Err(_) => exit::FAILURE,
    }
}

/// The lines of an error: the message, then each cause that adds something.
pub fn lines(error: &anyhow::Error) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        // SDK and HTTP errors often repeat their cause inside their own message.
        if text.is_empty() || lines.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        lines.push(text);
    }
    lines
}

/// Prints `error` to standard error (as JSON with `--json`) and returns the exit code.
pub fn report(outcome: anyhow::Result<()>, json: bool, verbose: bool) -> ExitCode {
    let code = exit_code(&outcome);
    if let Err(error) = &outcome {
        let lines = lines(error);
        let (first, causes) = lines.split_first().map_or(("failed", &[][..]), |(f, c)| (f.as_str(), c));
        if json {
            let shown = json!({"error": first, "causes": causes, "exit_code": code});
            anstream::eprintln!("{shown}");
        } else {
            let red = crate::ui::output::bad();
            anstream::eprintln!("{red}error:{red:#} {first}");
            for cause in causes {
                anstream::eprintln!("  caused by: {cause}");
            }
        }
        if verbose {
            anstream::eprintln!("\ndetails: {error:?}");
        }
    }
    ExitCode::from(code)
}

/// A command line clap refused (exit 2), or `--help` and `--version` (exit 0): clap prints them, unless
/// `--json` is on the line and it is a refusal, which is then one JSON object like every other error.
pub fn command_line(refused: clap::Error) -> ExitCode {
    let json = std::env::args_os().any(|arg| arg == "--json");
    if !json || !refused.use_stderr() {
        refused.exit()
    }
    let text = refused.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let mut first = lines.next().unwrap_or("invalid command line").trim_start_matches("error: ").to_owned();
    // clap's pointer to --help says nothing a script can use.
    let mut causes: Vec<&str> = lines.filter(|line| !line.starts_with("For more information")).collect();
    // "the following required arguments were not provided:" and the list below it: one line.
    if first.ends_with(':') && !causes.is_empty() {
        first = format!("{first} {}", causes.remove(0));
    }
    let code = exit::USAGE;
    anstream::eprintln!("{}", json!({"error": first, "causes": causes, "exit_code": code}));
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn causes_that_repeat_the_line_above_are_left_out() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let error =
            Err::<(), _>(io).context("reading body.json: No such file").context("signing").unwrap_err();
        assert_eq!(lines(&error), ["signing", "reading body.json: No such file"]);
    }

    #[test]
    fn usage_errors_exit_2_and_failures_1() {
        assert_eq!(exit_code(&Err(usage("--secret is required"))), 2);
        assert_eq!(exit_code(&Err(usage("x").context("while sending"))), 2);
        assert_eq!(exit_code(&Err(anyhow::anyhow!("connection refused"))), 1);
        assert_eq!(exit_code(&Ok(())), 0);
    }
}
