//! Traccar-shaped JSON for the domain types. Units are converted here and
//! nowhere else: speed m/s -> knots, times -> ISO-8601 with offset.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use trackd_model::{mps_to_knots, AttrValueRef, Attributes, Position, StoredPosition, Timestamp};

/// A position as Traccar's API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PositionDto {
    /// Position id (absent for positions that were only decoded, not stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Owning device (absent when only decoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<i64>,
    /// The device's reported identifier, where the frame carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Protocol name.
    pub protocol: &'static str,
    /// Receive time (absent when only decoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_time: Option<String>,
    /// The device's clock.
    pub device_time: String,
    /// GNSS fix time.
    pub fix_time: String,
    /// Traccar's flag for positions older than the latest; always false here.
    pub outdated: bool,
    /// Fix validity.
    pub valid: bool,
    /// Degrees.
    pub latitude: f64,
    /// Degrees.
    pub longitude: f64,
    /// Metres.
    pub altitude: f64,
    /// Knots.
    pub speed: f64,
    /// Degrees.
    pub course: f64,
    /// Metres; no protocol trackd decodes reports it, so 0 as in Traccar.
    pub accuracy: f64,
    /// Street address; trackd has no geocoder, so always null.
    pub address: Option<String>,
    /// Cell towers and Wi-Fi access points for network location; never
    /// reported, so always null.
    #[schema(value_type = Option<Object>)]
    pub network: Option<Value>,
    /// Geofences the position is inside; not computed, so always null.
    pub geofence_ids: Option<Vec<i64>>,
    /// Everything else, never null.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

impl PositionDto {
    /// A decoded (not stored) position.
    pub fn decoded(position: &Position, unique_id: Option<&str>) -> Self {
        let server_time =
            (position.server_time.as_millis() != 0).then(|| iso8601(position.server_time));
        // Traccar has these as fields of the position, not attributes:
        // decoders keep them as attributes, the edge moves them.
        let mut attributes = attributes_json(&position.attributes);
        let accuracy = attributes
            .remove("accuracy")
            .and_then(|value| value.as_f64())
            .unwrap_or(0.0);
        let network = attributes.remove("network").and_then(|value| match value {
            Value::String(text) => serde_json::from_str(&text).ok(),
            Value::Object(object) => Some(Value::Object(object)),
            _ => None,
        });
        PositionDto {
            id: None,
            device_id: None,
            unique_id: unique_id.map(str::to_owned),
            protocol: position.protocol.as_str(),
            server_time,
            device_time: iso8601(position.device_time),
            fix_time: iso8601(position.fix_time),
            outdated: false,
            valid: position.valid,
            latitude: position.latitude,
            longitude: position.longitude,
            altitude: position.altitude,
            speed: mps_to_knots(position.speed),
            course: position.course,
            accuracy,
            address: None,
            network,
            geofence_ids: None,
            attributes,
        }
    }

    /// A stored position.
    pub fn stored(stored: &StoredPosition) -> Self {
        let mut dto = PositionDto::decoded(&stored.position, None);
        dto.id = Some(stored.id.get());
        dto.device_id = Some(stored.device_id.get());
        dto.server_time = Some(iso8601(stored.position.server_time));
        dto
    }
}

/// `2024-05-01T12:00:00.000+00:00`, Traccar's format; out-of-range instants
/// are clamped to the epoch rather than failing a whole response.
pub fn iso8601(time: Timestamp) -> String {
    let dt: DateTime<Utc> = DateTime::from_timestamp_millis(time.as_millis()).unwrap_or_default();
    dt.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// The attribute map as JSON: exact decimals as numbers, bytes as lowercase hex.
pub fn attributes_json(attributes: &Attributes) -> Map<String, Value> {
    let mut map = Map::new();
    let mut name_buf = String::new();
    for (key, value) in attributes.iter() {
        map.insert(key.name(&mut name_buf).to_owned(), attr_value_json(value));
    }
    map
}

fn attr_value_json(value: AttrValueRef<'_>) -> Value {
    match value {
        AttrValueRef::Bool(b) => Value::Bool(b),
        AttrValueRef::Int(i) => Value::Number(i.into()),
        AttrValueRef::Decimal { .. } | AttrValueRef::Float(_) => value
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        AttrValueRef::Str(s) => Value::String(s.to_owned()),
        AttrValueRef::Bytes(bytes) => Value::String(hex_lower(bytes)),
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use trackd_model::{AttrKey, AttrValue, KnownKey};

    #[test]
    fn units_and_names_at_the_edge() {
        let mut position = Position {
            fix_time: Timestamp::from_millis(1_700_000_000_123),
            device_time: Timestamp::from_millis(1_700_000_000_123),
            speed: 1852.0 / 3600.0 * 10.0,
            ..Position::default()
        };
        position.attributes.set(
            KnownKey::Power,
            AttrValue::Decimal {
                raw: 12_345,
                scale: 3,
            },
        );
        position
            .attributes
            .set(KnownKey::Ignition, AttrValue::Bool(true));
        position
            .attributes
            .set(AttrKey::Io(385), AttrValue::Bytes(vec![0xab, 0x01].into()));
        let dto = PositionDto::decoded(&position, Some("356307042441013"));
        let json = serde_json::to_value(&dto).unwrap();
        assert_eq!(json["fixTime"], "2023-11-14T22:13:20.123+00:00");
        assert!((json["speed"].as_f64().unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(json["attributes"]["power"], 12.345);
        assert_eq!(json["attributes"]["ignition"], true);
        assert_eq!(json["attributes"]["io385"], "ab01");
        assert_eq!(json["uniqueId"], "356307042441013");
        // Keys Traccar always sends and clients index without a default
        // (Home Assistant reads accuracy, address and geofenceIds).
        assert_eq!(json["accuracy"], 0.0);
        for key in ["address", "network", "geofenceIds"] {
            assert!(json.get(key).is_some_and(Value::is_null), "{key}");
        }
    }
}
