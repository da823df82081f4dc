//! UTC instants as milliseconds since the Unix epoch, and the one parser of
//! user-given instants shared by the CLI and the HTTP API.

use chrono::{DateTime, NaiveDate};

/// A UTC instant, milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The earliest representable instant, for open-ended ranges.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant, for open-ended ranges.
    pub const MAX: Timestamp = Timestamp(i64::MAX);
}

/// A user-given instant that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {0:?}: expected RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01) or epoch milliseconds")]
pub struct TimeParseError(pub String);

impl Timestamp {
    /// Parses a user-given instant: RFC 3339 (0-9 fractional digits, `Z` or
    /// an offset), a bare date (midnight UTC), or epoch milliseconds.
    pub fn parse(text: &str) -> Result<Timestamp, TimeParseError> {
        let text = text.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Ok(Timestamp::from_millis(dt.timestamp_millis()));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            if let Some(dt) = date.and_hms_opt(0, 0, 0) {
                return Ok(Timestamp::from_millis(dt.and_utc().timestamp_millis()));
            }
        }
        if let Ok(millis) = text.parse::<i64>() {
            return Ok(Timestamp::from_millis(millis));
        }
        Err(TimeParseError(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    fn ms(text: &str) -> i64 {
        Timestamp::parse(text)
            .map(Timestamp::as_millis)
            .unwrap_or(i64::MIN)
    }

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(ms("1970-01-01T00:00:01Z"), 1000);
        assert_eq!(ms("1970-01-01T01:00:01.5+01:00"), 1500);
        assert_eq!(ms("1970-01-02"), 86_400_000);
        assert_eq!(ms(" 42 "), 42);
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2026-13-01").is_err());
    }
}
