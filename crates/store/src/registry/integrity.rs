//! Referential integrity, kept by the store's code (the schema has no
//! foreign keys) in the transaction of each change, the same on both
//! backends: a reference must exist when written, and a delete removes or
//! clears everything that referred to the deleted row.

use super::db::{params, Db};
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

/// Whether row `id` of `table` exists (locked where the dialect locks it).
pub(crate) async fn exists<D: Db>(
    db: &mut D,
    table: Table,
    id: impl Into<i64>,
) -> Result<bool, StoreError> {
    let id: i64 = id.into();
    let sql = format!(
        "SELECT 1 FROM {} WHERE id = $1{}",
        table.name(),
        D::LOCK_REFERENCED
    );
    Ok(db.fetch_optional(&sql, &params![id]).await?.is_some())
}

/// Deletes row `id` of `table`, every link to or from it, then runs
/// `dependents` (statements taking the id as `$1`); `NotFound` if absent.
pub(crate) async fn delete<D: Db>(
    db: &mut D,
    table: Table,
    id: impl Into<i64>,
    dependents: &[&str],
) -> Result<(), StoreError> {
    let id: i64 = id.into();
    let sql = format!("DELETE FROM {} WHERE id = $1", table.name());
    if db.execute(&sql, &params![id]).await? == 0 {
        return Err(StoreError::NotFound);
    }
    db.execute(&cleanup_sql(table, "$1"), &params![id]).await?;
    for sql in dependents {
        db.execute(sql, &params![id]).await?;
    }
    Ok(())
}
