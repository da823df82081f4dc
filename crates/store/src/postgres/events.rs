//! Events on PostgreSQL.

use sqlx::{PgPool, Row};
use trackd_model::{Event, EventId, EventKind, JsonObject, NewEvent, PositionId, Timestamp};

use super::exists;
use crate::links::Table;
use crate::{EventQuery, StoreError};

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

/// What `query` selects, as a `WHERE` clause over `$1..$6`.
const FILTER: &str = "WHERE device_id = ANY($1) AND event_time >= $2 AND event_time < $3 \
     AND ($4::TEXT[] IS NULL OR event_type = ANY($4)) \
     AND ($5::BIGINT IS NULL OR event_time > $5 OR (event_time = $5 AND id > $6))";

/// `query`'s values for [`FILTER`].
fn bind<'q>(
    statement: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    query: &'q EventQuery,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let types: Option<Vec<&str>> = query
        .types
        .as_ref()
        .map(|types| types.iter().map(|t| t.as_str()).collect());
    statement
        .bind(query.device_ids.as_slice())
        .bind(query.from.as_millis())
        .bind(query.to.as_millis())
        .bind(types)
        .bind(query.after.map(|(time, _)| time.as_millis()))
        .bind(query.after.map(|(_, id)| id.0))
}

/// The events `query` selects, in time order (ties by id); the caller
/// checked it can match something.
pub(crate) async fn range(pool: &PgPool, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
    let limit = query.limit.map(i64::from);
    let sql = format!("SELECT {FIELDS} FROM events {FILTER} ORDER BY event_time, id LIMIT $7");
    let rows = bind(sqlx::query(&sql), query)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(event_from_row).collect()
}

/// How many events `query` selects.
pub(crate) async fn count(pool: &PgPool, query: &EventQuery) -> Result<u64, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM events {FILTER}");
    let row = bind(sqlx::query(&sql), query).fetch_one(pool).await?;
    let count: i64 = row.try_get(0)?;
    u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))
}
