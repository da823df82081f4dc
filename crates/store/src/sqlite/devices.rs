//! Device ids for the writer (the device registry itself is
//! `crate::registry::devices`, shared by both backends).

use rusqlite::Connection;
use trackd_model::DeviceId;

use crate::StoreError;

/// Every registered device id (the writer seeds its sequence counters).
pub(crate) fn all_ids(conn: &Connection) -> Result<Vec<DeviceId>, StoreError> {
    let mut statement = conn.prepare("SELECT id FROM devices")?;
    let ids = statement
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}
