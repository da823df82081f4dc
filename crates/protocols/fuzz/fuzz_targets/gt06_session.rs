//! Arbitrary bytes, after an accepted login, split at the first byte's
//! value, into a GT06 session through the `Session` contract.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_model::Timestamp;
use trackd_protocols::gt06::{encode_login, Gt06Session};
use trackd_protocols::{Output, Session, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let mut session = Gt06Session::new(&SessionConfig::default());
    let now = Timestamp::from_millis(1_767_225_600_000);
    session.handle_bytes(now, &encode_login("356307042441013", 1));
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    for chunk in [&data[..split], &data[split..]] {
        session.handle_bytes(now, chunk);
        while let Some(output) = session.poll() {
            if let Output::Identified(_) = output {
                session.accept(true);
            }
        }
    }
});
