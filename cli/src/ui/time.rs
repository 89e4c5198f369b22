//! Times as the command line prints them, all UTC: RFC 3339 wherever a person may give one back (to
//! `--since`) or a script reads it, and short forms in the columns of a listing.

use jiff::Timestamp;

/// Unix milliseconds as RFC 3339 (`2026-12-01T10:00:00.123Z`); the number itself when out of range.
pub fn rfc3339(unix_ms: i64) -> String {
    Timestamp::from_millisecond(unix_ms).map_or_else(|_| unix_ms.to_string(), |t| t.to_string())
}

/// `HH:MM:SS` of Unix milliseconds.
pub fn clock_time(unix_ms: i64) -> String {
    short(unix_ms, "%H:%M:%S", "--:--:--")
}

/// `YYYY-MM-DD HH:MM:SS` of Unix milliseconds.
pub fn date_time(unix_ms: i64) -> String {
    short(unix_ms, "%Y-%m-%d %H:%M:%S", "---------- --:--:--")
}

fn short(unix_ms: i64, format: &str, unknown: &str) -> String {
    Timestamp::from_millisecond(unix_ms)
        .map_or_else(|_| unknown.to_owned(), |t| t.strftime(format).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_utc_and_a_time_out_of_range_is_shown_as_unknown() {
        let at = 1_796_126_400_123; // 2026-12-01T12:00:00.123Z
        assert_eq!(rfc3339(at), "2026-12-01T12:00:00.123Z");
        assert_eq!(clock_time(at), "12:00:00");
        assert_eq!(date_time(at), "2026-12-01 12:00:00");
        assert_eq!(clock_time(i64::MAX), "--:--:--");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
