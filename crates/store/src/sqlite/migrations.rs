//! Versioned schema migrations, applied in order at open.
//!
//! `schema_version` holds one row per applied version. Each migration runs
//! in its own IMMEDIATE transaction together with its version row, so two
//! processes opening the same file cannot both apply it.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// (version, SQL); never edit a released entry, only append.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        unique_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL
    );
    -- Group-committed appends, one row per append request, in commit order.
    CREATE TABLE ingest_log (
        seq INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL,
        seq_first INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    -- Per-device, time-ordered, non-overlapping runs of positions.
    CREATE TABLE position_chunks (
        id INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL,
        t_first INTEGER NOT NULL,
        t_last INTEGER NOT NULL,
        seq_min INTEGER NOT NULL,
        seq_max INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX position_chunks_device_time ON position_chunks (device_id, t_first);",
)];

/// The newest schema version this build knows.
pub(crate) const LATEST_VERSION: i64 = 1;

fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )?)
}

/// Brings the schema up to [`LATEST_VERSION`].
pub(crate) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    for &(version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = current_version(&tx)?;
        if current > LATEST_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: LATEST_VERSION,
            });
        }
        if current >= version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied sqlite migration");
    }
    Ok(())
}
