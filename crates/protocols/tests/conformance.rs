//! Replays Traccar's Teltonika decoder test vectors
//! (`shared/conformance/traccar-vectors.jsonl`, see its README for the
//! replay rule): one session per `test`, steps in `seq` order.
//!
//! Rows flagged with `framing_anomalies` (bad CRC or length upstream) must be
//! rejected by the framer with the specific reason; their data field is then
//! decoded directly, bypassing length and CRC as Traccar's test does.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use trackd_model::{mps_to_knots, AttrKey, AttrKeyRef, AttrValueRef, KnownKey, Position};
use trackd_protocols::teltonika::{
    decode_records_unframed, decode_tcp_frame, decode_udp, next_frame, Codec12Response,
    DecodeOptions, Decoded, DeviceProfile, FrameError, FrameKind, FrameStatus, TcpEvent,
    TcpSession, DEFAULT_MAX_FRAME,
};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/traccar-vectors.jsonl"
);

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex payload"))
        .collect()
}

/// What one step decoded to, in Traccar's terms.
#[derive(Debug, Default)]
struct Outcome {
    positions: Vec<Position>,
    responses: Vec<Codec12Response>,
}

impl Outcome {
    /// Traccar returns a position for a command response too.
    fn count(&self) -> usize {
        self.positions.len() + self.responses.len()
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failures: Vec<String>,
    by_check: BTreeMap<String, usize>,
}

impl Tally {
    fn check(&mut self, row: &Value, ok: bool, what: impl FnOnce() -> String) {
        let name = row["check"].as_str().unwrap_or("?").to_owned();
        self.named(row, name, ok, what);
    }

    fn named(&mut self, row: &Value, name: String, ok: bool, what: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
            *self.by_check.entry(name).or_default() += 1;
        } else {
            self.failures
                .push(format!("{} seq {}: {}", row["test"], row["seq"], what()));
        }
    }
}

fn drain(session: &mut TcpSession) -> (Outcome, Vec<TcpEvent>) {
    let mut outcome = Outcome::default();
    let mut others = Vec::new();
    while let Some(event) = session.poll_event() {
        match event {
            TcpEvent::Imei(_) => {
                session.accept_imei(true);
            }
            TcpEvent::Records { records, .. } => outcome.positions.extend(records),
            TcpEvent::CommandResponse(response) => outcome.responses.push(response),
            other => others.push(other),
        }
    }
    (outcome, others)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Traccar's `verifyPosition` with no expectation object.
fn position_ok(position: &Position, check_location: bool) -> Result<(), String> {
    let in_range = |value: f64, low: f64, high: f64| value >= low && value <= high;
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

fn positions_ok(outcome: &Outcome, check_location: bool) -> Result<(), String> {
    if outcome.count() == 0 {
        return Err("no positions".to_owned());
    }
    outcome
        .positions
        .iter()
        .try_for_each(|p| position_ok(p, check_location))
}

/// `expected.key == expected.value` on the first result.
fn attribute_ok(outcome: &Outcome, expected: &Value) -> Result<(), String> {
    let key = expected["key"].as_str().unwrap_or_default();
    let want = &expected["value"];
    if let Some(response) = outcome.responses.first() {
        if key == "driverUniqueId" && outcome.positions.is_empty() {
            let got = response.driver_unique_id();
            return if got == want.as_str() {
                Ok(())
            } else {
                Err(format!("{key}: got {got:?}"))
            };
        }
    }
    let position = outcome.positions.first().ok_or("no position")?;
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

/// The framer must refuse an anomalous frame for the reason the README gives.
fn anomaly_rejected(payload: &[u8], anomalies: &[Value]) -> Result<(), String> {
    let first = anomalies
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = next_frame(payload, DEFAULT_MAX_FRAME);
    let whole = decode_tcp_frame(payload, &DecodeOptions::default());
    let mut session = TcpSession::new(DecodeOptions::default());
    session.handle_bytes(&[0, 2, b'4', b'2']);
    session.poll_event();
    session.accept_imei(true);
    session.handle_bytes(payload);
    let event = session.poll_event();
    let ok = if first.starts_with("crc field") {
        matches!(
            status,
            FrameStatus::Complete {
                kind: FrameKind::Data,
                ..
            }
        ) && matches!(whole, Err(FrameError::BadCrc { .. }))
            && matches!(event, Some(TcpEvent::Rejected(FrameError::BadCrc { .. })))
    } else if first.starts_with("data field has 0 bytes") {
        status == FrameStatus::Invalid(FrameError::ImpossibleLength(0))
            && matches!(
                event,
                Some(TcpEvent::Close(FrameError::ImpossibleLength(0)))
            )
    } else if first.starts_with("data length field") {
        status == FrameStatus::Incomplete
            && matches!(whole, Err(FrameError::Truncated { .. }))
            && event.is_none()
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "anomaly {first:?} not rejected: {status:?}, {whole:?}, {event:?}"
        ))
    }
}

fn unframed(payload: &[u8], profile: &DeviceProfile) -> Outcome {
    let mut outcome = Outcome::default();
    match payload
        .get(8..)
        .map(|d| decode_records_unframed(d, &DecodeOptions::default(), profile))
    {
        Some(Ok(Decoded::Records { positions, .. })) => outcome.positions = positions,
        Some(Ok(Decoded::Response(response))) => outcome.responses.push(response),
        _ => {}
    }
    outcome
}

#[test]
fn traccar_teltonika_vectors() {
    let Ok(text) = std::fs::read_to_string(VECTORS) else {
        println!("skipped: ../shared/conformance not present");
        return;
    };
    let mut scenarios: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("jsonl row");
        if row["protocol"] == "teltonika" {
            scenarios
                .entry(row["test"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(row);
        }
    }
    let mut tally = Tally::default();
    for rows in scenarios.values_mut() {
        rows.sort_by_key(|r| r["seq"].as_u64());
        let mut session = TcpSession::new(DecodeOptions::default());
        let mut profile = DeviceProfile::default();
        for row in rows.iter() {
            let check = row["check"].as_str().unwrap_or_default();
            if check == "setup" {
                let args = &row["setup"]["args"];
                match row["setup"]["method"].as_str() {
                    Some("setModelOverride") => profile.model = args[0].as_str().map(str::to_owned),
                    Some("setExtended") => profile.extended = args[0].as_bool().unwrap_or(false),
                    other => panic!("unknown setup {other:?}"),
                }
                session.set_profile(profile.clone());
                continue;
            }
            let payload = unhex(row["payload"].as_str().unwrap_or_default());
            if check == "frame" {
                let want = unhex(row["expected"]["frame"].as_str().unwrap_or_default());
                let got = match next_frame(&payload, DEFAULT_MAX_FRAME) {
                    FrameStatus::Complete { len, .. } => payload.get(..len).map(<[u8]>::to_vec),
                    _ => None,
                };
                tally.check(row, got.as_deref() == Some(&want[..]), || {
                    format!("frame {got:?}")
                });
                continue;
            }
            let outcome = if row["transport"] == "udp" {
                let mut outcome = Outcome::default();
                if let Ok(packet) = decode_udp(&payload, &DecodeOptions::default()) {
                    outcome.positions = packet.records;
                }
                outcome
            } else if let Some(anomalies) = row["framing_anomalies"].as_array() {
                let rejected = anomaly_rejected(&payload, anomalies);
                let name = "framer rejects anomaly".to_owned();
                tally.named(row, name, rejected.is_ok(), || {
                    rejected.err().unwrap_or_default()
                });
                unframed(&payload, &profile)
            } else {
                session.handle_bytes(&payload);
                let (outcome, others) = drain(&mut session);
                let closed = others.iter().any(|e| matches!(e, TcpEvent::Close(_)));
                let name = "session stays open".to_owned();
                tally.named(row, name, !closed, || format!("session closed: {others:?}"));
                outcome
            };
            let result = match check {
                "null" => {
                    if outcome.count() == 0 {
                        Ok(())
                    } else {
                        Err(format!("expected nothing, got {outcome:?}"))
                    }
                }
                "positions" => positions_ok(&outcome, row["check_location"] != false),
                "attribute" => attribute_ok(&outcome, &row["expected"]),
                other => Err(format!("unhandled check {other}")),
            };
            tally.check(row, result.is_ok(), || result.err().unwrap_or_default());
        }
    }
    println!(
        "teltonika conformance: {} checks passed {:?}",
        tally.passed, tally.by_check
    );
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}
