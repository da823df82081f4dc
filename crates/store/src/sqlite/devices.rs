//! The device registry on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use trackd_model::{Device, DeviceFields, DeviceId, JsonObject, Timestamp};

use super::{conflict, exists};
use crate::links::{cleanup_sql, Table};
use crate::StoreError;

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        unique_id: row.get(1)?,
        name: row.get(2)?,
        disabled: row.get(3)?,
        group_id: row.get(4)?,
        phone: row.get(5)?,
        model: row.get(6)?,
        contact: row.get(7)?,
        category: row.get(8)?,
        expiration_time: row.get::<_, Option<i64>>(9)?.map(Timestamp),
        attributes: JsonObject(row.get(10)?),
    })
}

const COLUMNS: &str = "SELECT id, unique_id, name, disabled, group_id, phone, model, contact, \
                       category, expiration_time, attributes FROM devices";

fn check_group(conn: &Connection, fields: &DeviceFields) -> Result<(), StoreError> {
    match fields.group_id {
        Some(group_id) if !exists(conn, Table::Groups, group_id)? => Err(StoreError::InvalidInput(
            format!("group {group_id} does not exist"),
        )),
        _ => Ok(()),
    }
}

/// Inserts a device; `Conflict` if the unique id is taken, `InvalidInput`
/// if its group does not exist.
pub(crate) fn insert(conn: &Connection, fields: &DeviceFields) -> Result<Device, StoreError> {
    check_group(conn, fields)?;
    conn.execute(
        "INSERT INTO devices (unique_id, name, disabled, group_id, phone, model, contact, \
         category, expiration_time, attributes, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            fields.unique_id,
            fields.name,
            fields.disabled,
            fields.group_id,
            fields.phone,
            fields.model,
            fields.contact,
            fields.category,
            fields.expiration_time.map(Timestamp::as_millis),
            fields.attributes.as_str(),
            crate::now_millis()
        ],
    )
    .map_err(|error| conflict(error, || format!("device {}", fields.unique_id)))?;
    by_id(conn, conn.last_insert_rowid())?.ok_or(StoreError::NotFound)
}

/// Replaces every field of a device.
pub(crate) fn update(
    conn: &Connection,
    id: DeviceId,
    fields: &DeviceFields,
) -> Result<Device, StoreError> {
    if !exists(conn, Table::Devices, id)? {
        return Err(StoreError::NotFound);
    }
    check_group(conn, fields)?;
    conn.execute(
        "UPDATE devices SET unique_id = ?1, name = ?2, disabled = ?3, group_id = ?4, phone = ?5, \
         model = ?6, contact = ?7, category = ?8, expiration_time = ?9, attributes = ?10 \
         WHERE id = ?11",
        params![
            fields.unique_id,
            fields.name,
            fields.disabled,
            fields.group_id,
            fields.phone,
            fields.model,
            fields.contact,
            fields.category,
            fields.expiration_time.map(Timestamp::as_millis),
            fields.attributes.as_str(),
            id
        ],
    )
    .map_err(|error| conflict(error, || format!("device {}", fields.unique_id)))?;
    by_id(conn, id)?.ok_or(StoreError::NotFound)
}

/// Deletes a device, its links and its events (positions stay).
pub(crate) fn delete(conn: &Connection, id: DeviceId) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM devices WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound);
    }
    conn.execute(&cleanup_sql(Table::Devices, "?1"), [id])?;
    conn.execute("DELETE FROM events WHERE device_id = ?1", [id])?;
    Ok(())
}

pub(crate) fn by_unique_id(
    conn: &Connection,
    unique_id: &str,
) -> Result<Option<Device>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} WHERE unique_id = ?1"))?;
    Ok(statement
        .query_row([unique_id], device_from_row)
        .optional()?)
}

pub(crate) fn by_id(conn: &Connection, id: DeviceId) -> Result<Option<Device>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?;
    Ok(statement.query_row([id], device_from_row).optional()?)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Device>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} ORDER BY id"))?;
    let devices = statement
        .query_map([], device_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(devices)
}

pub(crate) fn all_ids(conn: &Connection) -> Result<Vec<DeviceId>, StoreError> {
    let mut statement = conn.prepare("SELECT id FROM devices")?;
    let ids = statement
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}
