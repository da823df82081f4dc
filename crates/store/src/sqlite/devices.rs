//! The device registry on SQLite.

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};
use trackd_model::{Device, DeviceId, NewDevice};

use crate::StoreError;

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        unique_id: row.get(1)?,
        name: row.get(2)?,
        disabled: row.get(3)?,
    })
}

const COLUMNS: &str = "SELECT id, unique_id, name, disabled FROM devices";

/// Inserts a device; `Conflict` if the unique id is taken.
pub(crate) fn insert(conn: &Connection, device: &NewDevice) -> Result<Device, StoreError> {
    let result = conn.execute(
        "INSERT INTO devices (unique_id, name, disabled, created) VALUES (?1, ?2, 0, ?3)",
        params![device.unique_id, device.name, crate::now_millis()],
    );
    match result {
        Ok(_) => Ok(Device {
            id: conn.last_insert_rowid(),
            unique_id: device.unique_id.clone(),
            name: device.name.clone(),
            disabled: false,
        }),
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.code == ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict(format!("device {}", device.unique_id)))
        }
        Err(error) => Err(error.into()),
    }
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
