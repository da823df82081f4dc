//! Device groups: their SQL, the tree checks (no missing parent, no cycle)
//! and the delete cascade, for both backends.

use trackd_model::{Group, GroupFields, GroupId, JsonObject};

use super::db::{decode_one, params, Db, Row};
use super::integrity::{self, exists};
use crate::links::Table;
use crate::StoreError;

const COLUMNS: &str = "id, name, group_id, attributes";

fn from_row(row: &Row) -> Result<Group, StoreError> {
    Ok(Group {
        id: GroupId(row.int(0)?),
        name: row.text(1)?,
        group_id: row.opt_int(2)?.map(GroupId),
        attributes: JsonObject(row.text(3)?),
    })
}

/// Serialises changes of the group tree where the dialect needs it.
async fn lock_tree<D: Db>(db: &mut D) -> Result<(), StoreError> {
    if let Some(sql) = D::LOCK_GROUP_TREE {
        db.execute(sql, &[]).await?;
    }
    Ok(())
}

async fn parent_of<D: Db>(db: &mut D, id: GroupId) -> Result<Option<GroupId>, StoreError> {
    let row = db
        .fetch_optional("SELECT group_id FROM groups WHERE id = $1", &params![id])
        .await?;
    Ok(row
        .map(|row| row.opt_int(0))
        .transpose()?
        .flatten()
        .map(GroupId))
}

/// `InvalidInput` unless `parent` exists and `id` is not `parent` nor one
/// of its ancestors. The caller holds the tree lock, so the tree cannot
/// change meanwhile.
async fn check_parent<D: Db>(
    db: &mut D,
    id: Option<GroupId>,
    parent: Option<GroupId>,
) -> Result<(), StoreError> {
    let Some(parent) = parent else {
        return Ok(());
    };
    if !exists(db, Table::Groups, parent).await? {
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
        current = parent_of(db, ancestor).await?;
    }
    Ok(())
}

/// Creates a group; `InvalidInput` if the parent does not exist.
pub(crate) async fn insert<D: Db>(db: &mut D, fields: &GroupFields) -> Result<Group, StoreError> {
    lock_tree(db).await?;
    check_parent(db, None, fields.group_id).await?;
    let sql = format!(
        "INSERT INTO groups (name, group_id, attributes) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    );
    let params = params![&fields.name, fields.group_id, fields.attributes.as_str()];
    decode_one(db.fetch_optional(&sql, &params).await?, from_row)?.ok_or(StoreError::NotFound)
}

/// Replaces every field; `NotFound`, or `InvalidInput` if the parent is
/// missing or is the group itself or one of its subgroups.
pub(crate) async fn update<D: Db>(
    db: &mut D,
    id: GroupId,
    fields: &GroupFields,
) -> Result<Group, StoreError> {
    lock_tree(db).await?;
    if !exists(db, Table::Groups, id).await? {
        return Err(StoreError::NotFound);
    }
    check_parent(db, Some(id), fields.group_id).await?;
    let sql = format!(
        "UPDATE groups SET name = $1, group_id = $2, attributes = $3 WHERE id = $4 \
         RETURNING {COLUMNS}"
    );
    let params = params![
        &fields.name,
        fields.group_id,
        fields.attributes.as_str(),
        id
    ];
    decode_one(db.fetch_optional(&sql, &params).await?, from_row)?.ok_or(StoreError::NotFound)
}

/// Deletes a group: its devices and subgroups lose their group, its links go.
pub(crate) async fn delete<D: Db>(db: &mut D, id: GroupId) -> Result<(), StoreError> {
    lock_tree(db).await?;
    integrity::delete(
        db,
        Table::Groups,
        id,
        &[
            "UPDATE devices SET group_id = NULL WHERE group_id = $1",
            "UPDATE groups SET group_id = NULL WHERE group_id = $1",
        ],
    )
    .await
}

/// The group with this id.
pub(crate) async fn by_id<D: Db>(db: &mut D, id: GroupId) -> Result<Option<Group>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM groups WHERE id = $1");
    decode_one(db.fetch_optional(&sql, &params![id]).await?, from_row)
}

/// All groups, by id.
pub(crate) async fn all<D: Db>(db: &mut D) -> Result<Vec<Group>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM groups ORDER BY id");
    db.fetch_all(&sql, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}
