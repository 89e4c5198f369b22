//! Time windows as people write them: `--since 2h` (ago), `--since 2026-12-01T10:00Z` (RFC 3339,
//! seconds optional, any offset), `--since 2026-12-01` (midnight UTC). Parsed by [`jiff`]; pure, so
//! tested without a clock.

use jiff::civil::Date;
use jiff::{Span, SpanRelativeTo, Timestamp, Unit};

use crate::ui::time::rfc3339;

/// A time that could not be read, or a window with no time in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Neither a duration nor a time nor a date.
    #[error(
        "{flag} {text:?} is not a time: give a duration ago (90s, 30m, 2h, 7d), a time (2026-12-01T10:00Z) or a date (2026-12-01)"
    )]
    Unreadable {
        /// The flag it was given to.
        flag: &'static str,
        /// What was given.
        text: String,
    },
    /// `--since` is not before `--until`.
    #[error("the window is empty: --since ({since}) is not before --until ({until})")]
    Empty {
        /// The start, RFC 3339.
        since: String,
        /// The end, RFC 3339.
        until: String,
    },
}

/// A time window, Unix milliseconds: `since` included, `until` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The start.
    pub since_ms: i64,
    /// The end.
    pub until_ms: i64,
}

impl Window {
    /// The window from `since` (default: the beginning of time) to `until` (default: `now_ms`).
    pub fn parse(since: Option<&str>, until: Option<&str>, now_ms: i64) -> Result<Self, WindowError> {
        let since_ms = since.map(|t| instant("--since", t, now_ms)).transpose()?.unwrap_or(0);
        let until_ms = until.map(|t| instant("--until", t, now_ms)).transpose()?.unwrap_or(now_ms + 1);
        if since_ms >= until_ms {
            return Err(WindowError::Empty { since: rfc3339(since_ms), until: rfc3339(until_ms) });
        }
        Ok(Self { since_ms, until_ms })
    }

    /// Whether `unix_ms` is in the window.
    pub fn contains(&self, unix_ms: i64) -> bool {
        (self.since_ms..self.until_ms).contains(&unix_ms)
    }
}

/// `text` as Unix milliseconds: a duration before `now_ms`, a time, or a date (midnight UTC).
pub fn instant(flag: &'static str, text: &str, now_ms: i64) -> Result<i64, WindowError> {
    let unreadable = || WindowError::Unreadable { flag, text: text.to_owned() };
    let text = text.trim();
    if let Ok(span) = text.parse::<Span>() {
        let ago =
            span.total((Unit::Millisecond, SpanRelativeTo::days_are_24_hours())).map_err(|_| unreadable())?;
        // Whole milliseconds; far beyond any real window, saturating is the honest answer.
        return Ok(now_ms.saturating_sub(ago.round() as i64));
    }
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp.as_millisecond());
    }
    let date: Date = text.parse().map_err(|_| unreadable())?;
    let midnight = date.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| unreadable())?;
    Ok(midnight.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T12:00:00Z.
    const NOW: i64 = 1_796_126_400_000;

    #[test]
    fn durations_are_before_now() {
        assert_eq!(instant("--since", "2h", NOW), Ok(NOW - 2 * 3_600_000));
        assert_eq!(instant("--since", "90s", NOW), Ok(NOW - 90_000));
        assert_eq!(instant("--since", "7d", NOW), Ok(NOW - 7 * 86_400_000));
        assert_eq!(instant("--since", "1h30m", NOW), Ok(NOW - 5_400_000));
    }

    #[test]
    fn times_and_dates_are_absolute() {
        assert_eq!(instant("--since", "2026-12-01T10:00Z", NOW), Ok(NOW - 2 * 3_600_000));
        assert_eq!(instant("--since", "2026-12-01T10:00:00+02:00", NOW), Ok(NOW - 4 * 3_600_000));
        assert_eq!(instant("--since", "2026-12-01", NOW), Ok(NOW - 12 * 3_600_000));
    }

    #[test]
    fn anything_else_is_named_with_its_flag() {
        let error = instant("--until", "yesterday-ish", NOW).unwrap_err();
        assert!(error.to_string().starts_with("--until \"yesterday-ish\" is not a time"), "{error}");
    }

    #[test]
    fn a_window_must_hold_some_time() {
        let window = Window::parse(Some("2h"), None, NOW).unwrap();
        assert!(
            window.contains(NOW - 3_600_000) && window.contains(NOW) && !window.contains(NOW - 3 * 3_600_000)
        );
        assert!(matches!(Window::parse(Some("1h"), Some("2h"), NOW), Err(WindowError::Empty { .. })));
        assert_eq!(Window::parse(None, None, NOW).unwrap().since_ms, 0);
    }
}
