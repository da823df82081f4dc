//! Tidy tests: the crate's architecture invariants, checked under `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `protocols` is sans-IO: no async runtime in its dependencies.
#[test]
fn no_tokio_dependency() {
    let manifest = read("Cargo.toml");
    assert!(
        !manifest.contains("tokio"),
        "crates/protocols/Cargo.toml must not depend on tokio"
    );
}

/// No socket or clock types in the decoders.
#[test]
fn no_io_or_clock_in_sources() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("source file");
            // Comments may name what the crate avoids.
            let text: String = source
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for banned in ["std::net", "SystemTime", "Instant::now", "tokio", "std::fs"] {
                assert!(!text.contains(banned), "{} uses {banned}", path.display());
            }
        }
    }
}
