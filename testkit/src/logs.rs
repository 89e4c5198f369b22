//! What a function logs, as it logs it: the functions' own subscriber (`shared::logging`), installed
//! once for the whole test process, writing each thread's lines to that thread's capture. A subscriber
//! set per thread would not do: tracing caches, per call site, whether anyone listens, so another test's
//! thread logging first at a call site could turn it off for every thread.

use std::cell::RefCell;
use std::sync::Once;

use serde_json::Value;

thread_local! {
    /// The lines this thread logs while a [`Capture`] of it lives.
    static LINES: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// The lines logged on this thread at `info` and above since [`capture_logs`], until it is dropped.
#[derive(Debug)]
pub struct Capture(());

impl Capture {
    /// Every line so far, parsed: one JSON object each, as CloudWatch Logs would hold them.
    pub fn lines(&self) -> Vec<Value> {
        let text = LINES
            .with_borrow(|lines| String::from_utf8_lossy(lines.as_deref().unwrap_or_default()).into_owned());
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or(Value::String(line.to_owned())))
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        LINES.set(None);
    }
}

/// Starts capturing this thread's log lines (afresh, if a capture was running). Run the code under
/// test on this thread (a `#[tokio::test]`'s default runtime does).
pub fn capture_logs() -> Capture {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let subscriber = shared::logging::subscriber(|| ThisThread, Some("info"));
        // Only fails if another default was set first, and then nothing here would be captured.
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
    LINES.set(Some(Vec::new()));
    Capture(())
}

/// Writes each line to this thread's [`LINES`], when capturing.
struct ThisThread;

impl std::io::Write for ThisThread {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LINES.with_borrow_mut(|lines| lines.as_mut().map(|lines| lines.extend_from_slice(bytes)));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
