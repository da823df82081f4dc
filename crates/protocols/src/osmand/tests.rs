#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use trackd_model::{AttrKey, AttrValueRef, KnownKey, Position, Timestamp};

use super::*;
use crate::{Output, SessionConfig, Transport};

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
        content_type: Some("application/json; charset=utf-8"),
        body,
    }
}

fn decode(request: &HttpRequest<'_>) -> Result<Request, Error> {
    decode_request(NOW, request, LIMIT)
}

fn one(request: &HttpRequest<'_>) -> Position {
    let mut decoded = decode(request).unwrap();
    assert_eq!(decoded.positions.len(), 1);
    decoded.positions.remove(0)
}

fn attr<'a>(position: &'a Position, name: &str) -> Option<AttrValueRef<'a>> {
    position.attributes.get(&AttrKey::from_name(name))
}

fn location(body: &str) -> String {
    format!(
        r#"{{"timestamp":"2024-05-01T12:00:00Z","coords":{{"latitude":1,"longitude":2}}{body}}}"#
    )
}

/// Every refused request, with the message the route will send.
#[test]
fn bad_requests_close_with_their_reason() {
    let big = vec![b'a'; 1024 * 1024];
    let good = location("");
    let bad_batch = format!(
        r#"{{"device_id":"7","location":[{good},{},{good}]}}"#,
        location(r#","extras":{},"odometer":"far""#)
    );
    let cases: Vec<(HttpRequest<'_>, &str)> = vec![
        (get("lat=1&lon=2"), "missing id"),
        (get("id=&lat=1&lon=2"), "missing id"),
        (get("id=7&lat=north&lon=2"), r#"lat is not a number: "north""#),
        (get("id=7&lat=&lon=2"), r#"lat is not a number: """#),
        (get("id=7&lat=NaN&lon=2"), r#"lat is not a number: "NaN""#),
        (get("id=7&lat=123&lon=2"), "lat out of range: 123"),
        (get("id=7&lat=1&lon=-181"), "lon out of range: -181"),
        (get("id=7&lat=1"), "missing lon"),
        (get("id=7&location=1"), r#"location is malformed: "1""#),
        (
            get("id=7&lat=1&lon=2&timestamp=yesterday"),
            r#"timestamp is not a time: "yesterday""#,
        ),
        (
            get("id=7&lat=1&lon=2&timestamp=2024-13-01T00:00:00Z"),
            r#"timestamp is not a time: "2024-13-01T00:00:00Z""#,
        ),
        (get("id=7&lat=1&lon=2&speed=fast"), r#"speed is not a number: "fast""#),
        (get("id=7&cell=1,2,3"), r#"cell is malformed: "1,2,3""#),
        (get("id=7&wifi=00-14-22,-80"), r#"wifi is malformed: "00-14-22,-80""#),
        (get("id=7%ZZ"), "bad percent-encoding in query"),
        (get("id=%FF%FE"), "query is not utf-8"),
        (
            post_json(&big),
            "body too large: 1048576 bytes (limit 65536)",
        ),
        (
            post_json(b"{\"device_id\":"),
            "malformed json: EOF while parsing a value at line 1 column 13",
        ),
        (post_json(b"[1,2]"), "body: expected an object"),
        (post_json(br#"{"location":{}}"#), "missing id"),
        (post_json(br#"{"device_id":"7"}"#), "missing location"),
        (
            post_json(br#"{"device_id":"7","location":{"coords":{}}}"#),
            "missing location.timestamp",
        ),
        (
            post_json(
                br#"{"device_id":"7","location":{"timestamp":"2024-05-01T12:00:00Z","coords":{"latitude":91,"longitude":0}}}"#,
            ),
            "location.coords.latitude out of range: 91",
        ),
        (
            post_json(bad_batch.as_bytes()),
            "location 1: location.odometer: expected a number",
        ),
    ];
    for (request, reason) in cases {
        let mut session = (PROTOCOL.new_session)(Transport::Http, &SessionConfig::default());
        session.handle_request(NOW, &request);
        match session.poll() {
            Some(Output::Close(error)) => assert_eq!(error.to_string(), reason, "{request:?}"),
            other => panic!("{request:?}: {other:?}"),
        }
        assert!(session.poll().is_none());
        assert!(session.unique_id().is_none());
    }
}

#[test]
fn session_identifies_then_yields_records_after_accept() {
    let mut session = (PROTOCOL.new_session)(Transport::Http, &SessionConfig::default());
    assert!(session.poll().is_none());
    session.handle_request(NOW, &get("id=42&lat=60&lon=30"));
    assert!(matches!(session.poll(), Some(Output::Identified(id)) if id == "42"));
    assert!(session.poll().is_none(), "records wait for accept");
    assert_eq!(session.unique_id(), Some("42"));
    session.accept(true);
    match session.poll() {
        Some(Output::Records { records, ack }) => {
            assert_eq!(records.len(), 1);
            assert!(ack.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(session.poll().is_none());
    // A second request is not this session's.
    session.handle_request(NOW, &get("id=43&lat=60&lon=30"));
    assert!(session.poll().is_none());

    let mut refused = (PROTOCOL.new_session)(Transport::Http, &SessionConfig::default());
    refused.handle_request(NOW, &get("id=42&lat=60&lon=30"));
    assert!(matches!(refused.poll(), Some(Output::Identified(_))));
    refused.accept(false);
    assert!(matches!(refused.poll(), Some(Output::Close(e)) if e.to_string() == "unknown device"));
    assert!(refused.poll().is_none());

    let mut tcp = (PROTOCOL.new_session)(Transport::Tcp, &SessionConfig::default());
    assert!(matches!(tcp.poll(), Some(Output::Close(_))));
}

#[test]
fn body_limit_is_the_session_config() {
    let body = br#"{"device_id":"7","location":[]}"#;
    let config = SessionConfig {
        max_frame: body.len() - 1,
        ..SessionConfig::default()
    };
    let mut session = (PROTOCOL.new_session)(Transport::Http, &config);
    session.handle_request(NOW, &post_json(body));
    assert!(matches!(session.poll(), Some(Output::Close(_))));
    // An empty batch names the device and stores nothing.
    let decoded = decode(&post_json(body)).unwrap();
    assert_eq!(decoded.unique_id, "7");
    assert!(decoded.positions.is_empty());
}

#[test]
fn good_batch_keeps_its_order() {
    let item = |lat: u32, second: u32| {
        format!(
            r#"{{"timestamp":"2024-05-01T12:00:0{second}Z","coords":{{"latitude":{lat},"longitude":2,"speed":1.5}}}}"#
        )
    };
    let body = format!(
        r#"{{"device_id":"7","location":[{},{},{}]}}"#,
        item(10, 3),
        item(11, 1),
        item(12, 2)
    );
    let decoded = decode(&post_json(body.as_bytes())).unwrap();
    let got: Vec<(f64, i64)> = decoded
        .positions
        .iter()
        .map(|p| (p.latitude, p.fix_time.as_millis() % 10_000))
        .collect();
    assert_eq!(got, vec![(10.0, 3000), (11.0, 1000), (12.0, 2000)]);
    assert!(decoded.positions.iter().all(|p| p.valid && p.speed == 1.5));
}

#[test]
fn time_forms_agree() {
    let instant = 1_377_177_267_000;
    for timestamp in [
        "1377177267",
        "1377177267000",
        "2013-08-22T13:14:27Z",
        "2013-08-22T13%3A14%3A27.000Z",
        "2013-08-22T15:14:27%2B02:00",
        "2013-08-22+13:14:27",
    ] {
        let query = format!("id=1&lat=1&lon=1&timestamp={timestamp}");
        let position = one(&get(&query));
        assert_eq!(position.fix_time.as_millis(), instant, "{timestamp}");
        assert_eq!(position.device_time, position.fix_time);
    }
    let body = location("").replace("2024-05-01T12:00:00Z", "2013-08-22T13:14:27Z");
    let json = format!(r#"{{"device_id":"1","location":{body}}}"#);
    assert_eq!(
        one(&post_json(json.as_bytes())).fix_time.as_millis(),
        instant
    );
    // No timestamp: the receive time.
    assert_eq!(one(&get("id=1&lat=1&lon=1")).fix_time, NOW);
}

#[test]
fn query_fields_and_units() {
    let position = one(&get(
        "id=9&lat=-33.5&lon=151.25&speed=10&bearing=-90&altitude=12.5&accuracy=4\
         &hdop=1.5&batt=87&charge=TRUE&driverUniqueId=00ab&valid=0\
         &ignition=true&rpm=933&note=hello+world%21&notificationToken=xyz",
    ));
    assert_eq!(position.protocol, trackd_model::Protocol::OsmAnd);
    assert_eq!((position.latitude, position.longitude), (-33.5, 151.25));
    assert!((position.speed - 10.0 * 1852.0 / 3600.0).abs() < 1e-12);
    assert_eq!(position.course, 270.0);
    assert_eq!(position.altitude, 12.5);
    assert!(!position.valid);
    assert_eq!(attr(&position, "accuracy"), Some(AttrValueRef::Float(4.0)));
    assert_eq!(attr(&position, "hdop"), Some(AttrValueRef::Float(1.5)));
    assert_eq!(
        attr(&position, "batteryLevel"),
        Some(AttrValueRef::Float(87.0))
    );
    assert_eq!(attr(&position, "charge"), Some(AttrValueRef::Bool(true)));
    assert_eq!(
        attr(&position, "driverUniqueId"),
        Some(AttrValueRef::Str("00ab"))
    );
    assert_eq!(attr(&position, "ignition"), Some(AttrValueRef::Bool(true)));
    assert_eq!(attr(&position, "rpm"), Some(AttrValueRef::Float(933.0)));
    assert_eq!(
        attr(&position, "note"),
        Some(AttrValueRef::Str("hello world!"))
    );
    assert_eq!(attr(&position, "notificationToken"), None);

    // Parameters in a form body when the query has none.
    let form = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        content_type: Some("application/x-www-form-urlencoded"),
        body: b"deviceid=5&location=60.5,30.25&heading=90",
    };
    let decoded = decode(&form).unwrap();
    assert_eq!(decoded.unique_id, "5");
    let position = &decoded.positions[0];
    assert_eq!(
        (position.latitude, position.longitude, position.course),
        (60.5, 30.25, 90.0)
    );
    assert!(position.valid);
}

#[test]
fn report_without_fix_keeps_network_and_attributes() {
    let position = one(&get(
        "id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90\
         &wifi=00-14-22-01-23-45,-80&batt=50",
    ));
    assert!(!position.valid);
    assert_eq!(position.fix_time.as_millis(), 0);
    assert_eq!(position.device_time.as_millis(), 1_377_177_267_000);
    assert_eq!((position.latitude, position.longitude), (0.0, 0.0));
    assert_eq!(
        attr(&position, "batteryLevel"),
        Some(AttrValueRef::Float(50.0))
    );
    let Some(AttrValueRef::Str(network)) = position.attributes.get_known(KnownKey::Network) else {
        panic!("no network");
    };
    let network: serde_json::Value = serde_json::from_str(network).unwrap();
    assert_eq!(network["cellTowers"].as_array().map(Vec::len), Some(2));
    assert_eq!(network["cellTowers"][0]["mobileNetworkCode"], 2);
    assert_eq!(network["cellTowers"][1]["signalStrength"], -90);
    assert_eq!(
        network["wifiAccessPoints"][0]["macAddress"],
        "00:14:22:01:23:45"
    );
}

#[test]
fn json_fields_map_as_traccar_maps_them() {
    let body = br#"{"device_id":"48241179","location":{
        "timestamp":"2021-07-21T08:06:34.444Z","odometer":1234.9,"event":"motionchange",
        "is_moving":true,"mock":true,"alarm":"sos",
        "coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,
                  "heading":63,"altitude":35.7,"floor":null},
        "battery":{"is_charging":true,"level":0.29},"activity":{"type":"in_vehicle"},
        "extras":{"s":"x","b":false,"i":12,"f":1.5,"alarm":"ignored","n":null,"a":[1]}}}"#;
    let position = one(&post_json(body));
    assert!(position.valid);
    assert_eq!(position.fix_time.as_millis(), 1_626_854_794_444);
    assert_eq!(
        (position.latitude, position.longitude),
        (-6.1148096, 106.6837015)
    );
    assert_eq!(
        (position.speed, position.course, position.altitude),
        (18.67, 63.0, 35.7)
    );
    assert_eq!(attr(&position, "accuracy"), Some(AttrValueRef::Float(3.8)));
    assert_eq!(attr(&position, "odometer"), Some(AttrValueRef::Int(1234)));
    assert_eq!(
        attr(&position, "event"),
        Some(AttrValueRef::Str("motionchange"))
    );
    assert_eq!(attr(&position, "motion"), Some(AttrValueRef::Bool(true)));
    assert_eq!(attr(&position, "mock"), Some(AttrValueRef::Bool(true)));
    assert_eq!(attr(&position, "alarm"), Some(AttrValueRef::Str("sos")));
    assert_eq!(attr(&position, "batteryLevel"), Some(AttrValueRef::Int(29)));
    assert_eq!(attr(&position, "charge"), Some(AttrValueRef::Bool(true)));
    assert_eq!(
        attr(&position, "activity"),
        Some(AttrValueRef::Str("in_vehicle"))
    );
    assert_eq!(attr(&position, "s"), Some(AttrValueRef::Str("x")));
    assert_eq!(attr(&position, "b"), Some(AttrValueRef::Bool(false)));
    assert_eq!(attr(&position, "i"), Some(AttrValueRef::Int(12)));
    assert_eq!(attr(&position, "f"), Some(AttrValueRef::Float(1.5)));
    assert_eq!(attr(&position, "n"), None);
    assert_eq!(attr(&position, "a"), None);

    // Unknowns (-1) leave speed, course, accuracy and battery unset.
    let body = br#"{"device_id":"1","location":{"timestamp":"2025-05-09T04:11:30.579Z",
        "coords":{"latitude":1,"longitude":2,"speed":-1,"heading":-1,"accuracy":-1},
        "battery":{"level":-1,"is_charging":false}}}"#;
    let position = one(&post_json(body));
    assert_eq!((position.speed, position.course), (0.0, 0.0));
    assert!(position.attributes.is_empty(), "{:?}", position.attributes);

    // A location without coords is a report without a fix.
    let body = br#"{"device_id":1234,"location":{"timestamp":"2025-05-09T04:11:30Z"}}"#;
    let decoded = decode(&post_json(body)).unwrap();
    assert_eq!(decoded.unique_id, "1234");
    assert!(!decoded.positions[0].valid);
    assert_eq!(decoded.positions[0].fix_time.as_millis(), 0);
}

#[test]
fn json_without_content_type_is_sniffed() {
    let body = format!(r#"  {{"device_id":"3","location":{}}}"#, location(""));
    let request = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        content_type: None,
        body: body.as_bytes(),
    };
    assert_eq!(decode(&request).unwrap().unique_id, "3");
}

#[test]
fn encoders_round_trip_one_position() {
    let mut position = one(&get(
        "id=x&lat=52.5&lon=13.4&speed=12&bearing=45&altitude=30&timestamp=1700000000123&hdop=0.9\
         &batt=80&charge=true&driverUniqueId=d1&custom=text",
    ));
    let query = encode_query(&position, "dev 1&2");
    let decoded = decode(&get(&query)).unwrap();
    assert_eq!(decoded.unique_id, "dev 1&2");
    let back = &decoded.positions[0];
    assert!((back.speed - position.speed).abs() < 1e-9);
    let mut normalized = back.clone();
    normalized.speed = position.speed;
    assert_eq!(normalized, position);

    position.attributes = trackd_model::Attributes::new();
    let json = encode_json(std::slice::from_ref(&position), "dev");
    let decoded = decode(&post_json(json.as_bytes())).unwrap();
    assert_eq!(decoded.positions, vec![position]);
}
