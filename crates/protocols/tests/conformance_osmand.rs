//! Replays Traccar's OsmAnd decoder test vectors
//! (`shared/conformance/traccar-vectors.jsonl`, see its README for the
//! replay rule) through the one `Session` contract.
//!
//! Each step is one HTTP request, so each gets a fresh session (an HTTP
//! session lives for one request); the registry accepts every id, as the
//! README's mocked connection manager does once a device has named itself.
//! A step "decodes to null" when the session yields no record.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use trackd_model::{
    mps_to_knots, AttrKey, AttrKeyRef, AttrValueRef, KnownKey, Position, Protocol, Timestamp,
};
use trackd_protocols::{protocol, HttpRequest, Output, SessionConfig, Transport};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/traccar-vectors.jsonl"
);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the session made of one request.
#[derive(Debug, Default)]
struct Outcome {
    identified: Option<String>,
    records: Vec<Position>,
    /// `Records` outputs seen (one request yields at most one).
    batches: usize,
    closed: Option<String>,
    others: Vec<String>,
}

/// The body bytes of a row: `latin1` text is one byte per char.
fn body(row: &Value) -> Vec<u8> {
    let text = row["body"].as_str().unwrap_or_default();
    match row["body_encoding"].as_str() {
        Some("hex") => (0..text.len() / 2)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex body"))
            .collect(),
        _ => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).expect("latin1 body"))
            .collect(),
    }
}

fn replay(row: &Value) -> Outcome {
    let info = protocol("osmand").expect("osmand is registered");
    let uri = row["uri"].as_str().unwrap_or_default();
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let content_type = row["headers"].as_array().and_then(|headers| {
        headers.iter().find_map(|h| {
            let name = h[0].as_str()?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| h[1].as_str())
                .flatten()
        })
    });
    let body = body(row);
    let request = HttpRequest {
        method: row["method"].as_str().unwrap_or("GET"),
        path,
        query,
        content_type,
        body: &body,
    };
    let mut session = (info.new_session)(Transport::Http, &SessionConfig::default());
    session.handle_request(Timestamp::from_millis(now_ms()), &request);
    let mut outcome = Outcome::default();
    let mut polls = 0;
    while let Some(output) = session.poll() {
        polls += 1;
        assert!(polls < 10, "session keeps producing outputs");
        match output {
            Output::Identified(id) => {
                outcome.identified = Some(id);
                session.accept(true);
            }
            Output::Records { records, ack } => {
                assert!(ack.is_empty(), "http acks are the empty 200 body");
                outcome.batches += 1;
                outcome.records.extend(records);
            }
            Output::Close(reason) => outcome.closed = Some(reason.to_string()),
            other => outcome.others.push(format!("{other:?}")),
        }
    }
    outcome
}

/// Traccar's `verifyPosition` without an expectation object.
fn position_ok(position: &Position, check_location: bool) -> Result<(), String> {
    let in_range = |value: f64, low: f64, high: f64| value >= low && value <= high;
    if position.protocol != Protocol::OsmAnd {
        return Err(format!("protocol {:?}", position.protocol));
    }
    if check_location {
        let fix = position.fix_time.as_millis();
        if !(fix > 915_148_800_000 && fix < now_ms() + 25 * 3_600_000) {
            return Err(format!("fix time {fix} out of range"));
        }
        if !in_range(position.latitude, -90.0, 90.0) || !in_range(position.longitude, -180.0, 180.0)
        {
            return Err(format!(
                "location {} {}",
                position.latitude, position.longitude
            ));
        }
    }
    if !in_range(position.altitude, -12262.0, 18000.0) {
        return Err(format!("altitude {}", position.altitude));
    }
    if !in_range(mps_to_knots(position.speed), 0.0, 869.0) {
        return Err(format!("speed {}", position.speed));
    }
    if !in_range(position.course, 0.0, 360.0) {
        return Err(format!("course {}", position.course));
    }
    attribute_types_ok(position)
}

/// The README's implicit invariants on attribute types.
fn attribute_types_ok(position: &Position) -> Result<(), String> {
    use KnownKey as K;
    for (key, value) in position.attributes.iter() {
        let AttrKeyRef::Known(known) = key else {
            continue;
        };
        let ok = match known {
            K::Index
            | K::Hdop
            | K::Vdop
            | K::Pdop
            | K::Sat
            | K::SatVisible
            | K::Rssi
            | K::Odometer
            | K::Rpm
            | K::Fuel
            | K::FuelUsed
            | K::Power
            | K::Battery
            | K::Steps
            | K::Hours => value.as_f64().is_some() && !matches!(value, AttrValueRef::Bool(_)),
            K::BatteryLevel => value.as_f64().is_some_and(|v| (0.0..=100.0).contains(&v)),
            K::Charge | K::Ignition | K::Motion | K::Archive | K::Roaming => {
                matches!(value, AttrValueRef::Bool(_))
            }
            K::DriverUniqueId | K::Result => matches!(value, AttrValueRef::Str(_)),
            K::Network => network_ok(value),
            _ => true,
        };
        if !ok {
            return Err(format!(
                "attribute {} has the wrong type: {value:?}",
                known.as_str()
            ));
        }
    }
    Ok(())
}

/// Cell towers and Wi-Fi access points as the README bounds them.
fn network_ok(value: AttrValueRef<'_>) -> bool {
    let AttrValueRef::Str(text) = value else {
        return false;
    };
    let Ok(network) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let within =
        |v: &Value, low: i64, high: i64| v.as_i64().is_some_and(|n| (low..=high).contains(&n));
    let cells_ok = network["cellTowers"].as_array().is_none_or(|cells| {
        cells.iter().all(|c| {
            within(&c["mobileCountryCode"], 0, 999)
                && within(&c["mobileNetworkCode"], 0, 999)
                && within(&c["locationAreaCode"], 1, 65_535)
                && within(&c["cellId"], 0, 268_435_455)
        })
    });
    let mac_ok = |mac: &str| {
        let groups: Vec<&str> = mac.split(':').collect();
        groups.len() == 6
            && groups
                .iter()
                .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let wifi_ok = network["wifiAccessPoints"].as_array().is_none_or(|points| {
        points
            .iter()
            .all(|p| p["macAddress"].as_str().is_some_and(mac_ok))
    });
    cells_ok && wifi_ok
}

/// `verifyPosition` with an expectation: time, validity, coordinates.
fn expected_ok(position: &Position, expected: &Value) -> Result<(), String> {
    if let Some(valid) = expected["valid"].as_bool() {
        if position.valid != valid {
            return Err(format!("valid {}", position.valid));
        }
    }
    for (key, got) in [
        ("latitude", position.latitude),
        ("longitude", position.longitude),
    ] {
        if let Some(want) = expected[key].as_f64() {
            if (got - want).abs() > 0.00001 {
                return Err(format!("{key} {got}, want {want}"));
            }
        }
    }
    Ok(())
}

/// `expected.key == expected.value` on the first record.
fn attribute_ok(records: &[Position], expected: &Value) -> Result<(), String> {
    let key = expected["key"].as_str().unwrap_or_default();
    let want = &expected["value"];
    let position = records.first().ok_or("no position")?;
    if expected["field"] == true {
        let got = match key {
            "speed" => mps_to_knots(position.speed),
            "course" => position.course,
            "altitude" => position.altitude,
            other => return Err(format!("unhandled field {other}")),
        };
        return match want.as_f64() {
            Some(w) if (got - w).abs() < 1e-6 => Ok(()),
            _ => Err(format!("{key}: got {got}, want {want}")),
        };
    }
    let got = position.attributes.get(&AttrKey::from_name(key));
    let ok = match (expected["java_type"].as_str(), got) {
        (None, None) => true,
        (Some("String"), Some(AttrValueRef::Str(s))) => Some(s) == want.as_str(),
        (Some("Boolean"), Some(AttrValueRef::Bool(b))) => Some(b) == want.as_bool(),
        (
            Some("Integer" | "Long"),
            Some(v @ (AttrValueRef::Int(_) | AttrValueRef::Decimal { .. })),
        ) => v.as_f64() == want.as_f64(),
        (Some("Double" | "Float"), Some(v)) => {
            matches!((v.as_f64(), want.as_f64()), (Some(a), Some(b)) if (a - b).abs() < 1e-9)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{key}: got {got:?}, want {want}"))
    }
}

fn check(row: &Value, outcome: &Outcome) -> Result<(), String> {
    let check_location = row["check_location"] != false;
    let records = &outcome.records;
    if !outcome.others.is_empty() {
        return Err(format!("unexpected outputs {:?}", outcome.others));
    }
    if !records.is_empty() && outcome.identified.is_none() {
        return Err("records before identification".to_owned());
    }
    match row["check"].as_str().unwrap_or_default() {
        // Traccar answers these with 400: the session must refuse, not just
        // stay silent.
        "null" if records.is_empty() && outcome.closed.is_some() => Ok(()),
        "null" => Err(format!("expected nothing, got {records:?}")),
        "not_null" if outcome.batches == 1 && !records.is_empty() => Ok(()),
        "not_null" => Err(format!("expected a result, got {outcome:?}")),
        "position" => {
            let [position] = records.as_slice() else {
                return Err(format!("expected one position, got {outcome:?}"));
            };
            position_ok(position, true)?;
            if row["expected"].is_object() {
                expected_ok(position, &row["expected"])?;
            }
            Ok(())
        }
        "positions" => {
            if records.is_empty() {
                return Err(format!("expected positions, got {outcome:?}"));
            }
            records
                .iter()
                .try_for_each(|p| position_ok(p, check_location))
        }
        "attribute" => attribute_ok(records, &row["expected"]),
        "attributes" => match records.as_slice() {
            [position] if !position.attributes.is_empty() => Ok(()),
            _ => Err(format!(
                "expected one position with attributes: {outcome:?}"
            )),
        },
        other => Err(format!("unhandled check {other}")),
    }
}

#[test]
fn traccar_osmand_vectors() {
    let Ok(text) = std::fs::read_to_string(VECTORS) else {
        println!("skipped: {VECTORS} not found");
        return;
    };
    let mut scenarios: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("jsonl row");
        if row["protocol"] == "osmand" {
            let test = row["test"].as_str().unwrap_or_default().to_owned();
            scenarios.entry(test).or_default().push(row);
        }
    }
    let mut passed = 0;
    let mut by_check: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for rows in scenarios.values_mut() {
        rows.sort_by_key(|r| r["seq"].as_u64());
        for row in rows.iter() {
            assert_eq!(row["payload_encoding"], "http_request", "{row}");
            let outcome = replay(row);
            match check(row, &outcome) {
                Ok(()) => {
                    passed += 1;
                    *by_check
                        .entry(row["check"].as_str().unwrap_or("?").to_owned())
                        .or_default() += 1;
                }
                Err(why) => failures.push(format!("{} seq {}: {why}", row["test"], row["seq"])),
            }
        }
    }
    println!(
        "osmand conformance: {passed} of {} checks passed {by_check:?}",
        passed + failures.len()
    );
    assert!(passed > 0, "no osmand vectors in {VECTORS}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
