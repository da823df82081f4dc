//! The time forms OsmAnd clients send: epoch seconds or milliseconds,
//! ISO-8601 with an offset, and `yyyy-MM-dd HH:mm:ss` (read as UTC).

use trackd_model::Timestamp;

use super::{clip, Error};

const MS_PER_DAY: i64 = 86_400_000;

/// Parses a `timestamp` parameter of the query form.
pub(crate) fn parse_param(field: &'static str, text: &str) -> Result<Timestamp, Error> {
    let bad = || Error::BadTimestamp {
        field,
        value: clip(text),
    };
    if let Ok(number) = text.parse::<i64>() {
        // Traccar's rule: below 2^31 the number is seconds, otherwise ms.
        let millis = if number < i64::from(i32::MAX) {
            number.checked_mul(1000).ok_or_else(bad)?
        } else {
            number
        };
        return Ok(Timestamp::from_millis(millis));
    }
    if text.contains('T') {
        parse_iso(text).ok_or_else(bad)
    } else {
        parse_date_time(text, b' ').ok_or_else(bad)
    }
}

/// Parses an ISO-8601 date-time, as a JSON `timestamp` carries it.
pub(crate) fn parse_json(field: &'static str, text: &str) -> Result<Timestamp, Error> {
    parse_iso(text).ok_or_else(|| Error::BadTimestamp {
        field,
        value: clip(text),
    })
}

/// `YYYY-MM-DDTHH:MM[:SS[.fraction]]` and an optional offset (`Z`, `±HH`,
/// `±HHMM`, `±HH:MM`); without one the time is UTC.
fn parse_iso(text: &str) -> Option<Timestamp> {
    parse_date_time(text, b'T')
}

fn parse_date_time(text: &str, separator: u8) -> Option<Timestamp> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = cursor.digits(4)?;
    cursor.literal(b'-')?;
    let month = cursor.digits(2)?;
    cursor.literal(b'-')?;
    let day = cursor.digits(2)?;
    cursor.literal(separator)?;
    let hour = cursor.digits(2)?;
    cursor.literal(b':')?;
    let minute = cursor.digits(2)?;
    let mut second = 0;
    let mut millis = 0;
    if cursor.peek() == Some(b':') {
        cursor.at += 1;
        second = cursor.digits(2)?;
        if matches!(cursor.peek(), Some(b'.' | b',')) {
            cursor.at += 1;
            millis = cursor.fraction_millis()?;
        }
    }
    let offset_minutes = if separator == b'T' {
        cursor.offset()?
    } else {
        0
    };
    if cursor.at != cursor.bytes.len() {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    Some(Timestamp::from_millis(local - offset_minutes * 60_000))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn literal(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let digits = self.bytes.get(self.at..self.at + count)?;
        let mut value = 0i64;
        for &digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(digit - b'0');
        }
        self.at += count;
        Some(value)
    }

    /// One to nine fraction digits, truncated to milliseconds.
    fn fraction_millis(&mut self) -> Option<i64> {
        let start = self.at;
        let mut millis = 0;
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - start < 3 {
                millis = millis * 10 + i64::from(digit - b'0');
            }
            self.at += 1;
        }
        let count = self.at - start;
        if count == 0 || count > 9 {
            return None;
        }
        for _ in count..3 {
            millis *= 10;
        }
        Some(millis)
    }

    /// The offset east of UTC in minutes (0 for `Z` or none).
    fn offset(&mut self) -> Option<i64> {
        let sign = match self.peek() {
            None => return Some(0),
            Some(b'Z' | b'z') => {
                self.at += 1;
                return Some(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        self.at += 1;
        let hours = self.digits(2)?;
        let minutes = match self.peek() {
            Some(b':') => {
                self.at += 1;
                self.digits(2)?
            }
            Some(_) => self.digits(2)?,
            None => 0,
        };
        (hours <= 18 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2024-05-01T12:00:00.123Z`; instants outside the years 0000..=9999
/// (which ISO-8601 writes only in an expanded form) are clamped into them.
pub(crate) fn format_iso(time: Timestamp) -> String {
    let first = days_from_civil(0, 1, 1) * MS_PER_DAY;
    let last = days_from_civil(10_000, 1, 1) * MS_PER_DAY - 1;
    let millis = time.as_millis().clamp(first, last);
    let days = millis.div_euclid(MS_PER_DAY);
    let in_day = millis.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, ms) = (in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn forms() {
        let t = |s| parse_iso(s).map(Timestamp::as_millis);
        assert_eq!(t("2016-01-27T18:55:47Z"), Some(1_453_920_947_000));
        assert_eq!(t("2016-01-27T19:55:47+01:00"), Some(1_453_920_947_000));
        assert_eq!(t("2016-01-27T19:55:47+0100"), Some(1_453_920_947_000));
        assert_eq!(t("2016-01-27T17:55:47-01"), Some(1_453_920_947_000));
        assert_eq!(t("2016-01-27T18:55:47.5Z"), Some(1_453_920_947_500));
        assert_eq!(t("2016-01-27T18:55:47.123456789Z"), Some(1_453_920_947_123));
        assert_eq!(t("2016-01-27T18:55Z"), Some(1_453_920_900_000));
        for bad in [
            "2016-02-30T00:00:00Z",
            "2016-01-27T24:00:00Z",
            "2016-01-27T18:55:47.Z",
            "2016-01-27T18:55:47Zjunk",
            "2016-1-27T18:55:47Z",
            "2016-01-27T18:55:47+25:00",
            "",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        let text = format_iso(Timestamp::from_millis(1_453_920_947_123));
        assert_eq!(text, "2016-01-27T18:55:47.123Z");
        assert_eq!(format_iso(Timestamp::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_iso(Timestamp::MIN), "0000-01-01T00:00:00.000Z");
        for millis in [
            -62_167_219_200_000,
            -1,
            0,
            951_782_400_000,
            253_402_300_799_999,
        ] {
            let time = Timestamp::from_millis(millis);
            assert_eq!(parse_iso(&format_iso(time)), Some(time));
        }
    }
}
