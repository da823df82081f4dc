//! Arbitrary bytes, after an accepted handshake, split at the first byte's
//! value, into a Teltonika TCP session.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_protocols::teltonika::{encode_imei, DecodeOptions, TcpEvent, TcpSession};

fuzz_target!(|data: &[u8]| {
    let mut session = TcpSession::new(DecodeOptions::default());
    session.handle_bytes(&encode_imei("356307042441013"));
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    for chunk in [&data[..split], &data[split..]] {
        session.handle_bytes(chunk);
        while let Some(event) = session.poll_event() {
            if let TcpEvent::Imei(_) = event {
                session.accept_imei(true);
            }
        }
    }
});
