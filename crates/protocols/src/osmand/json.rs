//! The JSON form of Traccar Client 8+ (transistor background-geolocation):
//! `{"device_id": "..", "location": {..}}`, or `"location": [{..}, ..]` for
//! a batch of buffered reports. Speed in m/s; `-1` means unknown.

use serde_json::{Map, Number, Value};
use trackd_model::{AttrKey, AttrValue, KnownKey, Position, Protocol, Timestamp};

use super::query::{coordinate, normalize_course};
use super::{time, Error, Request};

type Object = Map<String, Value>;

/// Decodes a JSON body; a batch is all-or-nothing.
pub(crate) fn decode(body: &[u8]) -> Result<Request, Error> {
    let root: Value = serde_json::from_slice(body).map_err(|e| Error::Json(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(Error::WrongType {
            field: "body",
            expected: "an object",
        });
    };
    let unique_id = match root.get("device_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        None | Some(Value::Null) | Some(Value::String(_)) => return Err(Error::MissingId),
        Some(_) => {
            return Err(Error::WrongType {
                field: "device_id",
                expected: "a string",
            })
        }
    };
    let positions = match root.get("location") {
        Some(Value::Object(location)) => vec![decode_location(location)?],
        Some(Value::Array(batch)) => batch
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let wrap = |source| Error::BatchItem {
                    index,
                    source: Box::new(source),
                };
                match item {
                    Value::Object(location) => decode_location(location).map_err(wrap),
                    _ => Err(wrap(Error::WrongType {
                        field: "location",
                        expected: "an object",
                    })),
                }
            })
            .collect::<Result<_, _>>()?,
        None | Some(Value::Null) => return Err(Error::Missing("location")),
        Some(_) => {
            return Err(Error::WrongType {
                field: "location",
                expected: "an object or an array",
            })
        }
    };
    Ok(Request {
        unique_id,
        positions,
    })
}

fn decode_location(location: &Object) -> Result<Position, Error> {
    let timestamp = string(location, "timestamp", "location.timestamp")?
        .ok_or(Error::Missing("location.timestamp"))?;
    let time = time::parse_json("location.timestamp", timestamp)?;
    let mut position = Position {
        protocol: Protocol::OsmAnd,
        fix_time: time,
        device_time: time,
        ..Position::default()
    };
    let attributes = &mut position.attributes;
    match object(location, "coords", "location.coords")? {
        Some(coords) => {
            let latitude = number(coords, "latitude", "location.coords.latitude")?
                .ok_or(Error::Missing("location.coords.latitude"))?;
            let longitude = number(coords, "longitude", "location.coords.longitude")?
                .ok_or(Error::Missing("location.coords.longitude"))?;
            position.latitude = coordinate("location.coords.latitude", latitude, 90.0)?;
            position.longitude = coordinate("location.coords.longitude", longitude, 180.0)?;
            position.valid = true;
            let speed = number(coords, "speed", "location.coords.speed")?;
            if let Some(speed) = speed.filter(|s| *s >= 0.0) {
                position.speed = speed;
            }
            let heading = number(coords, "heading", "location.coords.heading")?;
            if let Some(heading) = heading.filter(|h| *h >= 0.0) {
                position.course = normalize_course(heading);
            }
            let accuracy = number(coords, "accuracy", "location.coords.accuracy")?;
            if let Some(accuracy) = accuracy.filter(|a| *a >= 0.0) {
                attributes.set(KnownKey::Accuracy, AttrValue::Float(accuracy));
            }
            if let Some(altitude) = number(coords, "altitude", "location.coords.altitude")? {
                position.altitude = altitude;
            }
        }
        // No fix: as in the query form, invalid at 0,0 and dated the epoch.
        None => position.fix_time = Timestamp::from_millis(0),
    }
    if let Some(event) = string(location, "event", "location.event")? {
        attributes.set(KnownKey::Event, AttrValue::Str(event.into()));
    }
    if let Some(moving) = boolean(location, "is_moving", "location.is_moving")? {
        attributes.set(KnownKey::Motion, AttrValue::Bool(moving));
    }
    if let Some(odometer) = number(location, "odometer", "location.odometer")? {
        // Traccar keeps whole metres.
        attributes.set(KnownKey::Odometer, AttrValue::Int(odometer.trunc() as i64));
    }
    if let Some(mock) = boolean(location, "mock", "location.mock")? {
        attributes.set(KnownKey::Mock, AttrValue::Bool(mock));
    }
    if let Some(activity) = object(location, "activity", "location.activity")? {
        if let Some(kind) = string(activity, "type", "location.activity.type")? {
            attributes.set(KnownKey::Activity, AttrValue::Str(kind.into()));
        }
    }
    if let Some(battery) = object(location, "battery", "location.battery")? {
        let level = number(battery, "level", "location.battery.level")?;
        if let Some(level) = level.filter(|l| *l >= 0.0) {
            // A fraction; rounded (Traccar truncates, so 0.29 is 28 there).
            let percent = (level * 100.0).round() as i64;
            attributes.set(KnownKey::BatteryLevel, AttrValue::Int(percent));
        }
        let charging = boolean(battery, "is_charging", "location.battery.is_charging")?;
        if charging == Some(true) {
            attributes.set(KnownKey::Charge, AttrValue::Bool(true));
        }
    }
    let alarm = string(location, "alarm", "location.alarm")?;
    if let Some(alarm) = alarm {
        attributes.set(KnownKey::Alarm, AttrValue::Str(alarm.into()));
    }
    if let Some(extras) = object(location, "extras", "location.extras")? {
        for (key, value) in extras {
            if key == "alarm" && alarm.is_some() {
                continue;
            }
            if let Some(value) = extra_value(value) {
                attributes.set(AttrKey::from_name(key), value);
            }
        }
    }
    Ok(position)
}

/// An `extras` member as an attribute; nulls, arrays and objects are
/// dropped, as Traccar drops them.
fn extra_value(value: &Value) -> Option<AttrValue> {
    match value {
        Value::Bool(b) => Some(AttrValue::Bool(*b)),
        Value::Number(n) => Some(number_value(n)),
        Value::String(s) => Some(AttrValue::Str(s.as_str().into())),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Integers stay integers (Traccar's `isIntegral`), others are floats.
fn number_value(n: &Number) -> AttrValue {
    match n.as_i64() {
        Some(i) => AttrValue::Int(i),
        None => AttrValue::Float(n.as_f64().unwrap_or_default()),
    }
}

/// A member that must be a number when present (null counts as absent).
fn number(object: &Object, key: &str, field: &'static str) -> Result<Option<f64>, Error> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(Error::WrongType {
            field,
            expected: "a number",
        }),
        Some(_) => Err(Error::WrongType {
            field,
            expected: "a number",
        }),
    }
}

fn string<'a>(
    object: &'a Object,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a str>, Error> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn boolean(object: &Object, key: &str, field: &'static str) -> Result<Option<bool>, Error> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::WrongType {
            field,
            expected: "a boolean",
        }),
    }
}

fn object<'a>(
    object: &'a Object,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a Object>, Error> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(Error::WrongType {
            field,
            expected: "an object",
        }),
    }
}
