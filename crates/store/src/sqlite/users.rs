//! Users on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use trackd_model::{JsonObject, Timestamp, User, UserFields, UserId};

use super::conflict;
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const COLUMNS: &str = "SELECT id, name, email, phone, administrator, readonly, device_readonly, \
                       limit_commands, disabled, expiration_time, device_limit, user_limit, \
                       attributes FROM users";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        phone: row.get(3)?,
        administrator: row.get(4)?,
        readonly: row.get(5)?,
        device_readonly: row.get(6)?,
        limit_commands: row.get(7)?,
        disabled: row.get(8)?,
        expiration_time: row.get::<_, Option<i64>>(9)?.map(Timestamp),
        device_limit: row.get(10)?,
        user_limit: row.get(11)?,
        attributes: JsonObject(row.get(12)?),
    })
}

pub(crate) fn insert(
    conn: &Connection,
    fields: &UserFields,
    password_hash: Option<&str>,
) -> Result<User, StoreError> {
    conn.execute(
        "INSERT INTO users (name, email, phone, administrator, readonly, device_readonly, \
         limit_commands, disabled, expiration_time, device_limit, user_limit, attributes, \
         password_hash, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            fields.name,
            fields.email,
            fields.phone,
            fields.administrator,
            fields.readonly,
            fields.device_readonly,
            fields.limit_commands,
            fields.disabled,
            fields.expiration_time.map(Timestamp::as_millis),
            fields.device_limit,
            fields.user_limit,
            fields.attributes.as_str(),
            password_hash,
            crate::now_millis()
        ],
    )
    .map_err(|error| conflict(error, || format!("user {}", fields.email)))?;
    by_id(conn, conn.last_insert_rowid())?.ok_or(StoreError::NotFound)
}

pub(crate) fn update(
    conn: &Connection,
    id: UserId,
    fields: &UserFields,
) -> Result<User, StoreError> {
    let changed = conn
        .execute(
            "UPDATE users SET name = ?1, email = ?2, phone = ?3, administrator = ?4, \
             readonly = ?5, device_readonly = ?6, limit_commands = ?7, disabled = ?8, \
             expiration_time = ?9, device_limit = ?10, user_limit = ?11, attributes = ?12 \
             WHERE id = ?13",
            params![
                fields.name,
                fields.email,
                fields.phone,
                fields.administrator,
                fields.readonly,
                fields.device_readonly,
                fields.limit_commands,
                fields.disabled,
                fields.expiration_time.map(Timestamp::as_millis),
                fields.device_limit,
                fields.user_limit,
                fields.attributes.as_str(),
                id
            ],
        )
        .map_err(|error| conflict(error, || format!("user {}", fields.email)))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    by_id(conn, id)?.ok_or(StoreError::NotFound)
}

/// Deletes a user, its links, API tokens and sessions.
pub(crate) fn delete(conn: &Connection, id: UserId) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM users WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound);
    }
    conn.execute(&cleanup_sql(Table::Users, "?1"), [id])?;
    conn.execute("DELETE FROM api_tokens WHERE user_id = ?1", [id])?;
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    Ok(())
}

pub(crate) fn by_id(conn: &Connection, id: UserId) -> Result<Option<User>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?;
    Ok(statement.query_row([id], user_from_row).optional()?)
}

/// Case-insensitive (ASCII, SQLite's `lower`), served by the unique index.
pub(crate) fn by_email(conn: &Connection, email: &str) -> Result<Option<User>, StoreError> {
    let mut statement =
        conn.prepare_cached(&format!("{COLUMNS} WHERE lower(email) = lower(?1)"))?;
    Ok(statement.query_row([email], user_from_row).optional()?)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} ORDER BY id"))?;
    let users = statement
        .query_map([], user_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(users)
}

pub(crate) fn count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn password_hash(conn: &Connection, id: UserId) -> Result<Option<String>, StoreError> {
    let hash: Option<Option<String>> = conn
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    Ok(hash.flatten())
}

pub(crate) fn set_password_hash(
    conn: &Connection,
    id: UserId,
    hash: &str,
) -> Result<(), StoreError> {
    if conn.execute(
        "UPDATE users SET password_hash = ?1 WHERE id = ?2",
        params![hash, id],
    )? == 0
    {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
