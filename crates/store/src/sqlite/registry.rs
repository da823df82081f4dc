//! The SQLite side of the registry seam ([`crate::registry`]): a [`Db`]
//! over a rusqlite connection, and where each kind of registry call runs.
//! Writes run in one IMMEDIATE transaction each on the connection that
//! writes ([`SqliteStore::write`]); reads use the reader pool. Events keep
//! their own SQLite code (`events.rs`) and are only routed here.

use rusqlite::ffi;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, Statement, ToSql};
use trackd_model::{DeviceId, Event, EventId, NewEvent};

use super::{events, SqliteStore};
use crate::registry::db::{Cell, Db, Param, Row};
use crate::{EventQuery, StoreError};

/// A registry connection: the writer's transaction or a pooled reader.
pub(crate) struct SqliteDb<'c> {
    conn: &'c Connection,
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Int(Some(value)) => ToSqlOutput::from(value),
            Param::Int4(value) => ToSqlOutput::from(value),
            Param::Bool(value) => ToSqlOutput::from(value),
            Param::Text(Some(value)) => ToSqlOutput::from(value),
            Param::Int(None) | Param::Text(None) => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

/// `Conflict` for a unique or primary-key violation (what PostgreSQL calls
/// `unique_violation`), else the backend error.
fn map_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.extended_code,
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) =>
        {
            StoreError::Conflict("unique key".into())
        }
        _ => error.into(),
    }
}

fn cell(value: ValueRef<'_>) -> Result<Cell, StoreError> {
    Ok(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(value) => Cell::Int(value),
        ValueRef::Text(bytes) => Cell::Text(
            String::from_utf8(bytes.to_vec())
                .map_err(|error| StoreError::Corrupt(format!("text column: {error}")))?,
        ),
        ValueRef::Real(_) | ValueRef::Blob(_) => {
            return Err(StoreError::Corrupt(format!(
                "unexpected {} column in the registry",
                value.data_type()
            )))
        }
    })
}

impl SqliteDb<'_> {
    /// A cached statement whose parameters are `$1`, `$2`, ... in order, so
    /// binding by position binds what the shared SQL means.
    fn prepare(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        let statement = self.conn.prepare_cached(sql)?;
        for index in 1..=statement.parameter_count() {
            let name = statement.parameter_name(index).unwrap_or("?");
            if name.strip_prefix('$') != Some(index.to_string().as_str()) {
                return Err(StoreError::Backend(std::sync::Arc::new(
                    rusqlite::Error::InvalidParameterName(format!(
                        "{name} is parameter {index} of {sql}"
                    )),
                )));
            }
        }
        Ok(statement)
    }

    fn rows(
        statement: &mut Statement<'_>,
        params: &[Param<'_>],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let width = statement.column_count();
        let mut rows = statement
            .query(params_from_iter(params))
            .map_err(map_error)?;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(row) = rows.next().map_err(map_error)? else {
                break;
            };
            let cells = (0..width)
                .map(|index| cell(row.get_ref(index)?))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Row(cells));
        }
        Ok(out)
    }
}

impl Db for SqliteDb<'_> {
    const LOCK_REFERENCED: &'static str = "";
    const LOCK_GROUP_TREE: Option<&'static str> = None;
    // AUTOINCREMENT: a deleted row's id is never handed out again.
    const DDL_WORDS: &'static [(&'static str, &'static str)] = &[
        ("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        ("{int}", "INTEGER"),
        ("{bool}", "INTEGER"),
        ("{false}", "0"),
        ("{true}", "1"),
    ];
    const LOCK_SCHEMA: Option<&'static str> = None;

    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(map_error)
    }

    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let changed = self
            .prepare(sql)?
            .execute(params_from_iter(params))
            .map_err(map_error)?;
        Ok(changed as u64)
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError> {
        Ok(Self::rows(&mut *self.prepare(sql)?, params, 1)?.pop())
    }

    async fn fetch_all(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        Self::rows(&mut *self.prepare(sql)?, params, usize::MAX)
    }
}

impl SqliteStore {
    /// Runs a registry change in one IMMEDIATE transaction.
    pub(crate) async fn registry_write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteDb<'_>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.write(move |conn| f(&mut SqliteDb { conn })).await
    }

    /// Runs a registry read on a pooled reader.
    pub(crate) async fn registry_read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteDb<'_>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.read(move |_, conn| f(&mut SqliteDb { conn })).await
    }

    /// Runs registry reads that must agree in one read transaction.
    pub(crate) async fn registry_snapshot<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteDb<'_>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.read_tx(move |conn| f(&mut SqliteDb { conn })).await
    }

    /// The writer's per-device memory goes with a deleted device.
    pub(crate) async fn device_deleted(&self, id: DeviceId) -> Result<(), StoreError> {
        if self.inner.writer.is_none() {
            return Ok(());
        }
        self.on_writer(move |writer| {
            writer.forget_device(id);
            Ok(())
        })
        .await
    }

    pub(crate) async fn insert_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        self.write(move |conn| events::insert(conn, &event)).await
    }

    pub(crate) async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.read(move |_, conn| events::by_id(conn, id)).await
    }

    pub(crate) async fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let query = query.clone();
        self.read(move |_, conn| events::range(conn, &query)).await
    }

    pub(crate) async fn count_events(&self, query: &EventQuery) -> Result<u64, StoreError> {
        let query = query.clone();
        self.read(move |_, conn| events::count(conn, &query)).await
    }
}
