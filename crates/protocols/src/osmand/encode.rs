//! Positions into OsmAnd requests (the simulator's dialect and the round
//! trip tests): the query form of OsmAnd / Traccar Client up to 7 and the
//! JSON form of Traccar Client 8+.

use std::fmt::Write as _;

use serde_json::{json, Map, Number, Value};
use trackd_model::{AttrKeyRef, AttrValueRef, KnownKey, Position, Timestamp};

use super::query::MPS_PER_KNOT;
use super::time::format_iso;

/// Parameters the query decoder reads as fields; attributes of these names
/// would be read back as something else, so they are not sent.
const RESERVED: &[&str] = &[
    "id",
    "deviceid",
    "valid",
    "timestamp",
    "lat",
    "lon",
    "location",
    "cell",
    "wifi",
    "speed",
    "bearing",
    "heading",
    "altitude",
    "notificationToken",
];

/// Whether `position` is a report without a fix, as the decoders make one
/// (invalid, at 0,0, fix dated the epoch): it is sent without a location.
fn has_no_fix(position: &Position) -> bool {
    !position.valid
        && position.fix_time == Timestamp::from_millis(0)
        && position.latitude == 0.0
        && position.longitude == 0.0
}

/// The time a request carries: the fix time, or the device time of a
/// report without a fix.
fn report_time(position: &Position) -> Timestamp {
    if has_no_fix(position) {
        position.device_time
    } else {
        position.fix_time
    }
}

/// The query string (without `?`) of one report: `id`, `timestamp`
/// (ISO-8601), `lat`, `lon`, `speed` (knots), `bearing`, `altitude`,
/// `valid=false` for an invalid fix, then the attributes (`batteryLevel`
/// as `batt`; reserved names and the `network` object are left out).
pub fn encode_query(position: &Position, unique_id: &str) -> String {
    let mut out = String::new();
    push_param(&mut out, "id", unique_id);
    push_param(&mut out, "timestamp", &format_iso(report_time(position)));
    if !has_no_fix(position) {
        push_param(&mut out, "lat", &position.latitude.to_string());
        push_param(&mut out, "lon", &position.longitude.to_string());
        if !position.valid {
            push_param(&mut out, "valid", "false");
        }
    }
    push_param(
        &mut out,
        "speed",
        &(position.speed / MPS_PER_KNOT).to_string(),
    );
    push_param(&mut out, "bearing", &position.course.to_string());
    push_param(&mut out, "altitude", &position.altitude.to_string());
    let mut name_buf = String::new();
    for (key, value) in position.attributes.iter() {
        let name = match key {
            AttrKeyRef::Known(KnownKey::BatteryLevel) => "batt",
            AttrKeyRef::Known(KnownKey::Network) => continue,
            other => other.name(&mut name_buf),
        };
        if RESERVED.contains(&name) {
            continue;
        }
        let text = match value {
            AttrValueRef::Bool(b) => b.to_string(),
            AttrValueRef::Int(i) => i.to_string(),
            AttrValueRef::Str(s) => s.to_owned(),
            AttrValueRef::Bytes(bytes) => hex_lower(bytes),
            number => number.as_f64().unwrap_or_default().to_string(),
        };
        push_param(&mut out, name, &text);
    }
    out
}

/// The JSON body of a batch: one `location` object for one position, an
/// array otherwise. Attributes with a place in the format go there
/// (`accuracy`, `motion`, `odometer`, `event`, `batteryLevel`, `charge`,
/// `activity`, `mock`, `alarm`); the rest go to `extras`. The format has
/// no validity flag: only reports without a fix are sent without `coords`.
pub fn encode_json(positions: &[Position], unique_id: &str) -> String {
    let mut locations: Vec<Value> = positions.iter().map(location_json).collect();
    let location = if locations.len() == 1 {
        locations.pop().unwrap_or_default()
    } else {
        Value::Array(locations)
    };
    json!({ "device_id": unique_id, "location": location }).to_string()
}

fn location_json(position: &Position) -> Value {
    let mut location = Map::new();
    let mut extras = Map::new();
    let mut coords = Map::new();
    let mut battery = Map::new();
    location.insert("timestamp".into(), format_iso(report_time(position)).into());
    if !has_no_fix(position) {
        coords.insert("latitude".into(), float(position.latitude));
        coords.insert("longitude".into(), float(position.longitude));
        coords.insert("speed".into(), float(position.speed));
        coords.insert("heading".into(), float(position.course));
        coords.insert("altitude".into(), float(position.altitude));
        // Transistor's "unknown"; a real accuracy replaces it below.
        coords.insert("accuracy".into(), (-1).into());
    }
    let mut name_buf = String::new();
    for (key, value) in position.attributes.iter() {
        use AttrValueRef as V;
        use KnownKey as K;
        let AttrKeyRef::Known(known) = key else {
            extras.insert(key.name(&mut name_buf).to_owned(), value_json(value));
            continue;
        };
        match (known, value) {
            (K::Accuracy, V::Float(a)) if a >= 0.0 && !coords.is_empty() => {
                coords.insert("accuracy".into(), float(a));
            }
            (K::Motion, V::Bool(b)) => {
                location.insert("is_moving".into(), b.into());
            }
            (K::Odometer, V::Int(i)) => {
                location.insert("odometer".into(), i.into());
            }
            (K::Event, V::Str(s)) => {
                location.insert("event".into(), s.into());
            }
            (K::Mock, V::Bool(b)) => {
                location.insert("mock".into(), b.into());
            }
            (K::Activity, V::Str(s)) => {
                location.insert("activity".into(), json!({ "type": s }));
            }
            (K::Alarm, V::Str(s)) => {
                location.insert("alarm".into(), s.into());
            }
            (K::BatteryLevel, V::Int(percent)) if percent >= 0 => {
                battery.insert("level".into(), float(percent as f64 / 100.0));
            }
            // The decoder reads only `is_charging: true` as a charge flag.
            (K::Charge, V::Bool(true)) => {
                battery.insert("is_charging".into(), true.into());
            }
            _ => {
                extras.insert(known.as_str().to_owned(), value_json(value));
            }
        }
    }
    if !coords.is_empty() {
        location.insert("coords".into(), coords.into());
    }
    if !battery.is_empty() {
        battery.entry("level").or_insert((-1).into());
        battery.entry("is_charging").or_insert(false.into());
        location.insert("battery".into(), battery.into());
    }
    location.insert("extras".into(), extras.into());
    location.into()
}

fn float(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn value_json(value: AttrValueRef<'_>) -> Value {
    match value {
        AttrValueRef::Bool(b) => b.into(),
        AttrValueRef::Int(i) => i.into(),
        AttrValueRef::Str(s) => s.into(),
        AttrValueRef::Bytes(bytes) => hex_lower(bytes).into(),
        number => float(number.as_f64().unwrap_or_default()),
    }
}

/// Appends `&name=value`, percent-encoding everything but RFC 3986's
/// unreserved characters.
fn push_param(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    percent_encode(out, name);
    out.push('=');
    percent_encode(out, value);
}

fn percent_encode(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
