//! Arbitrary bytes as one Codec 12 / 13 response frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_protocols::teltonika::decode_codec12_response;

fuzz_target!(|data: &[u8]| {
    let _ = decode_codec12_response(data);
});
