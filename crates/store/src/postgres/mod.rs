//! The PostgreSQL backend, for deployments that outgrow one machine.
//!
//! Performance targets apply to SQLite; this backend favours simplicity and
//! sharing between several trackd nodes: sequence counters live in
//! `device_sequences`, de-duplication is the `positions` primary key, and
//! a tokio task group-commits appends (`synchronous_commit = on`).

mod events;
mod latest;
pub(crate) mod migrations;
mod partitions;
mod positions;
mod registry;

use std::str::FromStr;
use std::sync::Mutex;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use trackd_model::{DeviceId, Position, PositionId, StoredPosition, Timestamp};

use crate::links::Table;
use crate::{ConnectFailure, StoreError};

/// Whether row `id` of `table` exists; locks it (`FOR KEY SHARE`) until
/// the transaction ends, so a concurrent delete waits.
pub(crate) async fn exists(
    conn: &mut PgConnection,
    table: Table,
    id: i64,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 FROM {} WHERE id = $1 FOR KEY SHARE", table.name());
    let found: Option<i32> = sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}
use positions::{AppendRequest, Command};

/// How long opening the store waits for PostgreSQL to answer.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The user-facing reason of a failed connection attempt.
fn connect_failure(options: &PgConnectOptions, error: &sqlx::Error) -> ConnectFailure {
    match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            ConnectFailure::Refused
        }
        sqlx::Error::PoolTimedOut => ConnectFailure::Timeout(CONNECT_TIMEOUT.as_secs()),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_password, invalid_authorization_specification (an
            // unknown role, no pg_hba.conf entry)
            Some("28P01") | Some("28000") => ConnectFailure::Authentication {
                user: options.get_username().to_owned(),
                message: db.message().to_owned(),
            },
            // invalid_catalog_name
            Some("3D000") => ConnectFailure::NoSuchDatabase(
                options.get_database().unwrap_or_default().to_owned(),
            ),
            _ => ConnectFailure::Other(db.message().to_owned()),
        },
        other => ConnectFailure::Other(other.to_string()),
    }
}

/// The PostgreSQL store.
pub(crate) struct PgStore {
    pool: PgPool,
    partitions: partitions::Partitions,
    writer: Option<mpsc::UnboundedSender<Command>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PgStore {
    pub(crate) async fn open(url: &str, read_only: bool) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::InvalidConfig(format!("postgres url: {error}")))?
            .options([("synchronous_commit", "on")]);
        // One plain connection first: the pool retries a refused
        // connection until its timeout and then only says it timed out,
        // while the user needs to know whether the server is down, the
        // login is wrong or the database is missing.
        let addr = format!("{}:{}", options.get_host(), options.get_port());
        let connect_error = |reason| StoreError::Connect {
            addr: addr.clone(),
            reason,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Err(_) => {
                return Err(connect_error(ConnectFailure::Timeout(
                    CONNECT_TIMEOUT.as_secs(),
                )))
            }
            Ok(Err(error)) => return Err(connect_error(connect_failure(&options, &error))),
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
        }
        // The pool keeps its own (longer) acquire timeout for later, busy
        // moments; only opening is bounded by CONNECT_TIMEOUT.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone());
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT, pool).await {
            Err(_) => {
                return Err(connect_error(ConnectFailure::Timeout(
                    CONNECT_TIMEOUT.as_secs(),
                )))
            }
            Ok(Err(error)) => return Err(connect_error(connect_failure(&options, &error))),
            Ok(Ok(pool)) => pool,
        };
        // Read-only (another node owns the positions) still migrates and
        // writes the registry; it only runs no position writer.
        migrations::apply(&pool).await?;
        let partitions = partitions::Partitions::load(&pool).await?;
        if read_only {
            return Ok(PgStore {
                pool,
                partitions,
                writer: None,
                task: Mutex::new(None),
            });
        }
        partitions.rehome_default(&pool).await?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(positions::run_writer(
            pool.clone(),
            partitions.clone(),
            receiver,
        ));
        Ok(PgStore {
            pool,
            partitions,
            writer: Some(sender),
            task: Mutex::new(Some(task)),
        })
    }

    pub(crate) async fn append_batch(
        &self,
        device_id: DeviceId,
        positions: Vec<Position>,
        events: Vec<crate::BatchEvent>,
    ) -> Result<crate::Appended, StoreError> {
        let writer = self.writer.as_ref().ok_or(StoreError::ReadOnly)?;
        u32::try_from(positions.len()).map_err(|_| StoreError::SequenceExhausted(device_id))?;
        let records = positions.iter().map(positions::encode).collect();
        let (reply, response) = oneshot::channel();
        writer
            .send(Command::Append(AppendRequest {
                device_id,
                records,
                events,
                reply,
            }))
            .map_err(|_| StoreError::Closed)?;
        response.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn positions(
        &self,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPosition>, StoreError> {
        positions::range(&self.pool, device_id, from, to).await
    }

    pub(crate) async fn latest_position(
        &self,
        device_id: DeviceId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        let mut latest = latest::of(&self.pool, &[device_id]).await?;
        Ok(latest.pop().flatten())
    }

    pub(crate) async fn latest_positions(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<StoredPosition>>, StoreError> {
        latest::of(&self.pool, device_ids).await
    }

    pub(crate) async fn latest_references(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<(Timestamp, PositionId)>>, StoreError> {
        latest::references(&self.pool, device_ids).await
    }

    pub(crate) async fn position_by_id(
        &self,
        id: PositionId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        positions::by_id(&self.pool, id).await
    }

    pub(crate) async fn count_positions_in(
        &self,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StoreError> {
        positions::count_in(&self.pool, device_id, from, to).await
    }

    pub(crate) async fn count_positions(&self, device_id: DeviceId) -> Result<u64, StoreError> {
        positions::count(&self.pool, device_id).await
    }

    pub(crate) async fn purge_positions(
        &self,
        device: Option<DeviceId>,
        before: Timestamp,
    ) -> Result<crate::Purged, StoreError> {
        if self.writer.is_none() {
            return Err(StoreError::ReadOnly);
        }
        let purged = self
            .partitions
            .purge(&self.pool, device, before.as_millis())
            .await?;
        latest::forget_before(&self.pool, device, before.as_millis()).await?;
        Ok(purged)
    }

    /// Nothing to compact: rows are final when committed.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    pub(crate) async fn disk_usage_bytes(&self) -> Result<u64, StoreError> {
        positions::disk_usage(&self.pool).await
    }

    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        if let Some(writer) = &self.writer {
            let (reply, response) = oneshot::channel();
            if writer.send(Command::Close(reply)).is_ok() {
                let _ = response.await;
            }
        }
        let task = self
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task {
            task.await.map_err(|_| StoreError::Closed)?;
        }
        self.pool.close().await;
        Ok(())
    }
}
