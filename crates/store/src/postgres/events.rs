//! Events on PostgreSQL.

use sqlx::{PgPool, Row};
use trackd_model::{
    DeviceId, Event, EventId, EventKind, JsonObject, NewEvent, PositionId, Timestamp,
};

use super::exists;
use crate::links::Table;
use crate::StoreError;

const FIELDS: &str =
    "id, event_type, event_time, device_id, position_id, geofence_id, maintenance_id, attributes";

/// The event in a row; `Corrupt` if its type is not one trackd knows.
fn event_from_row(row: &sqlx::postgres::PgRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: row.try_get(0)?,
        event_type: row.try_get::<String, _>(1)?.parse::<EventKind>()?,
        event_time: Timestamp(row.try_get(2)?),
        device_id: row.try_get(3)?,
        position_id: row.try_get(4)?,
        geofence_id: row.try_get(5)?,
        maintenance_id: row.try_get(6)?,
        attributes: JsonObject(row.try_get(7)?),
    })
}

/// Stores an event of a device the caller knows exists (the writer's group
/// commit), with its resolved position id; returns its id.
pub(crate) async fn insert_unchecked(
    conn: &mut sqlx::PgConnection,
    event: &NewEvent,
    position_id: Option<PositionId>,
) -> Result<EventId, StoreError> {
    let id: EventId = sqlx::query_scalar(
        "INSERT INTO events (event_type, event_time, device_id, position_id, geofence_id, \
         maintenance_id, attributes) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(event.event_type.as_str())
    .bind(event.event_time.as_millis())
    .bind(event.device_id)
    .bind(position_id)
    .bind(event.geofence_id)
    .bind(event.maintenance_id)
    .bind(event.attributes.as_str())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Stores an event; `InvalidInput` if its device does not exist.
pub(crate) async fn insert(pool: &PgPool, event: &NewEvent) -> Result<Event, StoreError> {
    let mut tx = pool.begin().await?;
    if !exists(&mut tx, Table::Devices, event.device_id.get()).await? {
        return Err(StoreError::InvalidInput(format!(
            "device {} does not exist",
            event.device_id
        )));
    }
    let row = sqlx::query(&format!(
        "INSERT INTO events (event_type, event_time, device_id, position_id, geofence_id, \
         maintenance_id, attributes) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {FIELDS}"
    ))
    .bind(event.event_type.as_str())
    .bind(event.event_time.as_millis())
    .bind(event.device_id)
    .bind(event.position_id)
    .bind(event.geofence_id)
    .bind(event.maintenance_id)
    .bind(event.attributes.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let stored = event_from_row(&row)?;
    tx.commit().await?;
    Ok(stored)
}

pub(crate) async fn by_id(pool: &PgPool, id: EventId) -> Result<Option<Event>, StoreError> {
    let row = sqlx::query(&format!("SELECT {FIELDS} FROM events WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(event_from_row).transpose()
}

/// Events of these devices with `from <= event_time < to`, in time order
/// (ties by id); `types: None` means every type.
pub(crate) async fn range(
    pool: &PgPool,
    device_ids: &[DeviceId],
    types: Option<&[EventKind]>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Event>, StoreError> {
    if device_ids.is_empty() || types.is_some_and(<[EventKind]>::is_empty) || from >= to {
        return Ok(Vec::new());
    }
    let types: Option<Vec<&str>> = types.map(|types| types.iter().map(|t| t.as_str()).collect());
    let rows = sqlx::query(&format!(
        "SELECT {FIELDS} FROM events \
         WHERE device_id = ANY($1) AND event_time >= $2 AND event_time < $3 \
           AND ($4::TEXT[] IS NULL OR event_type = ANY($4)) \
         ORDER BY event_time, id"
    ))
    .bind(device_ids)
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(types)
    .fetch_all(pool)
    .await?;
    rows.iter().map(event_from_row).collect()
}
