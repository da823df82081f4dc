//! Geofences on PostgreSQL.

use sqlx::{PgPool, Row};
use trackd_model::{Geofence, GeofenceFields, GeofenceId, Geometry, JsonObject};

use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const FIELDS: &str = "id, name, description, area, calendar_id, attributes";

fn geofence_from_row(row: &sqlx::postgres::PgRow) -> Result<Geofence, StoreError> {
    let area: String = row.try_get(3)?;
    Ok(Geofence {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        geometry: Geometry::parse(&area).ok(),
        area,
        calendar_id: row.try_get(4)?,
        attributes: JsonObject(row.try_get(5)?),
    })
}

pub(crate) async fn insert(pool: &PgPool, fields: &GeofenceFields) -> Result<Geofence, StoreError> {
    let row = sqlx::query(&format!(
        "INSERT INTO geofences (name, description, area, calendar_id, attributes) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {FIELDS}"
    ))
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(&fields.area)
    .bind(fields.calendar_id)
    .bind(fields.attributes.as_str())
    .fetch_one(pool)
    .await?;
    geofence_from_row(&row)
}

pub(crate) async fn update(
    pool: &PgPool,
    id: GeofenceId,
    fields: &GeofenceFields,
) -> Result<Geofence, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE geofences SET name = $1, description = $2, area = $3, calendar_id = $4, \
         attributes = $5 WHERE id = $6 RETURNING {FIELDS}"
    ))
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(&fields.area)
    .bind(fields.calendar_id)
    .bind(fields.attributes.as_str())
    .bind(id)
    .fetch_optional(pool)
    .await?;
    geofence_from_row(&row.ok_or(StoreError::NotFound)?)
}

pub(crate) async fn delete(pool: &PgPool, id: GeofenceId) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM geofences WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query(&cleanup_sql(Table::Geofences, "$1"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn by_id(pool: &PgPool, id: GeofenceId) -> Result<Option<Geofence>, StoreError> {
    let row = sqlx::query(&format!("SELECT {FIELDS} FROM geofences WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(geofence_from_row).transpose()
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<Geofence>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {FIELDS} FROM geofences ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(geofence_from_row).collect()
}
