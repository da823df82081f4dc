//! Users on PostgreSQL.

use sqlx::{PgPool, Row};
use trackd_model::{JsonObject, Timestamp, User, UserFields, UserId};

use super::conflict;
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const FIELDS: &str = "id, name, email, phone, administrator, readonly, device_readonly, \
                      limit_commands, disabled, expiration_time, device_limit, user_limit, \
                      attributes";

fn user_from_row(row: &sqlx::postgres::PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        email: row.try_get(2)?,
        phone: row.try_get(3)?,
        administrator: row.try_get(4)?,
        readonly: row.try_get(5)?,
        device_readonly: row.try_get(6)?,
        limit_commands: row.try_get(7)?,
        disabled: row.try_get(8)?,
        expiration_time: row.try_get::<Option<i64>, _>(9)?.map(Timestamp),
        device_limit: row.try_get(10)?,
        user_limit: row.try_get(11)?,
        attributes: JsonObject(row.try_get(12)?),
    })
}

pub(crate) async fn insert(
    pool: &PgPool,
    fields: &UserFields,
    password_hash: Option<&str>,
) -> Result<User, StoreError> {
    let row = sqlx::query(&format!(
        "INSERT INTO users (name, email, phone, administrator, readonly, device_readonly, \
         limit_commands, disabled, expiration_time, device_limit, user_limit, attributes, \
         password_hash, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING {FIELDS}"
    ))
    .bind(&fields.name)
    .bind(&fields.email)
    .bind(&fields.phone)
    .bind(fields.administrator)
    .bind(fields.readonly)
    .bind(fields.device_readonly)
    .bind(fields.limit_commands)
    .bind(fields.disabled)
    .bind(fields.expiration_time.map(Timestamp::as_millis))
    .bind(fields.device_limit)
    .bind(fields.user_limit)
    .bind(fields.attributes.as_str())
    .bind(password_hash)
    .bind(crate::now_millis())
    .fetch_one(pool)
    .await
    .map_err(|error| conflict(error, || format!("user {}", fields.email)))?;
    user_from_row(&row)
}

pub(crate) async fn update(
    pool: &PgPool,
    id: UserId,
    fields: &UserFields,
) -> Result<User, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE users SET name = $1, email = $2, phone = $3, administrator = $4, \
         readonly = $5, device_readonly = $6, limit_commands = $7, disabled = $8, \
         expiration_time = $9, device_limit = $10, user_limit = $11, attributes = $12 \
         WHERE id = $13 RETURNING {FIELDS}"
    ))
    .bind(&fields.name)
    .bind(&fields.email)
    .bind(&fields.phone)
    .bind(fields.administrator)
    .bind(fields.readonly)
    .bind(fields.device_readonly)
    .bind(fields.limit_commands)
    .bind(fields.disabled)
    .bind(fields.expiration_time.map(Timestamp::as_millis))
    .bind(fields.device_limit)
    .bind(fields.user_limit)
    .bind(fields.attributes.as_str())
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(|error| conflict(error, || format!("user {}", fields.email)))?;
    user_from_row(&row.ok_or(StoreError::NotFound)?)
}

/// Deletes a user, its links, API tokens and sessions.
pub(crate) async fn delete(pool: &PgPool, id: UserId) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    for sql in [
        cleanup_sql(Table::Users, "$1"),
        "DELETE FROM api_tokens WHERE user_id = $1".to_owned(),
        "DELETE FROM sessions WHERE user_id = $1".to_owned(),
    ] {
        sqlx::query(&sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn by_id(pool: &PgPool, id: UserId) -> Result<Option<User>, StoreError> {
    let row = sqlx::query(&format!("SELECT {FIELDS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Case-insensitive, served by the unique index on `lower(email)`.
pub(crate) async fn by_email(pool: &PgPool, email: &str) -> Result<Option<User>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {FIELDS} FROM users WHERE lower(email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<User>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {FIELDS} FROM users ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(user_from_row).collect()
}

pub(crate) async fn count(pool: &PgPool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn password_hash(pool: &PgPool, id: UserId) -> Result<Option<String>, StoreError> {
    let hash: Option<Option<String>> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(hash.flatten())
}

pub(crate) async fn set_password_hash(
    pool: &PgPool,
    id: UserId,
    hash: &str,
) -> Result<(), StoreError> {
    let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(pool)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
