//! API tokens, sessions and the server settings object, for both
//! backends. Only hashes of the secrets are stored.

use trackd_model::{JsonObject, Timestamp, User, UserId};

use super::db::{conflict_as, params, Db, Param};
use super::integrity::exists;
use super::users;
use crate::links::Table;
use crate::StoreError;

/// Inserts a credential row `(hash, user_id, expires, created)`;
/// `NotFound` if the user does not exist, `Conflict` on a stored hash.
async fn insert_credential<D: Db>(
    db: &mut D,
    sql: &str,
    what: &str,
    (hash, user_id, expires): (&str, UserId, Param<'_>),
) -> Result<(), StoreError> {
    if !exists(db, Table::Users, user_id).await? {
        return Err(StoreError::NotFound);
    }
    let params = params![hash, user_id, expires, crate::now_millis()];
    db.execute(sql, &params)
        .await
        .map_err(conflict_as(|| what.to_owned()))?;
    Ok(())
}

/// The owner of a credential found by `sql` (`$1` hash, `$2` now).
async fn owner<D: Db>(
    db: &mut D,
    sql: &str,
    hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    match db.fetch_optional(sql, &params![hash, now]).await? {
        Some(row) => users::by_id(db, UserId(row.int(0)?)).await,
        None => Ok(None),
    }
}

/// Stores an API token hash.
pub(crate) async fn create_token<D: Db>(
    db: &mut D,
    user_id: UserId,
    token_hash: &str,
    expires: Option<Timestamp>,
) -> Result<(), StoreError> {
    insert_credential(
        db,
        "INSERT INTO api_tokens (token_hash, user_id, expires, created) VALUES ($1, $2, $3, $4)",
        "api token",
        (token_hash, user_id, expires.into()),
    )
    .await
}

/// The owner of an unexpired API token.
pub(crate) async fn user_by_token<D: Db>(
    db: &mut D,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    owner(
        db,
        "SELECT user_id FROM api_tokens WHERE token_hash = $1 AND (expires IS NULL OR expires > $2)",
        token_hash,
        now,
    )
    .await
}

/// Stores a session hash.
pub(crate) async fn create_session<D: Db>(
    db: &mut D,
    user_id: UserId,
    session_hash: &str,
    expires: Timestamp,
) -> Result<(), StoreError> {
    insert_credential(
        db,
        "INSERT INTO sessions (session_hash, user_id, expires, created) VALUES ($1, $2, $3, $4)",
        "session",
        (session_hash, user_id, expires.into()),
    )
    .await
}

/// The owner of an unexpired session.
pub(crate) async fn user_by_session<D: Db>(
    db: &mut D,
    session_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    owner(
        db,
        "SELECT user_id FROM sessions WHERE session_hash = $1 AND expires > $2",
        session_hash,
        now,
    )
    .await
}

/// Removes a session; nothing if it is already gone.
pub(crate) async fn delete_session<D: Db>(
    db: &mut D,
    session_hash: &str,
) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM sessions WHERE session_hash = $1",
        &params![session_hash],
    )
    .await?;
    Ok(())
}

/// Deletes one of `user_id`'s API tokens; whether it existed.
pub(crate) async fn delete_token<D: Db>(
    db: &mut D,
    user_id: UserId,
    token_hash: &str,
) -> Result<bool, StoreError> {
    let removed = db
        .execute(
            "DELETE FROM api_tokens WHERE token_hash = $1 AND user_id = $2",
            &params![token_hash, user_id],
        )
        .await?;
    Ok(removed > 0)
}

/// Deletes every session and API token of `user_id` except the one whose
/// hash is `keep` (a session or token hash); returns how many.
pub(crate) async fn revoke_all_but<D: Db>(
    db: &mut D,
    user_id: UserId,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    // Session and token hashes are SHA-256 of distinct random secrets, so
    // one `keep` hash never matches a row of the other table.
    let keep = keep.unwrap_or("");
    let sessions = db
        .execute(
            "DELETE FROM sessions WHERE user_id = $1 AND session_hash <> $2",
            &params![user_id, keep],
        )
        .await?;
    let tokens = db
        .execute(
            "DELETE FROM api_tokens WHERE user_id = $1 AND token_hash <> $2",
            &params![user_id, keep],
        )
        .await?;
    Ok(sessions + tokens)
}

/// Removes sessions and tokens expired at `now`; returns how many.
pub(crate) async fn purge_expired<D: Db>(db: &mut D, now: Timestamp) -> Result<u64, StoreError> {
    let sessions = db
        .execute("DELETE FROM sessions WHERE expires <= $1", &params![now])
        .await?;
    let tokens = db
        .execute(
            "DELETE FROM api_tokens WHERE expires IS NOT NULL AND expires <= $1",
            &params![now],
        )
        .await?;
    Ok(sessions + tokens)
}

/// The server settings object (`{}` until set).
pub(crate) async fn server_settings<D: Db>(db: &mut D) -> Result<JsonObject, StoreError> {
    let row = db
        .fetch_optional("SELECT attributes FROM server_settings WHERE id = 1", &[])
        .await?;
    Ok(row
        .map(|row| row.text(0))
        .transpose()?
        .map(JsonObject)
        .unwrap_or_default())
}

/// Replaces the server settings object.
pub(crate) async fn set_server_settings<D: Db>(
    db: &mut D,
    settings: &JsonObject,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO server_settings (id, attributes) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes",
        &params![settings.as_str()],
    )
    .await?;
    Ok(())
}
