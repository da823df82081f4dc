//! Arbitrary bytes as one Teltonika UDP datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_protocols::teltonika::{decode_udp, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let _ = decode_udp(data, &DecodeOptions::default());
});
