//! The device registry on PostgreSQL.

use sqlx::{PgPool, Row};
use trackd_model::{Device, DeviceId, NewDevice};

use crate::StoreError;

fn device_from_row(row: &sqlx::postgres::PgRow) -> Result<Device, StoreError> {
    Ok(Device {
        id: row.try_get(0)?,
        unique_id: row.try_get(1)?,
        name: row.try_get(2)?,
        disabled: row.try_get(3)?,
    })
}

pub(crate) async fn insert(pool: &PgPool, device: &NewDevice) -> Result<Device, StoreError> {
    let result = sqlx::query(
        "INSERT INTO devices (unique_id, name, disabled, created) VALUES ($1, $2, FALSE, $3) RETURNING id",
    )
    .bind(&device.unique_id)
    .bind(&device.name)
    .bind(crate::now_millis())
    .fetch_one(pool)
    .await;
    match result {
        Ok(row) => Ok(Device {
            id: row.try_get(0)?,
            unique_id: device.unique_id.clone(),
            name: device.name.clone(),
            disabled: false,
        }),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            Err(StoreError::Conflict(format!("device {}", device.unique_id)))
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) async fn by_unique_id(
    pool: &PgPool,
    unique_id: &str,
) -> Result<Option<Device>, StoreError> {
    let row = sqlx::query("SELECT id, unique_id, name, disabled FROM devices WHERE unique_id = $1")
        .bind(unique_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(device_from_row).transpose()
}

pub(crate) async fn by_id(pool: &PgPool, id: DeviceId) -> Result<Option<Device>, StoreError> {
    let row = sqlx::query("SELECT id, unique_id, name, disabled FROM devices WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(device_from_row).transpose()
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<Device>, StoreError> {
    let rows = sqlx::query("SELECT id, unique_id, name, disabled FROM devices ORDER BY id")
        .fetch_all(pool)
        .await?;
    rows.iter().map(device_from_row).collect()
}
