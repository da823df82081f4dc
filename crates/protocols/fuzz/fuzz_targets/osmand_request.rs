//! One OsmAnd HTTP request through the session: byte 0 picks the content
//! type (none, JSON, form, other), the rest is `query '\n' body`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_model::Timestamp;
use trackd_protocols::{protocol, HttpRequest, Output, SessionConfig, Transport};

fuzz_target!(|data: &[u8]| {
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
    let query = String::from_utf8_lossy(query);
    let request = HttpRequest {
        method: "POST",
        path: "/",
        query: &query,
        content_type,
        body,
    };
    let Some(info) = protocol("osmand") else {
        return;
    };
    let mut session = (info.new_session)(Transport::Http, &SessionConfig::default());
    session.handle_request(Timestamp::from_millis(1_700_000_000_000), &request);
    let mut outputs = 0;
    while let Some(output) = session.poll() {
        outputs += 1;
        assert!(outputs <= 2);
        if let Output::Identified(_) = output {
            session.accept(true);
        }
    }
});
