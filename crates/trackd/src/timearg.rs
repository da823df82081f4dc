//! Time arguments on the command line: RFC 3339 (0-9 fractional digits, `Z`
//! or an offset), a bare date (midnight UTC), or epoch milliseconds.

use anyhow::bail;
use chrono::{DateTime, NaiveDate};
use trackd_model::Timestamp;

/// Parses a user-given instant.
pub(crate) fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
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
    bail!("invalid time {text:?}: expected RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01) or epoch milliseconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(
            parse_time("1970-01-01T00:00:01Z").unwrap().as_millis(),
            1000
        );
        assert_eq!(
            parse_time("1970-01-01T01:00:01.5+01:00")
                .unwrap()
                .as_millis(),
            1500
        );
        assert_eq!(parse_time("1970-01-02").unwrap().as_millis(), 86_400_000);
        assert_eq!(parse_time("42").unwrap().as_millis(), 42);
        assert!(parse_time("yesterday").is_err());
    }
}
