//! Architecture invariants as tests (in the manner of rust-analyzer's tidy):
//! crate dependency rules, no SQL or wire formats outside their crates, no
//! `unwrap`/`expect` on input paths, formatting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest(krate: &str) -> String {
    std::fs::read_to_string(
        workspace_root()
            .join("crates")
            .join(krate)
            .join("Cargo.toml"),
    )
    .unwrap()
}

fn dependencies_section(manifest: &str) -> String {
    // Only [dependencies]: dev-dependencies may use anything.
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            inside = line.trim() == "[dependencies]";
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source of a crate's library code, with `#[cfg(test)]` modules cut off
/// (they sit at the end of a file by convention here).
fn non_test_sources(krate: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(
        &workspace_root().join("crates").join(krate).join("src"),
        &mut files,
    );
    files
        .into_iter()
        .filter(|path| !path.components().any(|c| c.as_os_str() == "tests"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(idx) => text[..idx].to_owned(),
                None => text,
            };
            (path, code)
        })
        .collect()
}

#[test]
fn protocols_is_sans_io() {
    let deps = dependencies_section(&manifest("protocols"));
    for forbidden in ["tokio", "mio", "async-std", "rusqlite", "sqlx", "chrono"] {
        assert!(
            !deps.contains(forbidden),
            "crates/protocols must not depend on {forbidden}: no I/O, no clock"
        );
    }
}

#[test]
fn model_depends_on_nothing_heavy() {
    let deps = dependencies_section(&manifest("model"));
    for forbidden in ["tokio", "serde_json", "rusqlite", "sqlx", "axum", "trackd-"] {
        assert!(
            !deps.contains(forbidden),
            "crates/model must not depend on {forbidden}"
        );
    }
}

#[test]
fn sql_stays_in_store() {
    for krate in ["model", "protocols", "server", "simulator"] {
        let deps = dependencies_section(&manifest(krate));
        assert!(
            !deps.contains("rusqlite") && !deps.contains("sqlx"),
            "crates/{krate} must not talk to a database directly"
        );
    }
}

#[test]
fn http_stays_in_server() {
    for krate in ["model", "protocols", "store", "simulator"] {
        let deps = dependencies_section(&manifest(krate));
        assert!(!deps.contains("axum"), "crates/{krate} must not know HTTP");
    }
}

#[test]
fn no_unwrap_on_input_paths() {
    for krate in ["protocols", "server", "store"] {
        for (path, code) in non_test_sources(krate) {
            for (idx, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                assert!(
                    !line.contains(".unwrap()") && !line.contains(".expect("),
                    "{}:{}: unwrap/expect on an input path",
                    path.display(),
                    idx + 1
                );
            }
        }
    }
}

#[test]
fn formatted() {
    let status = std::process::Command::new("cargo")
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(status) => assert!(
            status.success(),
            "cargo fmt --check failed: run `cargo fmt --all`"
        ),
        Err(err) => eprintln!("skipped: rustfmt not runnable ({err})"),
    }
}
