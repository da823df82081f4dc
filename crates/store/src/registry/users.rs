//! Users: their SQL, decoding and delete cascade, for both backends.

use trackd_model::{JsonObject, Timestamp, User, UserFields, UserId};

use super::db::{conflict_as, decode_one, fetch_int, params, Db, Param, Row};
use super::integrity;
use crate::links::Table;
use crate::StoreError;

const COLUMNS: &str = "id, name, email, phone, administrator, readonly, device_readonly, \
                       limit_commands, disabled, expiration_time, device_limit, user_limit, \
                       attributes";

fn from_row(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.int(0)?),
        name: row.text(1)?,
        email: row.text(2)?,
        phone: row.opt_text(3)?,
        administrator: row.boolean(4)?,
        readonly: row.boolean(5)?,
        device_readonly: row.boolean(6)?,
        limit_commands: row.boolean(7)?,
        disabled: row.boolean(8)?,
        expiration_time: row.opt_int(9)?.map(Timestamp),
        device_limit: row.int4(10)?,
        user_limit: row.int4(11)?,
        attributes: JsonObject(row.text(12)?),
    })
}

/// `$1` to `$12`: the fields in `INSERT` / `UPDATE` column order.
fn field_params(f: &UserFields) -> [Param<'_>; 12] {
    params![
        &f.name,
        &f.email,
        &f.phone,
        f.administrator,
        f.readonly,
        f.device_readonly,
        f.limit_commands,
        f.disabled,
        f.expiration_time,
        f.device_limit,
        f.user_limit,
        f.attributes.as_str(),
    ]
}

/// Creates a user; `Conflict` if the email is taken (case-insensitively).
pub(crate) async fn insert<D: Db>(
    db: &mut D,
    fields: &UserFields,
    password_hash: Option<&str>,
) -> Result<User, StoreError> {
    let sql = format!(
        "INSERT INTO users (name, email, phone, administrator, readonly, device_readonly, \
         limit_commands, disabled, expiration_time, device_limit, user_limit, attributes, \
         password_hash, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING {COLUMNS}"
    );
    let mut params = field_params(fields).to_vec();
    params.extend(params![password_hash, crate::now_millis()]);
    let row = db
        .fetch_optional(&sql, &params)
        .await
        .map_err(conflict_as(|| format!("user {}", fields.email)))?;
    decode_one(row, from_row)?.ok_or(StoreError::NotFound)
}

/// Replaces every field but the password; `NotFound` or `Conflict`.
pub(crate) async fn update<D: Db>(
    db: &mut D,
    id: UserId,
    fields: &UserFields,
) -> Result<User, StoreError> {
    let sql = format!(
        "UPDATE users SET name = $1, email = $2, phone = $3, administrator = $4, \
         readonly = $5, device_readonly = $6, limit_commands = $7, disabled = $8, \
         expiration_time = $9, device_limit = $10, user_limit = $11, attributes = $12 \
         WHERE id = $13 RETURNING {COLUMNS}"
    );
    let mut params = field_params(fields).to_vec();
    params.push(id.into());
    let row = db
        .fetch_optional(&sql, &params)
        .await
        .map_err(conflict_as(|| format!("user {}", fields.email)))?;
    decode_one(row, from_row)?.ok_or(StoreError::NotFound)
}

/// Deletes a user with its links, API tokens and sessions.
pub(crate) async fn delete<D: Db>(db: &mut D, id: UserId) -> Result<(), StoreError> {
    integrity::delete(
        db,
        Table::Users,
        id,
        &[
            "DELETE FROM api_tokens WHERE user_id = $1",
            "DELETE FROM sessions WHERE user_id = $1",
        ],
    )
    .await
}

/// The user with this id.
pub(crate) async fn by_id<D: Db>(db: &mut D, id: UserId) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    decode_one(db.fetch_optional(&sql, &params![id]).await?, from_row)
}

/// Case-insensitive (ASCII on SQLite), served by the unique index on `lower(email)`.
pub(crate) async fn by_email<D: Db>(db: &mut D, email: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)");
    decode_one(db.fetch_optional(&sql, &params![email]).await?, from_row)
}

/// All users, by id.
pub(crate) async fn all<D: Db>(db: &mut D) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id");
    db.fetch_all(&sql, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// How many users exist.
pub(crate) async fn count<D: Db>(db: &mut D) -> Result<u64, StoreError> {
    let n = fetch_int(db, "SELECT COUNT(*) FROM users", &[]).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The stored password hash, if the user exists and has one.
pub(crate) async fn password_hash<D: Db>(
    db: &mut D,
    id: UserId,
) -> Result<Option<String>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT password_hash FROM users WHERE id = $1",
            &params![id],
        )
        .await?;
    Ok(row.map(|row| row.opt_text(0)).transpose()?.flatten())
}

/// Replaces the password hash; `NotFound` if the user does not exist.
pub(crate) async fn set_password_hash<D: Db>(
    db: &mut D,
    id: UserId,
    hash: &str,
) -> Result<(), StoreError> {
    let sql = "UPDATE users SET password_hash = $1 WHERE id = $2";
    if db.execute(sql, &params![hash, id]).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
