//! Devices: their SQL, decoding, group check and delete cascade, for both
//! backends. Positions are not here: they outlive a deleted device.

use trackd_model::{Device, DeviceFields, DeviceId, GroupId, JsonObject, Timestamp};

use super::db::{conflict_as, decode_one, params, Db, Param, Row};
use super::integrity::{self, exists};
use crate::links::Table;
use crate::StoreError;

const COLUMNS: &str = "id, unique_id, name, disabled, group_id, phone, model, contact, category, \
                       expiration_time, attributes";

fn from_row(row: &Row) -> Result<Device, StoreError> {
    Ok(Device {
        id: DeviceId(row.int(0)?),
        unique_id: row.text(1)?,
        name: row.text(2)?,
        disabled: row.boolean(3)?,
        group_id: row.opt_int(4)?.map(GroupId),
        phone: row.opt_text(5)?,
        model: row.opt_text(6)?,
        contact: row.opt_text(7)?,
        category: row.opt_text(8)?,
        expiration_time: row.opt_int(9)?.map(Timestamp),
        attributes: JsonObject(row.text(10)?),
    })
}

/// `$1` to `$10`: the fields in `INSERT` / `UPDATE` column order.
fn field_params(f: &DeviceFields) -> [Param<'_>; 10] {
    params![
        &f.unique_id,
        &f.name,
        f.disabled,
        f.group_id,
        &f.phone,
        &f.model,
        &f.contact,
        &f.category,
        f.expiration_time,
        f.attributes.as_str(),
    ]
}

/// `InvalidInput` if the device names a group that does not exist.
async fn check_group<D: Db>(db: &mut D, fields: &DeviceFields) -> Result<(), StoreError> {
    match fields.group_id {
        Some(group_id) if !exists(db, Table::Groups, group_id).await? => Err(
            StoreError::InvalidInput(format!("group {group_id} does not exist")),
        ),
        _ => Ok(()),
    }
}

/// Registers a device; `Conflict` if the unique id is taken, `InvalidInput`
/// if its group does not exist.
pub(crate) async fn insert<D: Db>(db: &mut D, fields: &DeviceFields) -> Result<Device, StoreError> {
    check_group(db, fields).await?;
    let sql = format!(
        "INSERT INTO devices (unique_id, name, disabled, group_id, phone, model, contact, \
         category, expiration_time, attributes, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
    );
    let mut params = field_params(fields).to_vec();
    params.push(crate::now_millis().into());
    let row = db
        .fetch_optional(&sql, &params)
        .await
        .map_err(conflict_as(|| format!("device {}", fields.unique_id)))?;
    decode_one(row, from_row)?.ok_or(StoreError::NotFound)
}

/// Replaces every field of a device; `NotFound` (checked first),
/// `InvalidInput` (group) or `Conflict` (unique id).
pub(crate) async fn update<D: Db>(
    db: &mut D,
    id: DeviceId,
    fields: &DeviceFields,
) -> Result<Device, StoreError> {
    if !exists(db, Table::Devices, id).await? {
        return Err(StoreError::NotFound);
    }
    check_group(db, fields).await?;
    let sql = format!(
        "UPDATE devices SET unique_id = $1, name = $2, disabled = $3, group_id = $4, \
         phone = $5, model = $6, contact = $7, category = $8, expiration_time = $9, \
         attributes = $10 WHERE id = $11 RETURNING {COLUMNS}"
    );
    let mut params = field_params(fields).to_vec();
    params.push(id.into());
    let row = db
        .fetch_optional(&sql, &params)
        .await
        .map_err(conflict_as(|| format!("device {}", fields.unique_id)))?;
    decode_one(row, from_row)?.ok_or(StoreError::NotFound)
}

/// Deletes a device, its links and its events (positions stay).
pub(crate) async fn delete<D: Db>(db: &mut D, id: DeviceId) -> Result<(), StoreError> {
    integrity::delete(
        db,
        Table::Devices,
        id,
        &["DELETE FROM events WHERE device_id = $1"],
    )
    .await
}

/// The device reporting as `unique_id`.
pub(crate) async fn by_unique_id<D: Db>(
    db: &mut D,
    unique_id: &str,
) -> Result<Option<Device>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE unique_id = $1");
    decode_one(
        db.fetch_optional(&sql, &params![unique_id]).await?,
        from_row,
    )
}

/// The device with this id.
pub(crate) async fn by_id<D: Db>(db: &mut D, id: DeviceId) -> Result<Option<Device>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE id = $1");
    decode_one(db.fetch_optional(&sql, &params![id]).await?, from_row)
}

/// All devices, by id.
pub(crate) async fn all<D: Db>(db: &mut D) -> Result<Vec<Device>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM devices ORDER BY id");
    db.fetch_all(&sql, &[])
        .await?
        .iter()
        .map(from_row)
        .collect()
}
