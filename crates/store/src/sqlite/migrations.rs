//! Versioned schema migrations, applied in order at open.
//!
//! `schema_version` holds one row per applied version. Each migration runs
//! in its own IMMEDIATE transaction together with its version row, so two
//! processes opening the same file cannot both apply it.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// (version, SQL); never edit a released entry, only append.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        // Accounts, groups, geofences, permission links, events, API tokens,
        // sessions and server settings (the Traccar API's registry).
        // `devices` is rebuilt with AUTOINCREMENT so a deleted device's id is
        // never reused: its positions outlive it and ids key positions.
        // Referential integrity is kept by the store's code, in one
        // transaction per change, the same on both backends.
        "CREATE TABLE devices_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        unique_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        group_id INTEGER,
        phone TEXT,
        model TEXT,
        contact TEXT,
        category TEXT,
        expiration_time INTEGER,
        attributes TEXT NOT NULL DEFAULT '{}'
    );
    INSERT INTO devices_v2 (id, unique_id, name, disabled, created)
        SELECT id, unique_id, name, disabled, created FROM devices;
    DROP TABLE devices;
    ALTER TABLE devices_v2 RENAME TO devices;
    CREATE INDEX devices_group ON devices (group_id);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        phone TEXT,
        administrator INTEGER NOT NULL DEFAULT 0,
        readonly INTEGER NOT NULL DEFAULT 0,
        device_readonly INTEGER NOT NULL DEFAULT 0,
        limit_commands INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        expiration_time INTEGER,
        device_limit INTEGER NOT NULL DEFAULT -1,
        user_limit INTEGER NOT NULL DEFAULT 0,
        attributes TEXT NOT NULL DEFAULT '{}',
        password_hash TEXT,
        created INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX users_email ON users (lower(email));
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        group_id INTEGER,
        attributes TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX groups_parent ON groups (group_id);
    CREATE TABLE geofences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        description TEXT,
        area TEXT NOT NULL,
        calendar_id INTEGER,
        attributes TEXT NOT NULL DEFAULT '{}'
    );
    -- Permission links of every kind (see src/links.rs for the kind codes).
    CREATE TABLE links (
        kind TEXT NOT NULL,
        owner_id INTEGER NOT NULL,
        property_id INTEGER NOT NULL,
        PRIMARY KEY (kind, owner_id, property_id)
    ) WITHOUT ROWID;
    CREATE INDEX links_property ON links (kind, property_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_type TEXT NOT NULL,
        event_time INTEGER NOT NULL,
        device_id INTEGER NOT NULL,
        position_id INTEGER,
        geofence_id INTEGER,
        maintenance_id INTEGER,
        attributes TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_device_time ON events (device_id, event_time);
    -- Secrets are stored only as hex SHA-256 hashes.
    CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        expires INTEGER,
        created INTEGER NOT NULL
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_id);
    CREATE TABLE sessions (
        session_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE TABLE server_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        attributes TEXT NOT NULL
    );",
    ),
    (
        3,
        // Retention: chunks are found by time across all devices (purge
        // before T scans this index, not every device's), and a device's
        // sequence high-water mark outlives its purged chunks so position
        // ids are never reused.
        "CREATE INDEX position_chunks_time ON position_chunks (t_first);
    CREATE TABLE position_seq_floor (
        device_id INTEGER PRIMARY KEY,
        next_seq INTEGER NOT NULL
    );",
    ),
];

/// The newest schema version this build knows.
pub(crate) const LATEST_VERSION: i64 = 3;

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
