//! Geofences: their SQL, decoding and delete cascade, for both backends.
//! The area is stored as given (the caller validates it).

use trackd_model::{CalendarId, Geofence, GeofenceFields, GeofenceId, Geometry, JsonObject};

use super::db::{decode_one, params, Db, Param, Row};
use super::integrity;
use crate::links::Table;
use crate::StoreError;

const COLUMNS: &str = "id, name, description, area, calendar_id, attributes";

fn from_row(row: &Row) -> Result<Geofence, StoreError> {
    let area = row.text(3)?;
    Ok(Geofence {
        id: GeofenceId(row.int(0)?),
        name: row.text(1)?,
        description: row.opt_text(2)?,
        geometry: Geometry::parse(&area).ok(),
        area,
        calendar_id: row.opt_int(4)?.map(CalendarId),
        attributes: JsonObject(row.text(5)?),
    })
}

/// `$1` to `$5`: the fields in `INSERT` / `UPDATE` column order.
fn field_params(f: &GeofenceFields) -> [Param<'_>; 5] {
    params![
        &f.name,
        &f.description,
        &f.area,
        f.calendar_id,
        f.attributes.as_str()
    ]
}

/// Creates a geofence.
pub(crate) async fn insert<D: Db>(
    db: &mut D,
    fields: &GeofenceFields,
) -> Result<Geofence, StoreError> {
    let sql = format!(
        "INSERT INTO geofences (name, description, area, calendar_id, attributes) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    let row = db.fetch_optional(&sql, &field_params(fields)).await?;
    decode_one(row, from_row)?.ok_or(StoreError::NotFound)
}

/// Replaces every field; `NotFound` if absent.
pub(crate) async fn update<D: Db>(
    db: &mut D,
    id: GeofenceId,
    fields: &GeofenceFields,
) -> Result<Geofence, StoreError> {
    let sql = format!(
        "UPDATE geofences SET name = $1, description = $2, area = $3, calendar_id = $4, \
         attributes = $5 WHERE id = $6 RETURNING {COLUMNS}"
    );
    let mut params = field_params(fields).to_vec();
    params.push(id.into());
    let row = db.fetch_optional(&sql, &params).await?;
    decode_one(row, from_row)?.ok_or(StoreError::NotFound)
}

/// Deletes a geofence and its links.
pub(crate) async fn delete<D: Db>(db: &mut D, id: GeofenceId) -> Result<(), StoreError> {
    integrity::delete(db, Table::Geofences, id, &[]).await
}

/// The geofence with this id.
pub(crate) async fn by_id<D: Db>(
    db: &mut D,
    id: GeofenceId,
) -> Result<Option<Geofence>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM geofences WHERE id = $1");
    decode_one(db.fetch_optional(&sql, &params![id]).await?, from_row)
}

/// All geofences, by id.
pub(crate) async fn all<D: Db>(db: &mut D) -> Result<Vec<Geofence>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM geofences ORDER BY id");
    db.fetch_all(&sql, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}
