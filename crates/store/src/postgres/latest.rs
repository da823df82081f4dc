//! Each device's latest position on PostgreSQL: one slim row per device in
//! `latest_positions` (where the record is, and its server time), so
//! listing 10,000 devices reads 10,000 small rows instead of probing every
//! day partition of `positions` once per device, and the record itself is
//! one probe of its day partition. The record is not copied: the writer's
//! upsert stays small (a copy doubled what each commit wrote).
//!
//! **Invariant:** a device's row is its plausible position with the
//! greatest `(fix_time, -seq)` among those in `positions`, or no row when
//! it has none. The writer keeps it in the append's transaction (see
//! `positions::write_batch`), a purge drops rows it made stale
//! ([`forget_before`]), deleting the device cascades, and migration 4
//! fills the table once from `positions` ([`backfill`]).

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool, Row};
use trackd_model::{DeviceId, PositionId, StoredPosition, Timestamp};

use super::positions::from_row;
use crate::StoreError;

/// The latest positions of `device_ids`, in their order.
pub(crate) async fn of(
    pool: &PgPool,
    device_ids: &[DeviceId],
) -> Result<Vec<Option<StoredPosition>>, StoreError> {
    let ids: Vec<i64> = device_ids.iter().map(|id| id.0).collect();
    let rows = sqlx::query(
        "SELECT record.seq, record.data, latest.device_id
         FROM latest_positions AS latest
         CROSS JOIN LATERAL (
             SELECT seq, data FROM positions
             WHERE device_id = latest.device_id AND fix_time = latest.fix_time AND seq = latest.seq
             LIMIT 1
         ) AS record
         WHERE latest.device_id = ANY($1::BIGINT[])",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let device_id = DeviceId(row.try_get(2)?);
        found.insert(device_id, from_row(device_id, row)?);
    }
    Ok(device_ids
        .iter()
        .map(|device_id| found.remove(device_id))
        .collect())
}

/// Above this many devices a reference read scans the whole (small) table
/// instead of probing the index once per id.
const SCAN_ABOVE: usize = 1_000;

/// The server time and id of each device's latest position, in their
/// order: the slim columns only, no record is decoded.
pub(crate) async fn references(
    pool: &PgPool,
    device_ids: &[DeviceId],
) -> Result<Vec<Option<(Timestamp, PositionId)>>, StoreError> {
    let rows: Vec<(i64, i64, i64)> = if device_ids.len() > SCAN_ABOVE {
        sqlx::query_as("SELECT device_id, seq, server_time FROM latest_positions")
            .fetch_all(pool)
            .await?
    } else {
        let ids: Vec<i64> = device_ids.iter().map(|id| id.0).collect();
        sqlx::query_as(
            "SELECT device_id, seq, server_time FROM latest_positions
             WHERE device_id = ANY($1::BIGINT[])",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await?
    };
    let mut found = HashMap::with_capacity(rows.len());
    for (device_id, seq, server_time) in rows {
        let seq = u32::try_from(seq)
            .map_err(|_| StoreError::Corrupt(format!("sequence {seq} out of range")))?;
        let device_id = DeviceId(device_id);
        found.insert(
            device_id,
            (
                Timestamp::from_millis(server_time),
                StoredPosition::make_id(device_id, seq),
            ),
        );
    }
    Ok(device_ids
        .iter()
        .map(|device_id| found.get(device_id).copied())
        .collect())
}

/// After positions before `before` (of one device, or of all) were
/// deleted: a latest position older than that was deleted too and, being
/// the newest plausible one, so was every other plausible one.
pub(crate) async fn forget_before(
    pool: &PgPool,
    device: Option<DeviceId>,
    before: i64,
) -> Result<u64, StoreError> {
    let result = match device {
        Some(device) => {
            sqlx::query("DELETE FROM latest_positions WHERE device_id = $1 AND fix_time < $2")
                .bind(device)
                .bind(before)
                .execute(pool)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM latest_positions WHERE fix_time < $1")
                .bind(before)
                .execute(pool)
                .await?
        }
    };
    Ok(result.rows_affected())
}

/// Fills `latest_positions` from `positions` (migration 4, in its
/// transaction): each device's newest row by an index probe, and for the
/// rare device whose newest rows were marked implausible, a walk back in
/// pages until a plausible one.
pub(crate) async fn backfill(conn: &mut PgConnection) -> Result<u64, StoreError> {
    let rows = sqlx::query(
        "SELECT newest.seq, newest.data, devices.id, newest.fix_time
         FROM devices
         CROSS JOIN LATERAL (
             SELECT seq, data, fix_time FROM positions WHERE device_id = devices.id
             ORDER BY fix_time DESC, seq ASC LIMIT 1
         ) AS newest",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut filled = 0;
    for row in &rows {
        let device_id = DeviceId(row.try_get(2)?);
        let newest = from_row(device_id, row)?;
        let latest = if newest.position.is_implausible() {
            walk_back(conn, device_id).await?
        } else {
            Some((row.try_get(3)?, row.try_get(0)?, newest))
        };
        if let Some((fix_time, seq, position)) = latest {
            sqlx::query(
                "INSERT INTO latest_positions (device_id, fix_time, seq, server_time)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (device_id) DO NOTHING",
            )
            .bind(device_id)
            .bind(fix_time)
            .bind(seq)
            .bind(position.position.server_time.as_millis())
            .execute(&mut *conn)
            .await?;
            filled += 1;
        }
    }
    Ok(filled)
}

/// A row for `latest_positions`: `(fix_time, seq, record)`.
type LatestRow = (i64, i64, StoredPosition);

/// The newest plausible row of one device.
async fn walk_back(
    conn: &mut PgConnection,
    device_id: DeviceId,
) -> Result<Option<LatestRow>, StoreError> {
    const PAGE: i64 = 64;
    let mut offset = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, data, fix_time FROM positions WHERE device_id = $1
             ORDER BY fix_time DESC, seq ASC LIMIT $2 OFFSET $3",
        )
        .bind(device_id)
        .bind(PAGE)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let position = from_row(device_id, row)?;
            if !position.position.is_implausible() {
                return Ok(Some((row.try_get(2)?, row.try_get(0)?, position)));
            }
        }
        if (rows.len() as i64) < PAGE {
            return Ok(None);
        }
        offset += PAGE;
    }
}
