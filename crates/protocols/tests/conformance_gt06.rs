//! Replays Traccar's GT06 decoder test vectors
//! (`shared/conformance/traccar-vectors.jsonl`, see its README for the
//! replay rule) through the `Session` contract: one session per `test`,
//! steps in `seq` order, every identification accepted.
//!
//! Traccar never checks the CRC and frames by the stop bytes when the
//! length is off; trackd rejects such frames. Each row is classified here,
//! independently of the decoder (CRC-16/X-25 and the length field computed
//! by this test): a row with a bad CRC or a length that does not point at
//! the stop bytes must be rejected by the session with that reason, and is
//! then decoded directly (`Gt06Session::decode_unchecked`), as Traccar's
//! test feeds it straight to the decoder. A row the framer cannot delimit
//! at all must leave a fresh session waiting for more bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use trackd_model::{
    mps_to_knots, AttrKey, AttrKeyRef, AttrValueRef, KnownKey, Position, Timestamp,
};
use trackd_protocols::gt06::{encode_login, next_frame, FrameStatus, Gt06Session};
use trackd_protocols::{Output, Session, SessionConfig};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/traccar-vectors.jsonl"
);

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex payload"))
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// CRC-16/X-25, bit by bit (the decoder uses a table).
fn crc_x25(data: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// How a payload should fare in trackd's framer.
#[derive(Clone, Debug, PartialEq)]
enum Class {
    /// Length points at the stop bytes and the CRC matches.
    Good,
    /// Length points at the stop bytes, CRC does not match.
    BadCrc { frame: u16, computed: u16 },
    /// Length field too small for serial and CRC.
    TooShort,
    /// Wi-Fi packet whose length byte is a count: no CRC.
    WifiCount,
    /// Length does not point at the stop bytes; they come elsewhere.
    LengthMismatch,
    /// No stop bytes where the length says and none after: never framed.
    Unframeable,
    /// Fewer bytes than the length declares, stop bytes before that: the
    /// framer waits for the declared length (framing must not depend on
    /// how TCP chunks the stream) and only then cuts at the stop bytes.
    DeclaredLonger,
}

fn classify(payload: &[u8]) -> Class {
    let extended = payload[0] == 0x79;
    let header = if extended { 4 } else { 3 };
    let length = if extended {
        usize::from(u16::from_be_bytes([payload[2], payload[3]]))
    } else {
        usize::from(payload[2])
    };
    let total = header + length + 2;
    if payload.len() >= total && payload[total - 2..total] == [0x0D, 0x0A] {
        if length < 5 {
            return Class::TooShort;
        }
        let frame = u16::from_be_bytes([payload[total - 4], payload[total - 3]]);
        let computed = crc_x25(&payload[2..total - 4]);
        return if frame == computed {
            Class::Good
        } else {
            Class::BadCrc { frame, computed }
        };
    }
    let has_stop = payload[header..].windows(2).any(|w| w == [0x0D, 0x0A]);
    if !has_stop {
        Class::Unframeable
    } else if payload.len() < total {
        Class::DeclaredLonger
    } else if !extended && matches!(payload[3], 0x17 | 0x69) {
        Class::WifiCount
    } else {
        Class::LengthMismatch
    }
}

/// What the session made of one step.
#[derive(Debug, Default)]
struct Outcome {
    positions: Vec<Position>,
    rejected: Vec<String>,
    closed: Vec<String>,
}

fn drain(session: &mut Gt06Session) -> Outcome {
    let mut outcome = Outcome::default();
    while let Some(output) = session.poll() {
        match output {
            Output::Identified(_) => session.accept(true),
            Output::Records { records, .. } => outcome.positions.extend(records),
            Output::Rejected(error) => outcome.rejected.push(error.to_string()),
            Output::Close(error) => outcome.closed.push(error.to_string()),
            Output::Reply(_) | Output::Notice(_) => {}
        }
    }
    outcome
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

/// Traccar's `verifyPosition`, with or without an expectation object.
fn position_ok(position: &Position, expected: &Value) -> Result<(), String> {
    let in_range = |value: f64, low: f64, high: f64| value >= low && value <= high;
    if expected.is_object() {
        let want = expected["fixTime"].as_str().unwrap_or_default();
        let got = iso(position.fix_time);
        if got != want {
            return Err(format!("fix time {got}, want {want}"));
        }
        if Some(position.valid) != expected["valid"].as_bool() {
            return Err(format!("valid {}", position.valid));
        }
        let near = |a: f64, b: &Value| b.as_f64().is_some_and(|b| (a - b).abs() <= 0.00001);
        if !near(position.latitude, &expected["latitude"])
            || !near(position.longitude, &expected["longitude"])
        {
            return Err(format!(
                "location {} {}",
                position.latitude, position.longitude
            ));
        }
    } else {
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

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn iso(time: Timestamp) -> String {
    let ms = time.as_millis();
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// `expected.key == expected.value` on the first position.
fn attribute_ok(position: &Position, expected: &Value) -> Result<(), String> {
    let key = expected["key"].as_str().unwrap_or_default();
    let want = &expected["value"];
    if expected["field"] == true {
        let got = match key {
            "altitude" => position.altitude,
            "speed" => mps_to_knots(position.speed),
            "course" => position.course,
            other => return Err(format!("unknown field {other}")),
        };
        return match want.as_f64() {
            Some(w) if (got - w).abs() < 1e-6 => Ok(()),
            _ => Err(format!("{key}: got {got}, want {want}")),
        };
    }
    let got = position.attributes.get(&AttrKey::from_name(key));
    let ok = match (expected["java_type"].as_str(), got) {
        (Some("null") | None, None) => true,
        (Some("String"), Some(AttrValueRef::Str(s))) => Some(s) == want.as_str(),
        (Some("Boolean"), Some(AttrValueRef::Bool(b))) => Some(b) == want.as_bool(),
        (Some("Integer" | "Long"), Some(v @ AttrValueRef::Int(_))) => v.as_f64() == want.as_f64(),
        (Some("Double" | "Float"), Some(v)) if !matches!(v, AttrValueRef::Bool(_)) => {
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

#[derive(Default)]
struct Tally {
    passed: usize,
    failures: Vec<String>,
    by_check: BTreeMap<String, usize>,
    anomalies: Vec<String>,
}

impl Tally {
    fn named(&mut self, row: &Value, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                *self.by_check.entry(name.to_owned()).or_default() += 1;
            }
            Err(what) => self.failures.push(format!(
                "{} seq {} ({name}): {what}",
                row["test"], row["seq"]
            )),
        }
    }
}

/// A logged-in session that has seen nothing else.
fn fresh_session() -> Gt06Session {
    let mut session = Gt06Session::new(&SessionConfig::default());
    session.handle_bytes(
        Timestamp::from_millis(now_ms()),
        &encode_login("123456789012345", 1),
    );
    drain(&mut session);
    session
}

/// Feeds one step and checks how the framer treats it; returns what
/// Traccar's decoder would have been given to decode.
fn feed(session: &mut Gt06Session, payload: &[u8], class: &Class) -> Result<Outcome, String> {
    let now = Timestamp::from_millis(now_ms());
    if matches!(class, Class::Unframeable | Class::DeclaredLonger) {
        let mut probe = fresh_session();
        probe.handle_bytes(now, payload);
        if let Some(output) = probe.poll() {
            return Err(format!("unframeable payload gave {output:?}"));
        }
        session.decode_unchecked(now, payload);
        return Ok(drain(session));
    }
    session.handle_bytes(now, payload);
    let outcome = drain(session);
    if !outcome.closed.is_empty() {
        return Err(format!("session closed: {:?}", outcome.closed));
    }
    let want = match class {
        Class::BadCrc { frame, computed } => Some(format!(
            "bad crc: frame says 0x{frame:04x}, computed 0x{computed:04x}"
        )),
        Class::LengthMismatch => Some("length mismatch".to_owned()),
        Class::TooShort => Some("length 1 too short".to_owned()),
        _ => None,
    };
    let Some(want) = want else {
        return Ok(outcome);
    };
    if !outcome.rejected.iter().any(|r| r.starts_with(&want)) {
        return Err(format!("expected a rejection {want:?}, got {outcome:?}"));
    }
    session.decode_unchecked(now, payload);
    Ok(drain(session))
}

#[test]
fn traccar_gt06_vectors() {
    let Ok(text) = std::fs::read_to_string(VECTORS) else {
        println!("skipped: ../shared/conformance/traccar-vectors.jsonl not found");
        return;
    };
    let mut scenarios: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("jsonl row");
        if row["protocol"] == "gt06" {
            scenarios
                .entry(row["test"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(row);
        }
    }
    let mut tally = Tally::default();
    let mut steps = 0;
    for rows in scenarios.values_mut() {
        rows.sort_by_key(|r| r["seq"].as_u64());
        let mut session = Gt06Session::new(&SessionConfig::default());
        for row in rows.iter() {
            steps += 1;
            let check = row["check"].as_str().unwrap_or_default();
            if check == "setup" {
                let method = row["setup"]["method"].as_str();
                assert_eq!(method, Some("setModelOverride"), "unknown setup");
                session.set_model(row["setup"]["args"][0].as_str());
                tally.named(row, "setup", Ok(()));
                continue;
            }
            let payload = unhex(row["payload"].as_str().unwrap_or_default());
            if check == "frame" {
                let want = unhex(row["expected"]["frame"].as_str().unwrap_or_default());
                let mut input = payload.clone();
                if classify(&payload) == Class::DeclaredLonger {
                    tally
                        .anomalies
                        .push(format!("frame seq {}: DeclaredLonger", row["seq"]));
                    let max = SessionConfig::default().max_frame;
                    let waits = next_frame(&payload, max) == FrameStatus::Incomplete;
                    let result = waits.then_some(()).ok_or("framer did not wait".to_owned());
                    tally.named(row, "framer rejects anomaly", result);
                    // With the next frame behind it, it is cut at its stop bytes.
                    input.extend(encode_login("123456789012345", 2));
                }
                let got = match next_frame(&input, SessionConfig::default().max_frame) {
                    FrameStatus::Complete { len, .. } => input.get(..len).map(<[u8]>::to_vec),
                    _ => None,
                };
                let result = if got.as_deref() == Some(&want[..]) {
                    Ok(())
                } else {
                    Err(format!("frame {got:?}"))
                };
                tally.named(row, "frame", result);
                continue;
            }
            let class = classify(&payload);
            if class != Class::Good && class != Class::WifiCount {
                tally
                    .anomalies
                    .push(format!("seq {}: {class:?}", row["seq"]));
            }
            let outcome = match feed(&mut session, &payload, &class) {
                Ok(outcome) => {
                    if class != Class::Good && class != Class::WifiCount {
                        tally.named(row, "framer rejects anomaly", Ok(()));
                    }
                    outcome
                }
                Err(what) => {
                    tally.named(row, "framing", Err(what));
                    continue;
                }
            };
            let first = outcome.positions.first();
            let result = match check {
                "null" if outcome.positions.is_empty() => Ok(()),
                "null" => Err(format!("expected nothing, got {:?}", outcome.positions)),
                "not_null" if first.is_some() => Ok(()),
                "position" if outcome.positions.len() == 1 => {
                    position_ok(&outcome.positions[0], &row["expected"])
                }
                "attributes" if outcome.positions.len() == 1 => {
                    if outcome.positions[0].attributes.is_empty() {
                        Err("no attributes".to_owned())
                    } else {
                        attribute_types_ok(&outcome.positions[0])
                    }
                }
                "attribute" if first.is_some() => {
                    attribute_ok(&outcome.positions[0], &row["expected"])
                }
                _ => Err(format!("no position: {outcome:?}")),
            };
            tally.named(row, check, result);
        }
    }
    println!(
        "gt06 conformance: {steps} steps, {} checks passed {:?}",
        tally.passed, tally.by_check
    );
    println!("gt06 framing anomalies (rejected, then decoded directly):");
    for anomaly in &tally.anomalies {
        println!("  {anomaly}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}
