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
        // Test modules: a `tests/` folder or a `tests.rs` file.
        .filter(|path| {
            !path
                .components()
                .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "tests.rs")
        })
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
    for forbidden in ["tokio", "serde_json", "axum", "trackd-"] {
        assert!(
            !deps.contains(forbidden),
            "crates/model must not depend on {forbidden}"
        );
    }
    // Only for the ids' SQL value traits, which the store switches on.
    for database in ["rusqlite", "sqlx"] {
        for line in deps.lines().filter(|line| line.contains(database)) {
            assert!(
                line.contains("optional = true"),
                "crates/model may depend on {database} only optionally: {line}"
            );
        }
    }
}

#[test]
fn sql_stays_in_store() {
    for krate in ["protocols", "server", "simulator"] {
        let deps = dependencies_section(&manifest(krate));
        assert!(
            !deps.contains("rusqlite") && !deps.contains("sqlx"),
            "crates/{krate} must not talk to a database directly"
        );
    }
    // The model only says how its ids bind and decode, in one file.
    for (path, code) in non_test_sources("model") {
        if path.ends_with("sql.rs") {
            continue;
        }
        assert!(
            !code.contains("rusqlite") && !code.contains("sqlx"),
            "{}: the model names a database outside src/sql.rs",
            path.display()
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

/// Code of the files under `crates/<krate>/src/<sub>`, tests cut off.
fn sources_under(krate: &str, sub: &str) -> Vec<(PathBuf, String)> {
    let root = workspace_root().join("crates").join(krate).join("src");
    non_test_sources(krate)
        .into_iter()
        .filter(|(path, _)| path.starts_with(root.join(sub)))
        .collect()
}

#[test]
fn ingest_names_no_protocol() {
    // One loop per transport serves every protocol: adding a protocol is a
    // folder in crates/protocols and a registration line, never a change here.
    let names: Vec<String> = ["teltonika", "gt06", "osmand", "concox", "imei", "codec"]
        .iter()
        .map(|n| n.to_string())
        .collect();
    let files = sources_under("server", "ingest");
    assert!(!files.is_empty(), "crates/server/src/ingest is missing");
    for (path, code) in files {
        let lower = code.to_lowercase();
        for name in &names {
            assert!(
                !lower.contains(name.as_str()),
                "{} names a protocol ({name}): listener code must stay protocol-free",
                path.display()
            );
        }
    }
}

#[test]
fn personal_data_is_read_only_through_access() {
    // The store's position and event reads are called from the access layer
    // only, so no route, socket, report or command can skip the viewer's
    // scope, privacy mask and audit.
    let reads = [
        ".positions(",
        ".latest_position(",
        ".latest_positions(",
        ".latest_references(",
        ".count_positions_in(",
        ".position_by_id(",
        ".events(",
        ".events_in(",
        ".count_events(",
        ".event(",
    ];
    let access = workspace_root().join("crates/server/src/access");
    let mut checked = 0;
    for krate in ["server", "trackd", "simulator"] {
        for (path, code) in non_test_sources(krate) {
            if path.starts_with(&access) {
                continue;
            }
            checked += 1;
            for read in reads {
                for (at, _) in code.match_indices(read) {
                    // `access.positions(...)` (on one line or a chain over
                    // several) is the read path itself.
                    let receiver = code[..at].trim_end();
                    let line = code[..at].lines().count();
                    assert!(
                        receiver.ends_with("access"),
                        "{}:{line}: `{read}` outside crates/server/src/access: read personal data through access::Access",
                        path.display(),
                    );
                }
            }
        }
    }
    assert!(checked > 10);
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
