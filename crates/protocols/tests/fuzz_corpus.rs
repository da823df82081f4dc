//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`)
//! through every decoder: no panic, and the UDP seed still decodes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;

use trackd_protocols::teltonika::{
    decode_avl_records, decode_codec12_response, decode_tcp_frame, decode_udp, encode_imei,
    DecodeOptions, TcpEvent, TcpSession,
};

fn feed(bytes: &[u8]) {
    let options = DecodeOptions::default();
    let _ = decode_tcp_frame(bytes, &options);
    let _ = decode_tcp_frame(bytes, &DecodeOptions { raw_io: true });
    let _ = decode_avl_records(bytes);
    let _ = decode_udp(bytes, &options);
    let _ = decode_codec12_response(bytes);
    let mut session = TcpSession::new(options);
    session.handle_bytes(&encode_imei("356307042441013"));
    for chunk in bytes.chunks(7) {
        session.handle_bytes(chunk);
        while let Some(event) = session.poll_event() {
            if let TcpEvent::Imei(_) = event {
                session.accept_imei(true);
            }
        }
    }
}

#[test]
fn replay_fuzz_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for target in std::fs::read_dir(&corpus).expect("fuzz/corpus").flatten() {
        for input in std::fs::read_dir(target.path())
            .expect("corpus dir")
            .flatten()
        {
            feed(&std::fs::read(input.path()).expect("corpus file"));
            replayed += 1;
        }
    }
    assert!(replayed > 0, "empty corpus");
    let udp = std::fs::read(corpus.join("udp/codec8")).expect("udp seed");
    let packet = decode_udp(&udp, &DecodeOptions::default()).expect("udp seed decodes");
    assert_eq!(packet.ack.reply(), vec![0, 5, 0xCA, 0xFE, 1, 0x22, 1]);
    println!("replayed {replayed} corpus files");
}
