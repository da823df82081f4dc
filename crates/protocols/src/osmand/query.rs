//! The query form: `id`, `lat`, `lon`, `timestamp`, ... as URL parameters
//! or as a form-encoded body. Unknown parameters become attributes.

use trackd_model::{AttrKey, AttrValue, Attributes, KnownKey, Position, Protocol, Timestamp};

use super::network::Network;
use super::{clip, time, Error, Request};
use crate::HttpRequest;

/// Knots to metres per second; OsmAnd's `speed` is in knots.
pub(crate) const MPS_PER_KNOT: f64 = 1852.0 / 3600.0;

/// Decodes the query string, or the body when the query has no parameters
/// (Traccar's rule).
pub(crate) fn decode(now: Timestamp, request: &HttpRequest<'_>) -> Result<Request, Error> {
    let mut params = parse_form(request.query.as_bytes(), "query")?;
    if params.is_empty() {
        params = parse_form(request.body, "body")?;
    }
    let mut report = Report::default();
    for (key, value) in &params {
        report.apply(key, value)?;
    }
    report.finish(now)
}

/// Splits `a=1&b=2` into decoded pairs: `+` is a space, `%XX` a byte, and
/// each part must be UTF-8 once decoded. Parts with an empty name are
/// skipped; a part without `=` has an empty value.
pub(crate) fn parse_form(input: &[u8], what: &'static str) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = Vec::new();
    for part in input.split(|&b| b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, &[][..]),
        };
        let name = percent_decode(name, what)?;
        if name.is_empty() {
            continue;
        }
        pairs.push((name, percent_decode(value, what)?));
    }
    Ok(pairs)
}

fn percent_decode(input: &[u8], what: &'static str) -> Result<String, Error> {
    let mut out = Vec::with_capacity(input.len());
    let mut at = 0;
    while let Some(&byte) = input.get(at) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |i: usize| input.get(i).and_then(|&b| char::from(b).to_digit(16));
                let (Some(high), Some(low)) = (hex(at + 1), hex(at + 2)) else {
                    return Err(Error::PercentEncoding(what));
                };
                // Two hex digits are at most 0xFF.
                out.push((high * 16 + low) as u8);
                at += 2;
            }
            other => out.push(other),
        }
        at += 1;
    }
    String::from_utf8(out).map_err(|_| Error::NotUtf8(what))
}

/// A finite number, as Java's `Double.parseDouble` reads it (surrounding
/// whitespace allowed).
pub(crate) fn number(field: &'static str, text: &str) -> Result<f64, Error> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(Error::NotANumber {
            field,
            value: clip(text),
        }),
    }
}

/// Checks a coordinate against `limit` (90 or 180).
pub(crate) fn coordinate(field: &'static str, value: f64, limit: f64) -> Result<f64, Error> {
    if (-limit..=limit).contains(&value) {
        Ok(value)
    } else {
        Err(Error::OutOfRange { field, value })
    }
}

/// A course in [0, 360), whatever turn the client counted in.
pub(crate) fn normalize_course(degrees: f64) -> f64 {
    let course = degrees.rem_euclid(360.0);
    // rem_euclid of a tiny negative number rounds up to 360 itself.
    if course >= 360.0 {
        0.0
    } else {
        course
    }
}

/// The fields of one report as the parameters arrive; the last of
/// repeated parameters wins, as in Traccar.
#[derive(Default)]
struct Report {
    unique_id: Option<String>,
    valid: Option<bool>,
    time: Option<Timestamp>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    speed: f64,
    course: f64,
    altitude: f64,
    network: Network,
    attributes: Attributes,
}

impl Report {
    fn apply(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key {
            "id" | "deviceid" => self.unique_id = Some(value.to_owned()),
            // A push token for the device record, not part of a report.
            "notificationToken" => {}
            "valid" => self.valid = Some(value.eq_ignore_ascii_case("true") || value == "1"),
            "timestamp" => self.time = Some(time::parse_param("timestamp", value)?),
            "lat" => self.latitude = Some(number("lat", value)?),
            "lon" => self.longitude = Some(number("lon", value)?),
            "location" => {
                let malformed = || Error::Malformed {
                    field: "location",
                    value: clip(value),
                };
                let mut parts = value.split(',');
                let (Some(lat), Some(lon)) = (parts.next(), parts.next()) else {
                    return Err(malformed());
                };
                self.latitude = Some(number("location", lat)?);
                self.longitude = Some(number("location", lon)?);
            }
            "cell" => self.network.add_cell(value)?,
            "wifi" => self.network.add_wifi(value)?,
            // A negative speed is the client's "unknown".
            "speed" => self.speed = number("speed", value)?.max(0.0) * MPS_PER_KNOT,
            "bearing" => self.course = normalize_course(number("bearing", value)?),
            "heading" => self.course = normalize_course(number("heading", value)?),
            "altitude" => self.altitude = number("altitude", value)?,
            "accuracy" => self.set_number(KnownKey::Accuracy, "accuracy", value)?,
            "hdop" => self.set_number(KnownKey::Hdop, "hdop", value)?,
            "batt" => self.set_number(KnownKey::BatteryLevel, "batt", value)?,
            "driverUniqueId" => self
                .attributes
                .set(KnownKey::DriverUniqueId, AttrValue::Str(value.into())),
            "charge" => self.attributes.set(
                KnownKey::Charge,
                AttrValue::Bool(value.eq_ignore_ascii_case("true")),
            ),
            other => self.attributes.set(AttrKey::from_name(other), typed(value)),
        }
        Ok(())
    }

    fn set_number(&mut self, key: KnownKey, field: &'static str, text: &str) -> Result<(), Error> {
        let value = number(field, text)?;
        self.attributes.set(key, AttrValue::Float(value));
        Ok(())
    }

    fn finish(self, now: Timestamp) -> Result<Request, Error> {
        let unique_id = self.unique_id.filter(|id| !id.is_empty());
        let unique_id = unique_id.ok_or(Error::MissingId)?;
        let time = self.time.unwrap_or(now);
        let mut position = Position {
            protocol: Protocol::OsmAnd,
            fix_time: time,
            device_time: time,
            valid: self.valid.unwrap_or(true),
            speed: self.speed,
            course: self.course,
            altitude: self.altitude,
            attributes: self.attributes,
            ..Position::default()
        };
        match (self.latitude, self.longitude) {
            (Some(latitude), Some(longitude)) => {
                position.latitude = coordinate("lat", latitude, 90.0)?;
                position.longitude = coordinate("lon", longitude, 180.0)?;
            }
            (Some(_), None) => return Err(Error::Missing("lon")),
            (None, Some(_)) => return Err(Error::Missing("lat")),
            // A report without a fix (battery, cell towers only): Traccar
            // copies the last known location in; a decoder knows none, so
            // the fix is invalid, at 0,0, and dated the epoch, which never
            // displaces a real latest fix.
            (None, None) => {
                position.valid = false;
                position.fix_time = Timestamp::from_millis(0);
            }
        }
        if !self.network.is_empty() {
            position.attributes.set(
                KnownKey::Network,
                AttrValue::Str(self.network.to_json().into()),
            );
        }
        Ok(Request {
            unique_id,
            positions: vec![position],
        })
    }
}

/// Traccar's typing of a free parameter: a number, `true` / `false`, or
/// the text itself.
fn typed(text: &str) -> AttrValue {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => AttrValue::Float(value),
        _ => match text {
            "true" => AttrValue::Bool(true),
            "false" => AttrValue::Bool(false),
            _ => AttrValue::Str(text.into()),
        },
    }
}
