//! Device groups on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use trackd_model::{Group, GroupFields, GroupId, JsonObject};

use super::exists;
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const COLUMNS: &str = "SELECT id, name, group_id, attributes FROM groups";

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: row.get(0)?,
        name: row.get(1)?,
        group_id: row.get(2)?,
        attributes: JsonObject(row.get(3)?),
    })
}

fn parent_of(conn: &Connection, id: GroupId) -> Result<Option<GroupId>, StoreError> {
    let parent: Option<Option<GroupId>> = conn
        .query_row("SELECT group_id FROM groups WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(parent.flatten())
}

/// `InvalidInput` unless `parent` exists and `id` is not `parent` nor one of its ancestors.
fn check_parent(
    conn: &Connection,
    id: Option<GroupId>,
    parent: Option<GroupId>,
) -> Result<(), StoreError> {
    let Some(parent) = parent else {
        return Ok(());
    };
    if !exists(conn, Table::Groups, parent)? {
        return Err(StoreError::InvalidInput(format!(
            "group {parent} does not exist"
        )));
    }
    let Some(id) = id else {
        return Ok(());
    };
    let mut seen = std::collections::HashSet::new();
    let mut current = Some(parent);
    while let Some(ancestor) = current {
        if ancestor == id {
            return Err(StoreError::InvalidInput(format!(
                "group {parent} is group {id} or one of its subgroups"
            )));
        }
        if !seen.insert(ancestor) {
            break; // a cycle already stored; not ours to report
        }
        current = parent_of(conn, ancestor)?;
    }
    Ok(())
}

pub(crate) fn insert(conn: &Connection, fields: &GroupFields) -> Result<Group, StoreError> {
    check_parent(conn, None, fields.group_id)?;
    conn.execute(
        "INSERT INTO groups (name, group_id, attributes) VALUES (?1, ?2, ?3)",
        params![fields.name, fields.group_id, fields.attributes.as_str()],
    )?;
    by_id(conn, conn.last_insert_rowid())?.ok_or(StoreError::NotFound)
}

pub(crate) fn update(
    conn: &Connection,
    id: GroupId,
    fields: &GroupFields,
) -> Result<Group, StoreError> {
    if !exists(conn, Table::Groups, id)? {
        return Err(StoreError::NotFound);
    }
    check_parent(conn, Some(id), fields.group_id)?;
    conn.execute(
        "UPDATE groups SET name = ?1, group_id = ?2, attributes = ?3 WHERE id = ?4",
        params![fields.name, fields.group_id, fields.attributes.as_str(), id],
    )?;
    by_id(conn, id)?.ok_or(StoreError::NotFound)
}

/// Deletes a group: its devices and subgroups lose their group, its links go.
pub(crate) fn delete(conn: &Connection, id: GroupId) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM groups WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound);
    }
    conn.execute(
        "UPDATE devices SET group_id = NULL WHERE group_id = ?1",
        [id],
    )?;
    conn.execute(
        "UPDATE groups SET group_id = NULL WHERE group_id = ?1",
        [id],
    )?;
    conn.execute(&cleanup_sql(Table::Groups, "?1"), [id])?;
    Ok(())
}

pub(crate) fn by_id(conn: &Connection, id: GroupId) -> Result<Option<Group>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?;
    Ok(statement.query_row([id], group_from_row).optional()?)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Group>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} ORDER BY id"))?;
    let groups = statement
        .query_map([], group_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(groups)
}
