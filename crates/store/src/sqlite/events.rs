//! Events on SQLite.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, Row};
use trackd_model::{Event, EventId, EventKind, JsonObject, NewEvent, PositionId, Timestamp};

use super::exists;
use crate::links::Table;
use crate::{EventQuery, StoreError};

const COLUMNS: &str = "SELECT id, event_type, event_time, device_id, position_id, geofence_id, \
                       maintenance_id, attributes FROM events";

/// The event in a row; `Corrupt` if its type is not one trackd knows.
fn event_from_row(row: &Row<'_>) -> Result<Event, StoreError> {
    Ok(Event {
        id: row.get(0)?,
        event_type: row.get::<_, String>(1)?.parse::<EventKind>()?,
        event_time: Timestamp(row.get(2)?),
        device_id: row.get(3)?,
        position_id: row.get(4)?,
        geofence_id: row.get(5)?,
        maintenance_id: row.get(6)?,
        attributes: JsonObject(row.get(7)?),
    })
}

/// Every event a prepared query returns.
fn collect_events(mut rows: rusqlite::Rows<'_>) -> Result<Vec<Event>, StoreError> {
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(event_from_row(row)?);
    }
    Ok(events)
}

/// Stores an event; `InvalidInput` if its device does not exist.
pub(crate) fn insert(conn: &Connection, event: &NewEvent) -> Result<Event, StoreError> {
    if !exists(conn, Table::Devices, event.device_id.get())? {
        return Err(StoreError::InvalidInput(format!(
            "device {} does not exist",
            event.device_id
        )));
    }
    conn.execute(
        "INSERT INTO events (event_type, event_time, device_id, position_id, geofence_id, \
         maintenance_id, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            event.event_type.as_str(),
            event.event_time.as_millis(),
            event.device_id,
            event.position_id,
            event.geofence_id,
            event.maintenance_id,
            event.attributes.as_str()
        ],
    )?;
    by_id(conn, EventId(conn.last_insert_rowid()))?.ok_or(StoreError::NotFound)
}

/// Stores an event of a device the caller knows exists (the writer's
/// group commit), with its resolved position id; returns its id.
pub(crate) fn insert_unchecked(
    conn: &Connection,
    event: &NewEvent,
    position_id: Option<PositionId>,
) -> Result<EventId, StoreError> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO events (event_type, event_time, device_id, position_id, geofence_id, \
         maintenance_id, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    statement.execute(params![
        event.event_type.as_str(),
        event.event_time.as_millis(),
        event.device_id,
        position_id,
        event.geofence_id,
        event.maintenance_id,
        event.attributes.as_str()
    ])?;
    Ok(EventId(conn.last_insert_rowid()))
}

pub(crate) fn by_id(conn: &Connection, id: EventId) -> Result<Option<Event>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?;
    let mut rows = statement.query([id])?;
    rows.next()?.map(event_from_row).transpose()
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `WHERE` clause of `query` (its devices, types, range and page
/// start) and its values, numbered from `?1`.
fn filter(query: &EventQuery) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = vec![Value::Integer(query.from.0), Value::Integer(query.to.0)];
    let mut sql = format!(
        " WHERE event_time >= ?1 AND event_time < ?2 AND device_id IN ({})",
        placeholders(3, query.device_ids.len())
    );
    values.extend(query.device_ids.iter().map(|id| Value::Integer(id.get())));
    if let Some(types) = &query.types {
        sql.push_str(&format!(
            " AND event_type IN ({})",
            placeholders(values.len() + 1, types.len())
        ));
        values.extend(types.iter().map(|t| Value::Text(t.as_str().to_owned())));
    }
    if let Some((time, id)) = query.after {
        let (t, i) = (values.len() + 1, values.len() + 2);
        sql.push_str(&format!(
            " AND (event_time > ?{t} OR (event_time = ?{t} AND id > ?{i}))"
        ));
        values.push(Value::Integer(time.0));
        values.push(Value::Integer(id.0));
    }
    (sql, values)
}

/// The events `query` selects, in time order (ties by id); the caller
/// checked it can match something.
pub(crate) fn range(conn: &Connection, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
    let (filter, values) = filter(query);
    let mut sql = format!("{COLUMNS}{filter} ORDER BY event_time, id");
    if let Some(limit) = query.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let mut statement = conn.prepare(&sql)?;
    let events = collect_events(statement.query(params_from_iter(values))?)?;
    Ok(events)
}

/// How many events `query` selects.
pub(crate) fn count(conn: &Connection, query: &EventQuery) -> Result<u64, StoreError> {
    let (filter, values) = filter(query);
    let mut statement = conn.prepare(&format!("SELECT COUNT(*) FROM events{filter}"))?;
    let count: i64 = statement.query_row(params_from_iter(values), |row| row.get(0))?;
    u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))
}
