//! Property tests for OsmAnd: encode -> decode round trips of random
//! positions in the query and the JSON form, and random or mutated requests
//! through the session without a panic and with output bounded by the
//! input. Also replays the committed fuzz corpus (`fuzz/corpus/osmand_request`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;

use proptest::prelude::*;
use trackd_model::{AttrKey, AttrValue, Attributes, KnownKey, Position, Protocol, Timestamp};
use trackd_protocols::osmand::{decode_request, encode_json, encode_query};
use trackd_protocols::{HttpRequest, Output, SessionConfig, Transport};

const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);
const LIMIT: usize = 64 * 1024;

fn get(query: &str) -> HttpRequest<'_> {
    HttpRequest {
        method: "GET",
        path: "/",
        query,
        content_type: None,
        body: &[],
    }
}

fn post_json(body: &[u8]) -> HttpRequest<'_> {
    HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        content_type: Some("application/json"),
        body,
    }
}

/// Text that no decoder reads as a number or a boolean, with characters
/// that need percent-encoding.
fn arb_text() -> impl Strategy<Value = String> {
    "[a-z &=+%?#é/]{0,12}".prop_map(|s| format!("s_{s}"))
}

fn arb_fix() -> impl Strategy<Value = Position> {
    (
        946_684_800_000i64..4_102_444_800_000,
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        0.0f64..300.0,
        0.0f64..360.0,
        -500.0f64..9000.0,
    )
        .prop_map(
            |(time, latitude, longitude, speed, course, altitude)| Position {
                protocol: Protocol::OsmAnd,
                fix_time: Timestamp::from_millis(time),
                device_time: Timestamp::from_millis(time),
                valid: true,
                latitude,
                longitude,
                altitude,
                speed,
                course,
                ..Position::default()
            },
        )
}

/// Attributes in the types the query form gives back: numbers are floats.
fn arb_query_attributes() -> impl Strategy<Value = Attributes> {
    let free = prop_oneof![
        any::<bool>().prop_map(AttrValue::Bool),
        (-1e9f64..1e9).prop_map(AttrValue::Float),
        arb_text().prop_map(|s| AttrValue::Str(s.into())),
    ];
    (
        proptest::collection::btree_map("x_[a-z]{1,6}", free, 0..6),
        proptest::option::of(0.0f64..50.0),
        proptest::option::of(0.0f64..=100.0),
        proptest::option::of(any::<bool>()),
        proptest::option::of(arb_text()),
    )
        .prop_map(|(free, hdop, battery, charge, driver)| {
            let mut attributes = Attributes::new();
            if let Some(hdop) = hdop {
                attributes.set(KnownKey::Hdop, AttrValue::Float(hdop));
            }
            if let Some(level) = battery {
                attributes.set(KnownKey::BatteryLevel, AttrValue::Float(level));
            }
            if let Some(charge) = charge {
                attributes.set(KnownKey::Charge, AttrValue::Bool(charge));
            }
            if let Some(driver) = driver {
                attributes.set(KnownKey::DriverUniqueId, AttrValue::Str(driver.into()));
            }
            for (key, value) in free {
                attributes.set(AttrKey::Other(key.into()), value);
            }
            attributes
        })
}

/// Attributes in the types the JSON form gives back.
fn arb_json_attributes() -> impl Strategy<Value = Attributes> {
    let free = prop_oneof![
        any::<bool>().prop_map(AttrValue::Bool),
        any::<i64>().prop_map(AttrValue::Int),
        (-1e9f64..1e9).prop_map(AttrValue::Float),
        arb_text().prop_map(|s| AttrValue::Str(s.into())),
    ];
    (
        proptest::collection::btree_map("x_[a-z]{1,6}", free, 0..6),
        proptest::option::of(0.0f64..100.0),
        proptest::option::of(0i64..=100),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0i64..10_000_000),
        proptest::option::of(arb_text()),
        proptest::option::of(arb_text()),
    )
        .prop_map(
            |(free, accuracy, battery, charge, moving, odometer, event, activity)| {
                let mut attributes = Attributes::new();
                if let Some(accuracy) = accuracy {
                    attributes.set(KnownKey::Accuracy, AttrValue::Float(accuracy));
                }
                if let Some(level) = battery {
                    attributes.set(KnownKey::BatteryLevel, AttrValue::Int(level));
                }
                if let Some(charge) = charge {
                    attributes.set(KnownKey::Charge, AttrValue::Bool(charge));
                }
                if let Some(moving) = moving {
                    attributes.set(KnownKey::Motion, AttrValue::Bool(moving));
                }
                if let Some(odometer) = odometer {
                    attributes.set(KnownKey::Odometer, AttrValue::Int(odometer));
                }
                if let Some(event) = event {
                    attributes.set(KnownKey::Event, AttrValue::Str(event.into()));
                }
                if let Some(activity) = activity {
                    attributes.set(KnownKey::Activity, AttrValue::Str(activity.into()));
                }
                for (key, value) in free {
                    attributes.set(AttrKey::Other(key.into()), value);
                }
                attributes
            },
        )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Equal up to float rounding (knots conversion, JSON float parsing) and
/// attribute order.
fn same(got: &Position, want: &Position) -> Result<(), String> {
    let fields_ok = got.protocol == want.protocol
        && got.fix_time == want.fix_time
        && got.device_time == want.device_time
        && got.valid == want.valid
        && close(got.latitude, want.latitude)
        && close(got.longitude, want.longitude)
        && close(got.altitude, want.altitude)
        && close(got.speed, want.speed)
        && close(got.course, want.course);
    if !fields_ok {
        return Err(format!("fields differ:\n got {got:?}\nwant {want:?}"));
    }
    let sorted = |a: &Attributes| {
        let mut buf = String::new();
        let mut entries: Vec<(String, AttrValue)> = a
            .iter()
            .map(|(k, v)| (k.name(&mut buf).to_owned(), v.to_value()))
            .collect();
        entries.sort_by(|x, y| x.0.cmp(&y.0));
        entries
    };
    let (g, w) = (sorted(&got.attributes), sorted(&want.attributes));
    let attributes_ok = g.len() == w.len()
        && g.iter().zip(&w).all(|((gk, gv), (wk, wv))| {
            gk == wk
                && match (gv, wv) {
                    (AttrValue::Float(a), AttrValue::Float(b)) => close(*a, *b),
                    _ => gv == wv,
                }
        });
    if attributes_ok {
        Ok(())
    } else {
        Err(format!("attributes differ:\n got {g:?}\nwant {w:?}"))
    }
}

/// Runs one request through a session as the route would; returns the
/// records and the number of outputs.
fn run(request: &HttpRequest<'_>) -> (Vec<Position>, usize) {
    let info = trackd_protocols::protocol("osmand").unwrap();
    let mut session = (info.new_session)(Transport::Http, &SessionConfig::default());
    session.handle_request(NOW, request);
    let mut records = Vec::new();
    let mut outputs = 0;
    while let Some(output) = session.poll() {
        outputs += 1;
        assert!(outputs <= 2, "more outputs than identify + records/close");
        match output {
            Output::Identified(id) => {
                assert!(!id.is_empty());
                session.accept(true);
            }
            Output::Records {
                records: batch,
                ack,
            } => {
                assert!(ack.is_empty());
                records.extend(batch);
            }
            Output::Close(reason) => assert!(!reason.to_string().is_empty()),
            other => panic!("unexpected {other:?}"),
        }
    }
    (records, outputs)
}

/// What any accepted record must satisfy, and how many a request of this
/// size can hold (a JSON location needs a timestamp: more than 20 bytes).
fn check_bounded(request: &HttpRequest<'_>) {
    let (records, outputs) = run(request);
    assert!(outputs >= 1, "a request always gets an answer");
    assert!(records.len() <= 1 + request.body.len() / 20);
    for position in &records {
        assert!((-90.0..=90.0).contains(&position.latitude));
        assert!((-180.0..=180.0).contains(&position.longitude));
        assert!(position.speed.is_finite() && position.speed >= 0.0);
        assert!((0.0..360.0).contains(&position.course));
        assert!(position.altitude.is_finite());
        assert!(position.attributes.len() <= 2 + request.body.len() + request.query.len());
    }
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, byte) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let at = at % bytes.len();
        match kind % 3 {
            0 => bytes[at] = byte,
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, byte),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn query_round_trip(
        mut position in arb_fix(),
        valid in any::<bool>(),
        attributes in arb_query_attributes(),
        id in "[A-Za-z0-9 ._&=+-]{1,20}",
    ) {
        position.valid = valid;
        position.attributes = attributes;
        let query = encode_query(&position, &id);
        let decoded = decode_request(NOW, &get(&query), LIMIT).map_err(|e| {
            TestCaseError::fail(format!("{query}: {e}"))
        })?;
        prop_assert_eq!(&decoded.unique_id, &id);
        prop_assert_eq!(decoded.positions.len(), 1);
        same(&decoded.positions[0], &position).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn json_round_trip(
        fixes in proptest::collection::vec((arb_fix(), arb_json_attributes()), 1..5),
        id in "[A-Za-z0-9 ._\"\\\\-]{1,20}",
    ) {
        let positions: Vec<Position> = fixes
            .into_iter()
            .map(|(mut position, attributes)| {
                position.attributes = attributes;
                position
            })
            .collect();
        let body = encode_json(&positions, &id);
        let decoded = decode_request(NOW, &post_json(body.as_bytes()), LIMIT).map_err(|e| {
            TestCaseError::fail(format!("{body}: {e}"))
        })?;
        prop_assert_eq!(&decoded.unique_id, &id);
        prop_assert_eq!(decoded.positions.len(), positions.len());
        for (got, want) in decoded.positions.iter().zip(&positions) {
            same(got, want).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn arbitrary_requests_never_panic(
        query in ".{0,200}",
        body in proptest::collection::vec(any::<u8>(), 0..400),
        content_type in prop_oneof![
            Just(None),
            Just(Some("application/json")),
            Just(Some("application/x-www-form-urlencoded")),
            Just(Some("text/plain")),
        ],
    ) {
        check_bounded(&HttpRequest { method: "POST", path: "/", query: &query, content_type, body: &body });
    }

    #[test]
    fn mutated_requests_never_panic(
        position in arb_fix(),
        attributes in arb_json_attributes(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let mut position = position;
        position.attributes = attributes;
        let json = mutate(encode_json(&[position.clone(), position.clone()], "7").into_bytes(), &edits);
        check_bounded(&post_json(&json));
        let query = mutate(encode_query(&position, "7").into_bytes(), &edits);
        let query = String::from_utf8_lossy(&query);
        check_bounded(&get(&query));
        let form = HttpRequest { method: "POST", path: "/", query: "", content_type: None, body: query.as_bytes() };
        check_bounded(&form);
    }
}

/// The fuzz target's input convention: byte 0 picks the content type, the
/// rest is `query '\n' body`.
fn request_from_fuzz_input(data: &[u8]) -> (String, Option<&'static str>, Vec<u8>) {
    let content_type = match data.first().map(|b| b % 4) {
        Some(1) => Some("application/json"),
        Some(2) => Some("application/x-www-form-urlencoded"),
        Some(3) => Some("text/plain"),
        _ => None,
    };
    let rest = data.get(1..).unwrap_or_default();
    let (query, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    (
        String::from_utf8_lossy(query).into_owned(),
        content_type,
        body.to_vec(),
    )
}

#[test]
fn replay_osmand_fuzz_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/osmand_request");
    let mut replayed = 0;
    let mut accepted = 0;
    for input in std::fs::read_dir(&corpus).expect("osmand corpus").flatten() {
        let data = std::fs::read(input.path()).expect("corpus file");
        let (query, content_type, body) = request_from_fuzz_input(&data);
        let request = HttpRequest {
            method: "POST",
            path: "/",
            query: &query,
            content_type,
            body: &body,
        };
        check_bounded(&request);
        if !run(&request).0.is_empty() {
            accepted += 1;
        }
        replayed += 1;
    }
    assert!(replayed > 0, "empty osmand corpus");
    // The seeds include well-formed requests of both forms.
    assert!(accepted >= 2, "only {accepted} corpus requests decode");
    println!("replayed {replayed} osmand corpus files, {accepted} decode");
}
