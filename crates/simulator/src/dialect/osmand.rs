//! OsmAnd over HTTP, as Traccar Client sends it: one request per fix, the
//! fix in the query string, over a keep-alive connection; a `200` (sent only
//! after the commit) is the acknowledgement.

use std::fmt::Write as _;

use trackd_model::{AttrValue, KnownKey, Position, Protocol, Timestamp};
use trackd_protocols::osmand::encode_query;

use super::http::parse_response;
use super::Conn;
use crate::client::DeviceError;
use crate::vehicle::Fix;

/// What the server said to one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `200`: stored.
    Stored,
    /// `503`: not stored, try again later.
    Busy,
    /// The server does not know the device.
    UnknownDevice,
    /// Any other status: the request itself was refused.
    Rejected(u16, String),
}

/// The position a phone running Traccar Client reports for `fix`: the
/// phone knows its location, accuracy and battery, not the vehicle's sensors.
pub fn position(fix: &Fix) -> Position {
    let time = Timestamp::from_millis(i64::try_from(fix.time_ms).unwrap_or(i64::MAX));
    let mut position = Position {
        protocol: Protocol::OsmAnd,
        fix_time: time,
        device_time: time,
        valid: true,
        latitude: fix.latitude,
        longitude: fix.longitude,
        altitude: fix.altitude_m,
        speed: fix.speed_mps,
        course: fix.course_deg,
        ..Position::default()
    };
    // An HDOP of 1 is roughly 5 m of horizontal error.
    let accuracy_m = (fix.hdop * 5.0 * 10.0).round() / 10.0;
    // The phone charges from the car while the ignition is on.
    let battery = (60.0 + (fix.battery_voltage_v - 4.0) * 200.0).clamp(5.0, 100.0) as i64;
    let attributes = &mut position.attributes;
    attributes.set(KnownKey::Accuracy, AttrValue::Float(accuracy_m));
    attributes.set(KnownKey::BatteryLevel, AttrValue::Int(battery));
    attributes.set(KnownKey::Charge, AttrValue::Bool(fix.ignition));
    position
}

/// An OsmAnd device's wire state: the `Host` header it sends.
#[derive(Debug)]
pub(crate) struct Osmand {
    host: String,
    /// The server said it closes the connection after its last answer.
    pub(crate) closing: bool,
}

impl Osmand {
    pub(crate) fn new(host: String) -> Osmand {
        Osmand {
            host,
            closing: false,
        }
    }

    /// One request of the first of `fixes` (one location per request).
    pub(crate) fn encode(&mut self, unique_id: &str, fixes: &[Fix], out: &mut Vec<u8>) {
        out.clear();
        let Some(fix) = fixes.first() else {
            return;
        };
        let query = encode_query(&position(fix), unique_id);
        let mut head = String::with_capacity(query.len() + 80);
        // Writing to a String cannot fail.
        let _ = write!(
            head,
            "POST /?{query} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            self.host
        );
        out.extend_from_slice(head.as_bytes());
    }

    /// Reads the answer to the request in flight.
    pub(crate) async fn await_answer(&mut self, conn: &mut Conn) -> Result<Answer, DeviceError> {
        let response = loop {
            match parse_response(conn.pending()) {
                Ok(Some(response)) => break response,
                Ok(None) => conn.fill().await?,
                Err(error) => return Err(DeviceError::BadReply(error.to_string())),
            }
        };
        conn.consume(response.len);
        self.closing = response.close;
        let body = String::from_utf8_lossy(&response.body);
        Ok(match response.status {
            200 => Answer::Stored,
            503 => Answer::Busy,
            400 if body.contains("unknown device") => Answer::UnknownDevice,
            status => Answer::Rejected(status, body.chars().take(200).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::vehicle::Vehicle;
    use trackd_protocols::{HttpRequest, Output, SessionConfig, Transport};

    #[test]
    fn requests_decode_as_the_fix() {
        let mut vehicle = Vehicle::new(8, 1_700_000_000_000);
        vehicle.advance_to(1_700_000_123_456);
        let fix = vehicle.fix();
        let mut wire = Osmand::new("127.0.0.1:5055".to_owned());
        let mut request = Vec::new();
        wire.encode("phone-7", &[fix], &mut request);
        let text = String::from_utf8(request).unwrap();
        assert!(
            text.starts_with("POST /?id=phone-7&timestamp=2023-11-14T22%3A15%3A23.456Z&"),
            "{text}"
        );
        assert!(text.ends_with("\r\nHost: 127.0.0.1:5055\r\nContent-Length: 0\r\n\r\n"));

        let line = text.lines().next().unwrap();
        let query = line
            .strip_prefix("POST /?")
            .unwrap()
            .strip_suffix(" HTTP/1.1")
            .unwrap();
        let info = trackd_protocols::osmand::PROTOCOL;
        let mut session = (info.new_session)(Transport::Http, &SessionConfig::default());
        let http = HttpRequest {
            method: "POST",
            path: "/",
            query,
            content_type: None,
            body: b"",
        };
        session.handle_request(Timestamp::from_millis(1_700_000_124_000), &http);
        assert!(matches!(session.poll(), Some(Output::Identified(id)) if id == "phone-7"));
        session.accept(true);
        let Some(Output::Records { records, .. }) = session.poll() else {
            panic!("no records");
        };
        let decoded = &records[0];
        assert_eq!(decoded.fix_time.as_millis(), 1_700_000_123_456);
        assert!((decoded.latitude - fix.latitude).abs() < 1e-9);
        assert!((decoded.speed - fix.speed_mps).abs() < 1e-6);
        assert!(decoded
            .attributes
            .get_known(KnownKey::BatteryLevel)
            .is_some());
    }
}
