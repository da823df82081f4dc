//! The device registry on PostgreSQL.

use sqlx::{PgConnection, PgPool, Row};
use trackd_model::{Device, DeviceFields, DeviceId, JsonObject, Timestamp};

use super::{conflict, exists};
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const FIELDS: &str = "id, unique_id, name, disabled, group_id, phone, model, contact, category, \
                      expiration_time, attributes";
const COLUMNS: &str = "SELECT id, unique_id, name, disabled, group_id, phone, model, contact, \
                       category, expiration_time, attributes FROM devices";

fn device_from_row(row: &sqlx::postgres::PgRow) -> Result<Device, StoreError> {
    Ok(Device {
        id: row.try_get(0)?,
        unique_id: row.try_get(1)?,
        name: row.try_get(2)?,
        disabled: row.try_get(3)?,
        group_id: row.try_get(4)?,
        phone: row.try_get(5)?,
        model: row.try_get(6)?,
        contact: row.try_get(7)?,
        category: row.try_get(8)?,
        expiration_time: row.try_get::<Option<i64>, _>(9)?.map(Timestamp),
        attributes: JsonObject(row.try_get(10)?),
    })
}

async fn check_group(conn: &mut PgConnection, fields: &DeviceFields) -> Result<(), StoreError> {
    match fields.group_id {
        Some(group_id) if !exists(conn, Table::Groups, group_id).await? => Err(
            StoreError::InvalidInput(format!("group {group_id} does not exist")),
        ),
        _ => Ok(()),
    }
}

pub(crate) async fn insert(pool: &PgPool, fields: &DeviceFields) -> Result<Device, StoreError> {
    let mut tx = pool.begin().await?;
    check_group(&mut tx, fields).await?;
    let row = sqlx::query(&format!(
        "INSERT INTO devices (unique_id, name, disabled, group_id, phone, model, contact, \
         category, expiration_time, attributes, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         RETURNING {FIELDS}"
    ))
    .bind(&fields.unique_id)
    .bind(&fields.name)
    .bind(fields.disabled)
    .bind(fields.group_id)
    .bind(&fields.phone)
    .bind(&fields.model)
    .bind(&fields.contact)
    .bind(&fields.category)
    .bind(fields.expiration_time.map(Timestamp::as_millis))
    .bind(fields.attributes.as_str())
    .bind(crate::now_millis())
    .fetch_one(&mut *tx)
    .await
    .map_err(|error| conflict(error, || format!("device {}", fields.unique_id)))?;
    let device = device_from_row(&row)?;
    tx.commit().await?;
    Ok(device)
}

pub(crate) async fn update(
    pool: &PgPool,
    id: DeviceId,
    fields: &DeviceFields,
) -> Result<Device, StoreError> {
    let mut tx = pool.begin().await?;
    check_group(&mut tx, fields).await?;
    let row = sqlx::query(&format!(
        "UPDATE devices SET unique_id = $1, name = $2, disabled = $3, group_id = $4, \
         phone = $5, model = $6, contact = $7, category = $8, expiration_time = $9, \
         attributes = $10 WHERE id = $11 RETURNING {FIELDS}"
    ))
    .bind(&fields.unique_id)
    .bind(&fields.name)
    .bind(fields.disabled)
    .bind(fields.group_id)
    .bind(&fields.phone)
    .bind(&fields.model)
    .bind(&fields.contact)
    .bind(&fields.category)
    .bind(fields.expiration_time.map(Timestamp::as_millis))
    .bind(fields.attributes.as_str())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|error| conflict(error, || format!("device {}", fields.unique_id)))?;
    let device = device_from_row(&row.ok_or(StoreError::NotFound)?)?;
    tx.commit().await?;
    Ok(device)
}

/// Deletes a device, its links and its events (positions stay).
pub(crate) async fn delete(pool: &PgPool, id: DeviceId) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query(&cleanup_sql(Table::Devices, "$1"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE device_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn by_unique_id(
    pool: &PgPool,
    unique_id: &str,
) -> Result<Option<Device>, StoreError> {
    let row = sqlx::query(&format!("{COLUMNS} WHERE unique_id = $1"))
        .bind(unique_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(device_from_row).transpose()
}

pub(crate) async fn by_id(pool: &PgPool, id: DeviceId) -> Result<Option<Device>, StoreError> {
    let row = sqlx::query(&format!("{COLUMNS} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(device_from_row).transpose()
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<Device>, StoreError> {
    let rows = sqlx::query(&format!("{COLUMNS} ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(device_from_row).collect()
}
