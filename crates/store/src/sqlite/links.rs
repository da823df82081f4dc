//! Permission links and their resolution on SQLite.

use rusqlite::{params, Connection};
use trackd_model::{Link, Permitted, UserId};

use super::exists;
use crate::links::{from_row, of_user_sql, permitted_sql, to_row, touching_sql, Table};
use crate::StoreError;

/// Adds a link (nothing if present); `NotFound` if either end is missing.
pub(crate) fn link(conn: &Connection, link: Link) -> Result<(), StoreError> {
    let row = to_row(link);
    for (table, id) in [row.owner, row.property] {
        if !exists(conn, table, id)? {
            return Err(StoreError::NotFound);
        }
    }
    conn.execute(
        "INSERT INTO links (kind, owner_id, property_id) VALUES (?1, ?2, ?3) \
         ON CONFLICT DO NOTHING",
        params![row.kind, row.owner.1, row.property.1],
    )?;
    Ok(())
}

/// Removes a link; `NotFound` if absent.
pub(crate) fn unlink(conn: &Connection, link: Link) -> Result<(), StoreError> {
    let row = to_row(link);
    let removed = conn.execute(
        "DELETE FROM links WHERE kind = ?1 AND owner_id = ?2 AND property_id = ?3",
        params![row.kind, row.owner.1, row.property.1],
    )?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn of_user(conn: &Connection, user_id: UserId) -> Result<Vec<Link>, StoreError> {
    select(conn, &of_user_sql("?1"), user_id)
}

/// The links with the row `id` of `table` at either end, sorted.
pub(crate) fn touching(conn: &Connection, table: Table, id: i64) -> Result<Vec<Link>, StoreError> {
    select(conn, &touching_sql(table, "?1"), id)
}

fn select(conn: &Connection, sql: &str, id: i64) -> Result<Vec<Link>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement
        .query_map([id], |row| {
            Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut links = rows
        .iter()
        .map(|(kind, owner, property)| from_row(kind, *owner, *property))
        .collect::<Result<Vec<_>, _>>()?;
    links.sort();
    Ok(links)
}

/// Resolves what `user_id` may see (run inside one read transaction).
pub(crate) fn permitted(conn: &Connection, user_id: UserId) -> Result<Permitted, StoreError> {
    let mut columns = Vec::with_capacity(4);
    for sql in permitted_sql("?1") {
        let mut statement = conn.prepare_cached(&sql)?;
        let ids = statement
            .query_map([user_id], |row| row.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        columns.push(ids);
    }
    let mut columns = columns.into_iter();
    Ok(Permitted {
        managed_users: columns.next().unwrap_or_default(),
        groups: columns.next().unwrap_or_default(),
        devices: columns.next().unwrap_or_default(),
        geofences: columns.next().unwrap_or_default(),
    })
}
