//! Geofences on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use trackd_model::{Geofence, GeofenceFields, GeofenceId, Geometry, JsonObject};

use super::exists;
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

const COLUMNS: &str = "SELECT id, name, description, area, calendar_id, attributes FROM geofences";

fn geofence_from_row(row: &Row<'_>) -> rusqlite::Result<Geofence> {
    let area: String = row.get(3)?;
    Ok(Geofence {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        geometry: Geometry::parse(&area).ok(),
        area,
        calendar_id: row.get(4)?,
        attributes: JsonObject(row.get(5)?),
    })
}

pub(crate) fn insert(conn: &Connection, fields: &GeofenceFields) -> Result<Geofence, StoreError> {
    conn.execute(
        "INSERT INTO geofences (name, description, area, calendar_id, attributes) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            fields.name,
            fields.description,
            fields.area,
            fields.calendar_id,
            fields.attributes.as_str()
        ],
    )?;
    by_id(conn, conn.last_insert_rowid())?.ok_or(StoreError::NotFound)
}

pub(crate) fn update(
    conn: &Connection,
    id: GeofenceId,
    fields: &GeofenceFields,
) -> Result<Geofence, StoreError> {
    if !exists(conn, Table::Geofences, id)? {
        return Err(StoreError::NotFound);
    }
    conn.execute(
        "UPDATE geofences SET name = ?1, description = ?2, area = ?3, calendar_id = ?4, \
         attributes = ?5 WHERE id = ?6",
        params![
            fields.name,
            fields.description,
            fields.area,
            fields.calendar_id,
            fields.attributes.as_str(),
            id
        ],
    )?;
    by_id(conn, id)?.ok_or(StoreError::NotFound)
}

pub(crate) fn delete(conn: &Connection, id: GeofenceId) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM geofences WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound);
    }
    conn.execute(&cleanup_sql(Table::Geofences, "?1"), [id])?;
    Ok(())
}

pub(crate) fn by_id(conn: &Connection, id: GeofenceId) -> Result<Option<Geofence>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?;
    Ok(statement.query_row([id], geofence_from_row).optional()?)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Geofence>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} ORDER BY id"))?;
    let geofences = statement
        .query_map([], geofence_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(geofences)
}
