//! Arbitrary bytes as one Teltonika TCP data frame, and as a bare data field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_protocols::teltonika::{decode_avl_records, decode_tcp_frame, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let _ = decode_tcp_frame(data, &DecodeOptions::default());
    let _ = decode_tcp_frame(data, &DecodeOptions { raw_io: true });
    let _ = decode_avl_records(data);
});
