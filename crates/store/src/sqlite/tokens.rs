//! API tokens, sessions and server settings on SQLite. Only hashes of the
//! secrets are stored.

use rusqlite::{params, Connection, OptionalExtension};
use trackd_model::{JsonObject, Timestamp, User, UserId};

use super::{conflict, exists, users};
use crate::links::Table;
use crate::StoreError;

pub(crate) fn create_token(
    conn: &Connection,
    user_id: UserId,
    token_hash: &str,
    expires: Option<Timestamp>,
) -> Result<(), StoreError> {
    if !exists(conn, Table::Users, user_id)? {
        return Err(StoreError::NotFound);
    }
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, expires, created) VALUES (?1, ?2, ?3, ?4)",
        params![
            token_hash,
            user_id,
            expires.map(Timestamp::as_millis),
            crate::now_millis()
        ],
    )
    .map_err(|error| conflict(error, || "api token".to_owned()))?;
    Ok(())
}

fn user_of(
    conn: &Connection,
    sql: &str,
    hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    let user_id: Option<UserId> = conn
        .query_row(sql, params![hash, now.as_millis()], |row| row.get(0))
        .optional()?;
    match user_id {
        Some(id) => users::by_id(conn, id),
        None => Ok(None),
    }
}

pub(crate) fn user_by_token(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    user_of(
        conn,
        "SELECT user_id FROM api_tokens WHERE token_hash = ?1 AND (expires IS NULL OR expires > ?2)",
        token_hash,
        now,
    )
}

pub(crate) fn create_session(
    conn: &Connection,
    user_id: UserId,
    session_hash: &str,
    expires: Timestamp,
) -> Result<(), StoreError> {
    if !exists(conn, Table::Users, user_id)? {
        return Err(StoreError::NotFound);
    }
    conn.execute(
        "INSERT INTO sessions (session_hash, user_id, expires, created) VALUES (?1, ?2, ?3, ?4)",
        params![
            session_hash,
            user_id,
            expires.as_millis(),
            crate::now_millis()
        ],
    )
    .map_err(|error| conflict(error, || "session".to_owned()))?;
    Ok(())
}

pub(crate) fn user_by_session(
    conn: &Connection,
    session_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    user_of(
        conn,
        "SELECT user_id FROM sessions WHERE session_hash = ?1 AND expires > ?2",
        session_hash,
        now,
    )
}

/// Removes a session; nothing if it is already gone.
pub(crate) fn delete_session(conn: &Connection, session_hash: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE session_hash = ?1",
        [session_hash],
    )?;
    Ok(())
}

/// Removes sessions and tokens expired at `now`; returns how many.
pub(crate) fn purge_expired(conn: &Connection, now: Timestamp) -> Result<u64, StoreError> {
    let sessions = conn.execute("DELETE FROM sessions WHERE expires <= ?1", [now.0])?;
    let tokens = conn.execute(
        "DELETE FROM api_tokens WHERE expires IS NOT NULL AND expires <= ?1",
        [now.0],
    )?;
    Ok((sessions + tokens) as u64)
}

pub(crate) fn server_settings(conn: &Connection) -> Result<JsonObject, StoreError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT attributes FROM server_settings WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(text.map(JsonObject).unwrap_or_default())
}

pub(crate) fn set_server_settings(
    conn: &Connection,
    settings: &JsonObject,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO server_settings (id, attributes) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes",
        [settings.as_str()],
    )?;
    Ok(())
}
