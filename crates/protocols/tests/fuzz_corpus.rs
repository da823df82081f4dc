//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`)
//! through every decoder (Teltonika and GT06): no panic, the UDP seed
//! still decodes and every GT06 seed yields records.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;

use trackd_protocols::{Output, Session, SessionConfig};

use trackd_model::Timestamp;
use trackd_protocols::gt06::{encode_login, Gt06Session};
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
    let now = Timestamp::from_millis(1_767_225_600_000);
    let mut gt06 = Gt06Session::new(&SessionConfig::default());
    gt06.handle_bytes(now, &encode_login("356307042441013", 1));
    for chunk in bytes.chunks(7) {
        gt06.handle_bytes(now, chunk);
        while let Some(output) = gt06.poll() {
            if let Output::Identified(_) = output {
                gt06.accept(true);
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
    // The GT06 seeds are well-formed sessions: each yields records.
    for seed in std::fs::read_dir(corpus.join("gt06_session"))
        .expect("gt06 corpus")
        .flatten()
    {
        let bytes = std::fs::read(seed.path()).expect("gt06 seed");
        let mut session = Gt06Session::new(&SessionConfig::default());
        session.handle_bytes(Timestamp::from_millis(1_767_225_600_000), &bytes);
        let mut records = 0;
        while let Some(output) = session.poll() {
            match output {
                Output::Identified(_) => session.accept(true),
                Output::Records { records: r, .. } => records += r.len(),
                _ => {}
            }
        }
        assert!(records > 0, "{} yields no records", seed.path().display());
    }
    println!("replayed {replayed} corpus files");
}
