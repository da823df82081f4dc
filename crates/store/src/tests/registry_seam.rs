//! The registry's dialect seam on each backend: DDL written once, row
//! decoding, parameter numbering.

use crate::registry::db::Cell;
use crate::StoreError;

use super::Harness;

const PROBE: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE seam_probe (
            id {id},
            n {int} NOT NULL,
            flag {bool} NOT NULL DEFAULT {false},
            note TEXT
        )",
    ),
    (
        2,
        "ALTER TABLE seam_probe ADD COLUMN done {bool} NOT NULL DEFAULT {true}",
    ),
];

/// Registry DDL applies once per version, reads back typed, and a store
/// that knows fewer registry versions than the database refuses it.
pub(crate) async fn registry_schema_written_once(harness: &Harness) {
    let store = harness.open().await;
    store.apply_registry_schema(PROBE).await.expect("apply");
    store
        .apply_registry_schema(PROBE)
        .await
        .expect("apply again");
    let versions = store
        .registry_query(
            "SELECT version FROM registry_schema_version ORDER BY version",
            vec![],
        )
        .await
        .expect("versions");
    let versions: Vec<i64> = versions
        .iter()
        .map(|row| row.int(0).expect("int"))
        .collect();
    assert_eq!(versions, [1, 2]);

    let rows = store
        .registry_query(
            "INSERT INTO seam_probe (n) VALUES ($1) RETURNING id, n, flag, note, done",
            vec![i64::MAX],
        )
        .await
        .expect("insert");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.int(0).expect("id") > 0);
    assert_eq!(row.int(1).expect("n"), i64::MAX);
    assert!(!row.boolean(2).expect("flag"));
    assert_eq!(row.opt_text(3).expect("note"), None);
    assert!(row.boolean(4).expect("done"));
    assert!(matches!(row.int4(1), Err(StoreError::Corrupt(_))));

    let err = store
        .apply_registry_schema(&PROBE[..1])
        .await
        .expect_err("older build");
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 2,
                supported: 1
            }
        ),
        "{err:?}"
    );
    store.close().await.expect("close");
    // Every open applies the (real) registry schema; the probe's newer
    // versions make a build without them refuse the database.
    let reopened = crate::Store::open(&harness.config).await;
    assert!(matches!(reopened, Err(StoreError::SchemaTooNew { .. })));
}

/// A statement numbering its parameters out of first-appearance order is
/// refused (SQLite binds by position) or bound by number (PostgreSQL),
/// never bound to the wrong placeholder.
pub(crate) async fn parameters_bound_by_number(harness: &Harness) {
    let store = harness.open().await;
    match store.registry_query("SELECT $2, $1", vec![10, 20]).await {
        Ok(rows) => assert_eq!(rows[0].0, [Cell::Int(20), Cell::Int(10)]),
        Err(error) => assert!(
            harness.config.url.starts_with("sqlite:"),
            "refused on postgres: {error}"
        ),
    }
    let rows = store
        .registry_query("SELECT $1 + $2, $1", vec![1, 2])
        .await
        .expect("in order, reused");
    assert_eq!(rows[0].0, [Cell::Int(3), Cell::Int(1)]);
    store.close().await.expect("close");
}
