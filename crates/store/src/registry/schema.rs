//! Registry tables added after schema version 2, written once for both
//! backends and applied at open, after the backend's own migrations.
//!
//! The backends' `migrations.rs` keep versions 1 and 2 (the registry as
//! first released) and everything about positions; their numbering is
//! theirs. Registry DDL added here has its own version track,
//! `registry_schema_version`, so a new registry table never has to be
//! spelled twice nor take a number in the positions sequence.
//!
//! DDL is written with dialect words in braces (see [`Db::DDL_WORDS`]):
//! `{id}` an auto-increment primary key that never reuses an id, `{int}` a
//! 64-bit integer, `{bool}`, `{false}`, `{true}`. The rest is SQL both
//! dialects read alike.

use super::db::{fetch_int, params, Db};
use crate::StoreError;

/// (registry version, DDL); never edit a released entry, only append.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[];

/// `ddl` with the dialect's words put in.
pub(crate) fn render<D: Db>(ddl: &str) -> String {
    D::DDL_WORDS
        .iter()
        .fold(ddl.to_owned(), |text, (word, spelling)| {
            text.replace(word, spelling)
        })
}

/// Brings the registry schema up to the last entry of `migrations` (run
/// in one write transaction; concurrent openers are serialised by it, and
/// on PostgreSQL by [`Db::LOCK_SCHEMA`]).
pub(crate) async fn apply<D: Db>(db: &mut D, migrations: &[(i64, &str)]) -> Result<(), StoreError> {
    if let Some(lock) = D::LOCK_SCHEMA {
        db.execute(lock, &[]).await?;
    }
    db.execute_script(&render::<D>(
        "CREATE TABLE IF NOT EXISTS registry_schema_version (version {int} NOT NULL)",
    ))
    .await?;
    let current = fetch_int(
        db,
        "SELECT COALESCE(MAX(version), 0) FROM registry_schema_version",
        &[],
    )
    .await?;
    let supported = migrations.last().map_or(0, |(version, _)| *version);
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for &(version, ddl) in migrations {
        if version <= current {
            continue;
        }
        db.execute_script(&render::<D>(ddl)).await?;
        db.execute(
            "INSERT INTO registry_schema_version (version) VALUES ($1)",
            &params![version],
        )
        .await?;
        tracing::info!(version, "applied registry migration");
    }
    Ok(())
}
