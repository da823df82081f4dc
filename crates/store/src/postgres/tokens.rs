//! API tokens, sessions and server settings on PostgreSQL. Only hashes of
//! the secrets are stored.

use sqlx::PgPool;
use trackd_model::{JsonObject, Timestamp, User, UserId};

use super::{conflict, exists, users};
use crate::links::Table;
use crate::StoreError;

pub(crate) async fn create_token(
    pool: &PgPool,
    user_id: UserId,
    token_hash: &str,
    expires: Option<Timestamp>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    if !exists(&mut tx, Table::Users, user_id).await? {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, expires, created) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(expires.map(Timestamp::as_millis))
    .bind(crate::now_millis())
    .execute(&mut *tx)
    .await
    .map_err(|error| conflict(error, || "api token".to_owned()))?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn user_by_token(
    pool: &PgPool,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    let user_id: Option<UserId> = sqlx::query_scalar(
        "SELECT user_id FROM api_tokens \
         WHERE token_hash = $1 AND (expires IS NULL OR expires > $2)",
    )
    .bind(token_hash)
    .bind(now.as_millis())
    .fetch_optional(pool)
    .await?;
    match user_id {
        Some(id) => users::by_id(pool, id).await,
        None => Ok(None),
    }
}

pub(crate) async fn create_session(
    pool: &PgPool,
    user_id: UserId,
    session_hash: &str,
    expires: Timestamp,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    if !exists(&mut tx, Table::Users, user_id).await? {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO sessions (session_hash, user_id, expires, created) VALUES ($1, $2, $3, $4)",
    )
    .bind(session_hash)
    .bind(user_id)
    .bind(expires.as_millis())
    .bind(crate::now_millis())
    .execute(&mut *tx)
    .await
    .map_err(|error| conflict(error, || "session".to_owned()))?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn user_by_session(
    pool: &PgPool,
    session_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    let user_id: Option<UserId> =
        sqlx::query_scalar("SELECT user_id FROM sessions WHERE session_hash = $1 AND expires > $2")
            .bind(session_hash)
            .bind(now.as_millis())
            .fetch_optional(pool)
            .await?;
    match user_id {
        Some(id) => users::by_id(pool, id).await,
        None => Ok(None),
    }
}

/// Removes a session; nothing if it is already gone.
pub(crate) async fn delete_session(pool: &PgPool, session_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
        .bind(session_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes sessions and tokens expired at `now`; returns how many.
pub(crate) async fn purge_expired(pool: &PgPool, now: Timestamp) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    let tokens = sqlx::query("DELETE FROM api_tokens WHERE expires IS NOT NULL AND expires <= $1")
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(sessions.rows_affected() + tokens.rows_affected())
}

pub(crate) async fn server_settings(pool: &PgPool) -> Result<JsonObject, StoreError> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT attributes FROM server_settings WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    Ok(text.map(JsonObject).unwrap_or_default())
}

pub(crate) async fn set_server_settings(
    pool: &PgPool,
    settings: &JsonObject,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO server_settings (id, attributes) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET attributes = EXCLUDED.attributes",
    )
    .bind(settings.as_str())
    .execute(pool)
    .await?;
    Ok(())
}
