//! The PostgreSQL side of the registry seam ([`crate::registry`]): a
//! [`Db`] over a pooled connection or a transaction, and where each kind of
//! registry call runs. Allowed in read-only mode too. Events keep their own
//! PostgreSQL code (`events.rs`) and are only routed here.

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Column, PgConnection, Postgres, Row as _, Transaction, TypeInfo, ValueRef};
use trackd_model::{DeviceId, Event, EventId, NewEvent, Timestamp};

use super::{events, PgStore};
use crate::registry::db::{Cell, Db, Param, Row};
use crate::StoreError;

/// Where a registry call runs: a transaction (writes, snapshots) or a bare
/// pooled connection (single reads, no BEGIN/COMMIT round trips).
pub(crate) enum PgSession {
    Tx(Transaction<'static, Postgres>),
    Conn(PoolConnection<Postgres>),
}

impl PgSession {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            PgSession::Tx(tx) => tx,
            PgSession::Conn(conn) => conn,
        }
    }

    /// Commits on success; on error the transaction is rolled back as it drops.
    pub(crate) async fn finish<R>(self, result: Result<R, StoreError>) -> Result<R, StoreError> {
        let value = result?;
        if let PgSession::Tx(tx) = self {
            tx.commit().await?;
        }
        Ok(value)
    }
}

fn bind<'q>(sql: &'q str, params: &'q [Param<'q>]) -> Query<'q, Postgres, PgArguments> {
    params
        .iter()
        .fold(sqlx::query(sql), |query, param| match *param {
            Param::Int(value) => query.bind(value),
            Param::Int4(value) => query.bind(value),
            Param::Bool(value) => query.bind(value),
            Param::Text(value) => query.bind(value),
        })
}

/// `Conflict` for a unique violation, else the backend error.
fn map_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            StoreError::Conflict("unique key".into())
        }
        _ => error.into(),
    }
}

fn decode(row: &PgRow) -> Result<Row, StoreError> {
    let mut cells = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        if row.try_get_raw(index)?.is_null() {
            cells.push(Cell::Null);
            continue;
        }
        cells.push(match column.type_info().name() {
            "INT8" => Cell::Int(row.try_get(index)?),
            "INT4" => Cell::Int(row.try_get::<i32, _>(index)?.into()),
            "INT2" => Cell::Int(row.try_get::<i16, _>(index)?.into()),
            "BOOL" => Cell::Bool(row.try_get(index)?),
            "TEXT" | "VARCHAR" => Cell::Text(row.try_get(index)?),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unexpected {other} column {} in the registry",
                    column.name()
                )))
            }
        });
    }
    Ok(Row(cells))
}

impl Db for PgSession {
    const LOCK_REFERENCED: &'static str = " FOR KEY SHARE";
    const LOCK_GROUP_TREE: Option<&'static str> =
        Some("LOCK TABLE groups IN SHARE ROW EXCLUSIVE MODE");

    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let done = bind(sql, params)
            .execute(self.conn())
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError> {
        let row = bind(sql, params)
            .fetch_optional(self.conn())
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode).transpose()
    }

    async fn fetch_all(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        let rows = bind(sql, params)
            .fetch_all(self.conn())
            .await
            .map_err(map_error)?;
        rows.iter().map(decode).collect()
    }
}

impl PgStore {
    /// A transaction for a registry change (READ COMMITTED; the shared code
    /// takes the locks it needs).
    pub(crate) async fn registry_write(&self) -> Result<PgSession, StoreError> {
        Ok(PgSession::Tx(self.pool.begin().await?))
    }

    /// A pooled connection for a registry read.
    pub(crate) async fn registry_read(&self) -> Result<PgSession, StoreError> {
        Ok(PgSession::Conn(self.pool.acquire().await?))
    }

    /// One REPEATABLE READ snapshot for registry reads that must agree.
    pub(crate) async fn registry_snapshot(&self) -> Result<PgSession, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        Ok(PgSession::Tx(tx))
    }

    /// Nothing is kept per device outside the database.
    pub(crate) async fn device_deleted(&self, _id: DeviceId) -> Result<(), StoreError> {
        Ok(())
    }

    pub(crate) async fn insert_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        events::insert(&self.pool, &event).await
    }

    pub(crate) async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        events::by_id(&self.pool, id).await
    }

    pub(crate) async fn events(
        &self,
        device_ids: &[DeviceId],
        types: Option<&[String]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>, StoreError> {
        events::range(&self.pool, device_ids, types, from, to).await
    }
}
