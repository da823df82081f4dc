//! The embedded SQLite backend.
//!
//! Layout (one file, WAL, `synchronous=FULL`):
//! - `ingest_log(seq, device_id, seq_first, n, data)`: every append request
//!   becomes one row, inserted in rowid order by the writer thread's group
//!   commit, so a commit touches the end of one b-tree, not a page per
//!   device. `data` is the codec's blob with sequence numbers relative to
//!   `seq_first`.
//! - `position_chunks(device_id, t_first, t_last, seq_min, seq_max, n,
//!   data)`, indexed by `(device_id, t_first)`: per-device runs of up to 512
//!   positions sorted by (fix_time, seq), strictly non-overlapping in time,
//!   de-duplicated, delta-encoded.
//! - Compaction (in the writer thread, in bounded slices so ACK latency
//!   stays low) moves log records into chunks; the log rows of a compaction
//!   epoch are deleted when its last slice commits. It is idempotent: a
//!   crash between slices replays records that de-duplicate by sequence.
//!
//! Records that are committed but not yet compacted are also held in
//! memory ([`Shared`]) so reads see them without scanning the log; a reader
//! snapshots that memory *before* reading the database, so a record moving
//! from log to chunk is seen at least once and de-duplicated by sequence.

mod checkpointer;
mod compaction;
mod devices;
mod events;
pub(crate) mod migrations;
mod positions;
mod purge;
mod registry;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;
use trackd_model::{DeviceId, Position, PositionId, StoredPosition, Timestamp};

use crate::encoding::{encode_records, quantize};
use crate::links::Table;
use crate::StoreError;
use writer::{AppendRequest, Command, Writer};

/// A committed, not yet compacted append (one `ingest_log` row).
#[derive(Clone)]
pub(crate) struct PendingBlob {
    pub(crate) log_seq: i64,
    pub(crate) seq_first: u32,
    pub(crate) n: u32,
    pub(crate) data: Arc<[u8]>,
}

/// Per-device memory shared by the writer and the readers.
#[derive(Default)]
pub(crate) struct DeviceMemory {
    pub(crate) pending: Vec<PendingBlob>,
    pub(crate) latest: Option<StoredPosition>,
    /// Whether `latest` already accounts for the compacted chunks.
    pub(crate) latest_complete: bool,
}

#[derive(Default)]
pub(crate) struct Shared {
    devices: Mutex<HashMap<DeviceId, DeviceMemory>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<DeviceId, DeviceMemory>> {
        // A panic while holding the lock cannot leave the map half-updated
        // in a way reads could misinterpret, so poisoning is ignored.
        self.devices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pending(&self, device_id: DeviceId) -> Vec<PendingBlob> {
        self.lock()
            .get(&device_id)
            .map(|memory| memory.pending.clone())
            .unwrap_or_default()
    }
}

/// A small pool of read connections (rusqlite connections are not `Sync`).
struct ReaderPool {
    path: PathBuf,
    read_only: bool,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn open_connection(&self) -> Result<Connection, StoreError> {
        let flags = if self.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA query_only = 1; PRAGMA cache_size = -16384;")?;
        Ok(conn)
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.open_connection()?,
        };
        let result = f(&mut conn);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < 8 {
            idle.push(conn);
        }
        result
    }
}

/// Whether row `id` of `table` exists.
pub(crate) fn exists(conn: &Connection, table: Table, id: i64) -> Result<bool, StoreError> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)",
        table.name()
    );
    let mut statement = conn.prepare_cached(&sql)?;
    Ok(statement.query_row([id], |row| row.get(0))?)
}

struct Inner {
    path: PathBuf,
    read_only: bool,
    shared: Arc<Shared>,
    readers: ReaderPool,
    /// Read-only mode: the connection for registry writes (there is no
    /// writer thread). Otherwise registry writes run on the writer thread.
    registry: Option<Mutex<Connection>>,
    writer: Option<mpsc::Sender<Command>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The SQLite store.
pub(crate) struct SqliteStore {
    inner: Arc<Inner>,
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StoreError::Closed)?
}

impl SqliteStore {
    pub(crate) async fn open(path: &Path, read_only: bool) -> Result<SqliteStore, StoreError> {
        let path = path.to_path_buf();
        let shared = Arc::new(Shared::default());
        let readers = ReaderPool {
            path: path.clone(),
            read_only,
            idle: Mutex::new(Vec::new()),
        };
        if read_only {
            // Another process may own the positions: migrate (idempotent,
            // serialised by IMMEDIATE transactions) and keep one connection
            // for registry writes, but start no writer and never compact.
            let registry = {
                let path = path.clone();
                blocking(move || {
                    let mut conn = writer::open_write_connection(&path)?;
                    migrations::apply(&mut conn)?;
                    Ok(conn)
                })
                .await?
            };
            let inner = Inner {
                path,
                read_only,
                shared,
                readers,
                registry: Some(Mutex::new(registry)),
                writer: None,
                thread: Mutex::new(None),
            };
            return Ok(SqliteStore {
                inner: Arc::new(inner),
            });
        }
        let writer = {
            let path = path.clone();
            let shared = shared.clone();
            blocking(move || Writer::open(&path, shared)).await?
        };
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("trackd-sqlite-writer".into())
            .spawn(move || writer.run(receiver))?;
        let inner = Inner {
            path,
            read_only,
            shared,
            readers,
            registry: None,
            writer: Some(sender),
            thread: Mutex::new(Some(thread)),
        };
        let store = SqliteStore {
            inner: Arc::new(inner),
        };
        // Compact whatever the log holds from the last run before serving.
        store.flush().await?;
        Ok(store)
    }

    fn send(&self, command: Command) -> Result<(), StoreError> {
        let writer = self.inner.writer.as_ref().ok_or(StoreError::ReadOnly)?;
        writer.send(command).map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on the writer thread and waits for its result.
    async fn on_writer<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Run(Box::new(move |writer| {
            let _ = reply.send(f(writer));
        })))?;
        response.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner, &mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = self.inner.clone();
        blocking(move || inner.readers.with(|conn| f(&inner, conn))).await
    }

    /// Runs `f` in a read transaction with this device's committed but not
    /// yet compacted records. The writer's memory is snapshotted *before*
    /// the transaction starts, so a record moving from the log into a chunk
    /// meanwhile is seen at least once (duplicates are removed by sequence);
    /// a read-only store scans the log inside the transaction instead.
    async fn read_device<R: Send + 'static>(
        &self,
        device_id: DeviceId,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &[PendingBlob]) -> Result<R, StoreError>
            + Send
            + 'static,
    ) -> Result<R, StoreError> {
        self.read(move |inner, conn| {
            let memory = if inner.read_only {
                Vec::new()
            } else {
                inner.shared.pending(device_id)
            };
            let tx = conn.transaction()?;
            let pending = if inner.read_only {
                Self::pending_snapshot(inner, &tx, device_id)?
            } else {
                memory
            };
            f(&tx, &pending)
        })
        .await
    }

    /// Runs `f` in one IMMEDIATE transaction on the connection that writes
    /// the registry (the writer thread's, or the read-only mode's own).
    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        fn run<R>(
            conn: &mut Connection,
            f: impl FnOnce(&Connection) -> Result<R, StoreError>,
        ) -> Result<R, StoreError> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let result = f(&tx)?;
            tx.commit()?;
            Ok(result)
        }
        if self.inner.registry.is_some() {
            let inner = self.inner.clone();
            return blocking(move || {
                let Some(registry) = &inner.registry else {
                    return Err(StoreError::Closed);
                };
                let mut conn = registry
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                run(&mut conn, f)
            })
            .await;
        }
        self.on_writer(move |writer| run(&mut writer.conn, f)).await
    }

    /// Runs `f` on a reader connection inside one read transaction.
    async fn read_tx<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.read(move |_, conn| {
            let tx = conn.transaction()?;
            f(&tx)
        })
        .await
    }

    pub(crate) async fn append_batch(
        &self,
        device_id: DeviceId,
        positions: Vec<Position>,
        events: Vec<crate::BatchEvent>,
    ) -> Result<crate::Appended, StoreError> {
        if self.inner.read_only {
            return Err(StoreError::ReadOnly);
        }
        let n =
            u32::try_from(positions.len()).map_err(|_| StoreError::SequenceExhausted(device_id))?;
        let data: Arc<[u8]> =
            encode_records(positions.iter().enumerate().map(|(i, p)| (i as u32, p))).into();
        let latest = crate::latest_index(&positions)
            .map(|index| (Box::new(quantize(&positions[index])), index as u32));
        let (reply, response) = oneshot::channel();
        self.send(Command::Append(AppendRequest {
            device_id,
            n,
            data,
            latest,
            events,
            reply,
        }))?;
        response.await.map_err(|_| StoreError::Closed)?
    }

    /// This device's uncompacted records as the readers must see them.
    fn pending_snapshot(
        inner: &Inner,
        conn: &Connection,
        device_id: DeviceId,
    ) -> Result<Vec<PendingBlob>, StoreError> {
        if inner.read_only {
            positions::log_blobs(conn, device_id)
        } else {
            Ok(inner.shared.pending(device_id))
        }
    }

    pub(crate) async fn positions(
        &self,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPosition>, StoreError> {
        self.read_device(device_id, move |tx, pending| {
            positions::range(tx, device_id, from, to, pending)
        })
        .await
    }

    pub(crate) async fn latest_position(
        &self,
        device_id: DeviceId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        let mut latest = self.latest_positions(&[device_id]).await?;
        Ok(latest.pop().flatten())
    }

    pub(crate) async fn latest_positions(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<StoredPosition>>, StoreError> {
        let device_ids = device_ids.to_vec();
        self.read(move |inner, conn| {
            device_ids
                .iter()
                .map(|&device_id| Self::latest_on(inner, conn, device_id))
                .collect()
        })
        .await
    }

    pub(crate) async fn latest_references(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<(Timestamp, PositionId)>>, StoreError> {
        Ok(self
            .latest_positions(device_ids)
            .await?
            .into_iter()
            .map(|latest| latest.map(|p| (p.position.server_time, p.id)))
            .collect())
    }

    /// The latest position of one device on a reader's connection: from
    /// memory once known, else from the chunks (and, read-only, the log).
    fn latest_on(
        inner: &Inner,
        conn: &mut Connection,
        device_id: DeviceId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        if !inner.read_only {
            if let Some(memory) = inner.shared.lock().get(&device_id) {
                if memory.latest_complete {
                    return Ok(memory.latest.clone());
                }
            }
            let from_chunks = positions::latest_in_chunks(conn, device_id)?;
            let mut map = inner.shared.lock();
            let memory = map.entry(device_id).or_default();
            if let Some(candidate) = from_chunks {
                if crate::beats(&candidate, memory.latest.as_ref()) {
                    memory.latest = Some(candidate);
                }
            }
            memory.latest_complete = true;
            return Ok(memory.latest.clone());
        }
        let tx = conn.transaction()?;
        let pending = positions::log_blobs(&tx, device_id)?;
        let mut best = positions::latest_in_chunks(&tx, device_id)?;
        for record in positions::decode_pending(device_id, &pending)? {
            if crate::beats(&record, best.as_ref()) {
                best = Some(record);
            }
        }
        Ok(best)
    }

    pub(crate) async fn position_by_id(
        &self,
        id: PositionId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        let device_id = StoredPosition::device_of_id(id);
        let seq = id.sequence();
        self.read_device(device_id, move |tx, pending| {
            positions::by_seq(tx, device_id, seq, pending)
        })
        .await
    }

    pub(crate) async fn count_positions_in(
        &self,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StoreError> {
        self.read_device(device_id, move |tx, pending| {
            positions::count_in(tx, device_id, from.as_millis(), to.as_millis(), pending)
        })
        .await
    }

    pub(crate) async fn count_positions(&self, device_id: DeviceId) -> Result<u64, StoreError> {
        self.read_device(device_id, move |tx, pending| {
            positions::count(tx, device_id, pending)
        })
        .await
    }

    pub(crate) async fn purge_positions(
        &self,
        device: Option<DeviceId>,
        before: Timestamp,
    ) -> Result<crate::Purged, StoreError> {
        if self.inner.read_only {
            return Err(StoreError::ReadOnly);
        }
        let (reply, response) = oneshot::channel();
        self.send(Command::Purge(purge::PurgeJob::new(
            device,
            before.as_millis(),
            reply,
        )))?;
        response.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        if self.inner.read_only {
            return Ok(());
        }
        self.on_writer(|writer| writer.flush()).await
    }

    pub(crate) async fn disk_usage_bytes(&self) -> Result<u64, StoreError> {
        if !self.inner.read_only {
            self.on_writer(|writer| writer.checkpoint()).await?;
        }
        let path = self.inner.path.clone();
        blocking(move || {
            let mut total = std::fs::metadata(&path)?.len();
            let mut wal = path.into_os_string();
            wal.push("-wal");
            if let Ok(metadata) = std::fs::metadata(&wal) {
                total += metadata.len();
            }
            Ok(total)
        })
        .await
    }

    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        if self.inner.read_only {
            return Ok(());
        }
        let (reply, response) = oneshot::channel();
        if self.send(Command::Close(reply)).is_err() {
            return Ok(()); // already closed
        }
        let result = response.await.map_err(|_| StoreError::Closed)?;
        let thread = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            blocking(move || thread.join().map_err(|_| StoreError::Closed)).await?;
        }
        result
    }
}
