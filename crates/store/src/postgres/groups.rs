//! Device groups on PostgreSQL.

use sqlx::{PgConnection, PgPool, Row};
use trackd_model::{Group, GroupFields, GroupId, JsonObject};

use super::exists;
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const FIELDS: &str = "id, name, group_id, attributes";

fn group_from_row(row: &sqlx::postgres::PgRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        group_id: row.try_get(2)?,
        attributes: JsonObject(row.try_get(3)?),
    })
}

/// `InvalidInput` unless `parent` exists and `id` is not `parent` nor one of
/// its ancestors. The caller holds the groups lock, so the tree cannot
/// change meanwhile.
async fn check_parent(
    conn: &mut PgConnection,
    id: Option<GroupId>,
    parent: Option<GroupId>,
) -> Result<(), StoreError> {
    let Some(parent) = parent else {
        return Ok(());
    };
    if !exists(conn, Table::Groups, parent).await? {
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
        let parent_of: Option<Option<GroupId>> =
            sqlx::query_scalar("SELECT group_id FROM groups WHERE id = $1")
                .bind(ancestor)
                .fetch_optional(&mut *conn)
                .await?;
        current = parent_of.flatten();
    }
    Ok(())
}

/// Serialises changes of the group tree (reads go on).
async fn lock_tree(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("LOCK TABLE groups IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert(pool: &PgPool, fields: &GroupFields) -> Result<Group, StoreError> {
    let mut tx = pool.begin().await?;
    lock_tree(&mut tx).await?;
    check_parent(&mut tx, None, fields.group_id).await?;
    let row = sqlx::query(&format!(
        "INSERT INTO groups (name, group_id, attributes) VALUES ($1, $2, $3) RETURNING {FIELDS}"
    ))
    .bind(&fields.name)
    .bind(fields.group_id)
    .bind(fields.attributes.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let group = group_from_row(&row)?;
    tx.commit().await?;
    Ok(group)
}

pub(crate) async fn update(
    pool: &PgPool,
    id: GroupId,
    fields: &GroupFields,
) -> Result<Group, StoreError> {
    let mut tx = pool.begin().await?;
    lock_tree(&mut tx).await?;
    if !exists(&mut tx, Table::Groups, id).await? {
        return Err(StoreError::NotFound);
    }
    check_parent(&mut tx, Some(id), fields.group_id).await?;
    let row = sqlx::query(&format!(
        "UPDATE groups SET name = $1, group_id = $2, attributes = $3 WHERE id = $4 \
         RETURNING {FIELDS}"
    ))
    .bind(&fields.name)
    .bind(fields.group_id)
    .bind(fields.attributes.as_str())
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let group = group_from_row(&row)?;
    tx.commit().await?;
    Ok(group)
}

/// Deletes a group: its devices and subgroups lose their group, its links go.
pub(crate) async fn delete(pool: &PgPool, id: GroupId) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    lock_tree(&mut tx).await?;
    let deleted = sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    for sql in [
        "UPDATE devices SET group_id = NULL WHERE group_id = $1".to_owned(),
        "UPDATE groups SET group_id = NULL WHERE group_id = $1".to_owned(),
        cleanup_sql(Table::Groups, "$1"),
    ] {
        sqlx::query(&sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn by_id(pool: &PgPool, id: GroupId) -> Result<Option<Group>, StoreError> {
    let row = sqlx::query(&format!("SELECT {FIELDS} FROM groups WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(group_from_row).transpose()
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<Group>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {FIELDS} FROM groups ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(group_from_row).collect()
}
