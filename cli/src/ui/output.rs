//! What commands print on standard output: a line for people (coloured only on a terminal, and never
//! when `NO_COLOR` is set), or with `--json` one JSON object a line whose field names are stable.

use std::fmt::Display;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// Where and how a command prints its results.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Text for people, or JSON lines.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether results are JSON lines.
    pub fn is_json(self) -> bool {
        self.json
    }

    /// Prints one result: its `Display` for people, its fields as one JSON line with `--json`.
    pub fn print<T: Serialize + Display>(self, item: &T) {
        if self.json {
            match serde_json::to_string(item) {
                Ok(line) => anstream::println!("{line}"),
                Err(e) => anstream::eprintln!("could not print a result as JSON: {e}"),
            }
        } else {
            anstream::println!("{item}");
        }
    }

    /// Prints a remark for people (on standard error, so JSON lines stay parseable; not at all with
    /// `--json`).
    pub fn note(self, text: impl Display) {
        if !self.json {
            anstream::eprintln!("{}", styled(dim(), text));
        }
    }

    /// Prints a warning on standard error, in both modes (with `--json`, as `{"warning": ...}`).
    pub fn warn(self, text: impl Display) {
        if self.json {
            anstream::eprintln!("{}", serde_json::json!({"warning": text.to_string()}));
            return;
        }
        let yellow = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
        anstream::eprintln!("{yellow}warning:{yellow:#} {text}");
    }
}

/// Green for success.
pub fn good() -> Style {
    Style::new().fg_color(Some(AnsiColor::Green.into()))
}

/// Red for failure.
pub fn bad() -> Style {
    Style::new().bold().fg_color(Some(AnsiColor::Red.into()))
}

/// Dim for secondary detail.
pub fn dim() -> Style {
    Style::new().dimmed()
}

/// `text` in `style`; plain text when standard output is not a terminal (anstream strips it).
pub fn styled(style: Style, text: impl Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A running count on standard error while something long runs: on a terminal only, never with
/// `--json` (standard output stays one JSON object a line, and logs stay free of carriage returns).
#[derive(Debug)]
pub struct Progress {
    label: String,
    shown: bool,
}

impl Output {
    /// A running count labelled `label`.
    pub fn progress(self, label: impl Into<String>) -> Progress {
        let shown = !self.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress { label: label.into(), shown }
    }
}

impl Progress {
    /// `done` of `total` so far.
    pub fn update(&self, done: usize, total: Option<usize>) {
        if self.shown {
            let total = total.map(|t| format!("/{t}")).unwrap_or_default();
            anstream::eprint!("\r{}: {done}{total}", self.label);
        }
    }

    /// Ends the line.
    pub fn finish(&self) {
        if self.shown {
            anstream::eprintln!();
        }
    }
}

/// A whole JSON document (one event, one held delivery): pretty for people, one line with `--json`.
#[derive(Debug)]
pub struct Document(pub serde_json::Value);

impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Display for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string_pretty(&self.0).map_err(|_| std::fmt::Error)?)
    }
}
