//! Permission links and their resolution into what a user may see, for
//! both backends (the link ↔ row mapping and the SQL text are in
//! `crate::links`).

use trackd_model::{DeviceId, GeofenceId, GroupId, Link, Permitted, UserId};

use super::db::{params, Db};
use super::integrity::exists;
use crate::links::{from_row, of_user_sql, permitted_sql, to_row, touching_sql, Table};
use crate::StoreError;

/// Adds a link (nothing if present); `NotFound` if either end is missing.
/// Where the dialect locks the ends, a concurrent delete of one either
/// waits and then removes the new link too, or wins and this fails.
pub(crate) async fn link<D: Db>(db: &mut D, link: Link) -> Result<(), StoreError> {
    let row = to_row(link);
    for (table, id) in [row.owner, row.property] {
        if !exists(db, table, id).await? {
            return Err(StoreError::NotFound);
        }
    }
    db.execute(
        "INSERT INTO links (kind, owner_id, property_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        &params![row.kind, row.owner.1, row.property.1],
    )
    .await?;
    Ok(())
}

/// Removes a link; `NotFound` if absent.
pub(crate) async fn unlink<D: Db>(db: &mut D, link: Link) -> Result<(), StoreError> {
    let row = to_row(link);
    let removed = db
        .execute(
            "DELETE FROM links WHERE kind = $1 AND owner_id = $2 AND property_id = $3",
            &params![row.kind, row.owner.1, row.property.1],
        )
        .await?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The links the user owns, sorted.
pub(crate) async fn of_user<D: Db>(db: &mut D, user_id: UserId) -> Result<Vec<Link>, StoreError> {
    select(db, &of_user_sql("$1"), user_id.get()).await
}

/// The links with the row `id` of `table` at either end, sorted.
pub(crate) async fn touching<D: Db>(
    db: &mut D,
    table: Table,
    id: impl Into<i64>,
) -> Result<Vec<Link>, StoreError> {
    select(db, &touching_sql(table, "$1"), id.into()).await
}

async fn select<D: Db>(db: &mut D, sql: &str, id: i64) -> Result<Vec<Link>, StoreError> {
    let rows = db.fetch_all(sql, &params![id]).await?;
    let mut links = rows
        .iter()
        .map(|row| from_row(&row.text(0)?, row.int(1)?, row.int(2)?))
        .collect::<Result<Vec<_>, _>>()?;
    links.sort();
    Ok(links)
}

/// Every user that manages `user_id`, directly or through other managers
/// (cycles end; `user_id` itself excluded), sorted.
pub(crate) async fn managers_of<D: Db>(
    db: &mut D,
    user_id: UserId,
) -> Result<Vec<UserId>, StoreError> {
    let sql = "WITH RECURSIVE above(id) AS (
            SELECT owner_id FROM links WHERE kind = 'user_user' AND property_id = $1
            UNION
            SELECT l.owner_id FROM links l JOIN above a ON l.property_id = a.id
            WHERE l.kind = 'user_user'
        )
        SELECT id FROM users WHERE id IN (SELECT id FROM above) AND id <> $1 ORDER BY id";
    let rows = db.fetch_all(sql, &params![user_id]).await?;
    rows.iter().map(|row| row.int(0).map(UserId)).collect()
}

/// Resolves what `user_id` may see; the caller runs it in one snapshot so
/// the four lists agree.
pub(crate) async fn permitted<D: Db>(db: &mut D, user_id: UserId) -> Result<Permitted, StoreError> {
    let [users, groups, devices, geofences] = permitted_sql("$1");
    let mut ids = async |sql: String| -> Result<Vec<i64>, StoreError> {
        let rows = db.fetch_all(&sql, &params![user_id]).await?;
        rows.iter().map(|row| row.int(0)).collect()
    };
    Ok(Permitted {
        managed_users: ids(users).await?.into_iter().map(UserId).collect(),
        groups: ids(groups).await?.into_iter().map(GroupId).collect(),
        devices: ids(devices).await?.into_iter().map(DeviceId).collect(),
        geofences: ids(geofences).await?.into_iter().map(GeofenceId).collect(),
    })
}
