//! Permission links and their resolution on PostgreSQL.

use sqlx::{PgPool, Row};
use trackd_model::{Link, Permitted, UserId};

use super::exists;
use crate::links::{from_row, of_user_sql, permitted_sql, to_row, touching_sql, Table};
use crate::StoreError;

/// Adds a link (nothing if present); `NotFound` if either end is missing.
/// The ends are locked (`FOR KEY SHARE`) so a concurrent delete either
/// waits and then removes the new link too, or wins and this fails.
pub(crate) async fn link(pool: &PgPool, link: Link) -> Result<(), StoreError> {
    let row = to_row(link);
    let mut tx = pool.begin().await?;
    for (table, id) in [row.owner, row.property] {
        if !exists(&mut tx, table, id).await? {
            return Err(StoreError::NotFound);
        }
    }
    sqlx::query(
        "INSERT INTO links (kind, owner_id, property_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(row.kind)
    .bind(row.owner.1)
    .bind(row.property.1)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a link; `NotFound` if absent.
pub(crate) async fn unlink(pool: &PgPool, link: Link) -> Result<(), StoreError> {
    let row = to_row(link);
    let removed =
        sqlx::query("DELETE FROM links WHERE kind = $1 AND owner_id = $2 AND property_id = $3")
            .bind(row.kind)
            .bind(row.owner.1)
            .bind(row.property.1)
            .execute(pool)
            .await?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn of_user(pool: &PgPool, user_id: UserId) -> Result<Vec<Link>, StoreError> {
    select(pool, &of_user_sql("$1"), user_id).await
}

/// The links with the row `id` of `table` at either end, sorted.
pub(crate) async fn touching(
    pool: &PgPool,
    table: Table,
    id: i64,
) -> Result<Vec<Link>, StoreError> {
    select(pool, &touching_sql(table, "$1"), id).await
}

async fn select(pool: &PgPool, sql: &str, id: i64) -> Result<Vec<Link>, StoreError> {
    let rows = sqlx::query(sql).bind(id).fetch_all(pool).await?;
    let mut links = rows
        .iter()
        .map(|row| {
            let kind: String = row.try_get(0)?;
            from_row(&kind, row.try_get(1)?, row.try_get(2)?)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    links.sort();
    Ok(links)
}

/// Resolves what `user_id` may see, in one REPEATABLE READ snapshot.
pub(crate) async fn permitted(pool: &PgPool, user_id: UserId) -> Result<Permitted, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut columns = Vec::with_capacity(4);
    for sql in permitted_sql("$1") {
        let ids: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        columns.push(ids);
    }
    tx.commit().await?;
    let mut columns = columns.into_iter();
    Ok(Permitted {
        managed_users: columns.next().unwrap_or_default(),
        groups: columns.next().unwrap_or_default(),
        devices: columns.next().unwrap_or_default(),
        geofences: columns.next().unwrap_or_default(),
    })
}
