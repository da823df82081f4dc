//! Golden fixtures: every `test_data/<protocol>/<case>.hex` (a whole TCP
//! session from the device side) is fed through the protocol's `Session`
//! (looked up by folder name in the registry) split every way — whole,
//! byte by byte, and in seeded random chunks — and the rendered outputs
//! must be identical each time and equal `<case>.expect`.
//!
//! A missing expectation is written on the run; `UPDATE_EXPECT=1`
//! re-blesses them all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use trackd_model::{mps_to_knots, AttrValueRef, Position, Timestamp};
use trackd_protocols::{Output, SessionConfig, Transport};

/// The clock every golden session runs at (positions without a fix of
/// their own are stamped with it).
const NOW_MS: i64 = 1_767_225_600_000;

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
        .collect()
}

fn render_value(value: AttrValueRef<'_>) -> String {
    match value {
        AttrValueRef::Bool(b) => b.to_string(),
        AttrValueRef::Int(i) => i.to_string(),
        AttrValueRef::Decimal { .. } | AttrValueRef::Float(_) => {
            format!("{}", value.as_f64().unwrap_or(0.0))
        }
        AttrValueRef::Str(s) => format!("{s:?}"),
        AttrValueRef::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn render_position(out: &mut String, p: &Position) {
    let mut name = String::new();
    let _ = writeln!(
        out,
        "  time={} valid={} lat={:.7} lon={:.7} alt={} speed={:.2}kn course={}",
        p.fix_time.as_millis(),
        p.valid,
        p.latitude,
        p.longitude,
        p.altitude,
        mps_to_knots(p.speed),
        p.course
    );
    let attributes: Vec<String> = p
        .attributes
        .iter()
        .map(|(k, v)| format!("{}={}", k.name(&mut name), render_value(v)))
        .collect();
    let _ = writeln!(out, "    {}", attributes.join(" "));
}

/// Runs one session of `protocol` over `chunks`, accepting every
/// identification, and renders every output.
fn run(protocol: &str, chunks: &[&[u8]]) -> String {
    let info = trackd_protocols::protocol(protocol).expect("registered protocol");
    let mut session = (info.new_session)(Transport::Tcp, &SessionConfig::default());
    let now = Timestamp::from_millis(NOW_MS);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut out = String::new();
    for chunk in chunks {
        session.handle_bytes(now, chunk);
        while let Some(output) = session.poll() {
            match output {
                Output::Identified(id) => {
                    let _ = writeln!(out, "identified {id}");
                    session.accept(true);
                }
                Output::Reply(bytes) => {
                    let _ = writeln!(out, "reply {}", hex(&bytes));
                }
                Output::Records { records, ack } => {
                    let _ = writeln!(out, "records {} -> ack {}", records.len(), hex(&ack));
                    for position in &records {
                        render_position(&mut out, position);
                    }
                }
                Output::Notice(text) => {
                    let _ = writeln!(out, "notice: {text}");
                }
                Output::Rejected(e) => {
                    let _ = writeln!(out, "rejected: {e}");
                }
                Output::Close(e) => {
                    let _ = writeln!(out, "close: {e}");
                }
            }
        }
    }
    out
}

/// A small deterministic generator (xorshift), so the chunking is stable.
fn random_chunks(bytes: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut state = seed | 1;
    let mut chunks = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 40 + 1) as usize;
        let (head, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks
}

/// Compares `actual` with the expectation file, writing it when missing or
/// when `UPDATE_EXPECT=1`.
fn check(expect_path: &Path, actual: &str) {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    match std::fs::read_to_string(expect_path) {
        Ok(expected) if !update => {
            assert_eq!(
                expected,
                actual,
                "{} differs (UPDATE_EXPECT=1 re-blesses)",
                expect_path.display()
            );
        }
        _ => std::fs::write(expect_path, actual).expect("write expectation"),
    }
}

/// `(protocol, case)` for every fixture, protocol = folder name.
fn cases() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data");
    let mut cases = Vec::new();
    for dir in std::fs::read_dir(&root).expect("test_data").flatten() {
        let protocol = dir.file_name().to_string_lossy().into_owned();
        for entry in std::fs::read_dir(dir.path())
            .expect("protocol dir")
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "hex") {
                cases.push((protocol.clone(), path));
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn golden_fixtures_every_split() {
    let cases = cases();
    assert!(!cases.is_empty());
    for (protocol, case) in &cases {
        let bytes = unhex(&std::fs::read_to_string(case).expect("read fixture"));
        let whole = run(protocol, &[&bytes]);
        let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            whole,
            run(protocol, &byte_by_byte),
            "{}: byte-by-byte split differs",
            case.display()
        );
        for seed in 1..=16u64 {
            let chunks = random_chunks(&bytes, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert_eq!(
                whole,
                run(protocol, &chunks),
                "{}: random split {seed} differs",
                case.display()
            );
        }
        check(&case.with_extension("expect"), &whole);
    }
    println!("{} golden fixtures, 18 splits each", cases.len());
}
