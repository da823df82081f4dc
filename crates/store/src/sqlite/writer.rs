//! The writer thread: owns the write connection, group-commits appends and
//! runs compaction between commits.
//!
//! Each loop turn drains every queued command, inserts all appends into
//! `ingest_log` in ONE transaction, commits (WAL fsync, `synchronous=FULL`),
//! publishes the records to [`Shared`] memory and only then resolves the
//! waiters. A failed commit resolves every waiter of the batch with the
//! error, so nothing is acknowledged. Then at most one bounded compaction
//! slice runs, so a waiting append is delayed by one slice at most.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, TransactionBehavior};
use tokio::sync::oneshot;
use trackd_model::{DeviceId, Position, PositionId, StoredPosition};

use super::compaction::Epoch;
use super::purge::PurgeJob;
use super::{devices, events, migrations, positions, PendingBlob, Shared};

/// One request's share of a group commit, before it is published.
struct Committed {
    seq_first: u32,
    /// The log row, when the request held records.
    log_seq: Option<i64>,
    ids: Vec<PositionId>,
    event_ids: Vec<trackd_model::EventId>,
}
use crate::{Appended, BatchEvent, StoreError};

/// Compact when this many records wait in the log...
pub(crate) const COMPACT_AT_RECORDS: usize = 300_000;
/// ...or when the oldest has waited this long.
pub(crate) const COMPACT_INTERVAL: Duration = Duration::from_secs(30);
/// Upper bound of records in one group commit.
const MAX_BATCH_RECORDS: usize = 200_000;

pub(crate) struct AppendRequest {
    pub(crate) device_id: DeviceId,
    pub(crate) n: u32,
    pub(crate) data: Arc<[u8]>,
    /// The quantized record with the greatest fix time, and its index
    /// (none when the batch holds only events).
    pub(crate) latest: Option<(Box<Position>, u32)>,
    /// Events committed in the same transaction.
    pub(crate) events: Vec<BatchEvent>,
    /// Resolved after the commit with the records' ids and the stored events.
    pub(crate) reply: oneshot::Sender<Result<Appended, StoreError>>,
}

pub(crate) type WriterFn = Box<dyn FnOnce(&mut Writer) + Send>;

pub(crate) enum Command {
    Append(AppendRequest),
    Run(WriterFn),
    Purge(PurgeJob),
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// Opens (creating if needed) a read-write connection with trackd's
/// settings: WAL, `synchronous=FULL`, incremental auto-vacuum.
pub(crate) fn open_write_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // auto_vacuum only takes effect on a new file, before the first table.
    // Checkpoints run on the checkpointer thread; the writer's own
    // autocheckpoint (256 MiB) is only a backstop against starvation.
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA cache_size = -65536;
             PRAGMA wal_autocheckpoint = 65536;",
    )?;
    let journal_mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::InvalidConfig(format!(
            "sqlite journal mode is {journal_mode}, not wal"
        )));
    }
    Ok(conn)
}

/// The next sequence number of a device registered by another process
/// (the CLI) since this writer started; `None` if it is not registered.
fn discover_device(conn: &Connection, device_id: DeviceId) -> Result<Option<u32>, StoreError> {
    if !super::exists(conn, crate::links::Table::Devices, device_id.get())? {
        return Ok(None);
    }
    let next: i64 = conn.query_row(
        "SELECT MAX(COALESCE((SELECT MAX(seq_max) + 1 FROM position_chunks WHERE device_id = ?1), 0),
                    COALESCE((SELECT next_seq FROM position_seq_floor WHERE device_id = ?1), 0))",
        [device_id],
        |row| row.get(0),
    )?;
    u32::try_from(next)
        .map(Some)
        .map_err(|_| StoreError::SequenceExhausted(device_id))
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    path: std::path::PathBuf,
    pub(crate) shared: Arc<Shared>,
    /// Next sequence number per registered device (also the set of known ids).
    pub(crate) next_seq: HashMap<DeviceId, u32>,
    /// Records in the log not yet compacted.
    pub(crate) log_records: usize,
    pub(crate) last_log_seq: i64,
    pub(crate) last_compaction: Instant,
    pub(crate) epoch: Option<Epoch>,
    pub(crate) epochs_started: u64,
    pub(crate) epochs_finished: u64,
    /// Purges in arrival order; the first one runs.
    pub(crate) purges: VecDeque<PurgeJob>,
}

impl Writer {
    /// Opens the write connection, migrates and recovers memory from the log.
    pub(crate) fn open(path: &Path, shared: Arc<Shared>) -> Result<Writer, StoreError> {
        let mut conn = open_write_connection(path)?;
        migrations::apply(&mut conn)?;

        let mut next_seq: HashMap<DeviceId, u32> = devices::all_ids(&conn)?
            .into_iter()
            .map(|id| (id, 0))
            .collect();
        for (device_id, next) in positions::next_seq_floors(&conn)? {
            let next = u32::try_from(next).map_err(|_| StoreError::SequenceExhausted(device_id))?;
            next_seq.insert(device_id, next);
        }
        let mut log_records = 0;
        let mut last_log_seq = 0;
        {
            let mut memory = shared.lock();
            for (device_id, blob) in positions::all_log_blobs(&conn)? {
                let end = blob
                    .seq_first
                    .checked_add(blob.n)
                    .ok_or(StoreError::SequenceExhausted(device_id))?;
                let next = next_seq.entry(device_id).or_insert(0);
                *next = (*next).max(end);
                log_records += blob.n as usize;
                last_log_seq = last_log_seq.max(blob.log_seq);
                let device = memory.entry(device_id).or_default();
                for record in positions::decode_pending(device_id, std::slice::from_ref(&blob))? {
                    if crate::beats(&record, device.latest.as_ref()) {
                        device.latest = Some(record);
                    }
                }
                device.pending.push(blob);
            }
        }
        Ok(Writer {
            conn,
            path: path.to_path_buf(),
            shared,
            next_seq,
            log_records,
            last_log_seq,
            last_compaction: Instant::now(),
            epoch: None,
            epochs_started: 0,
            epochs_finished: 0,
            purges: VecDeque::new(),
        })
    }

    /// The writer loop; returns when closed or when every sender is gone.
    pub(crate) fn run(mut self, receiver: mpsc::Receiver<Command>) {
        let checkpointer = super::checkpointer::Checkpointer::start(&self.path);
        self.serve(&receiver);
        drop(checkpointer);
    }

    fn serve(&mut self, receiver: &mpsc::Receiver<Command>) {
        loop {
            let timeout = if self.epoch.is_some() || self.purging() {
                Duration::ZERO
            } else {
                Duration::from_millis(500)
            };
            let first = match receiver.recv_timeout(timeout) {
                Ok(command) => Some(command),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.abandon_purges();
                    if let Err(error) = self.compact_all() {
                        tracing::error!(%error, "final compaction failed; the log keeps the records");
                    }
                    return;
                }
            };
            let mut batch = Vec::new();
            let mut others = Vec::new();
            let mut batch_records = 0usize;
            let mut next = first;
            while let Some(command) = next {
                match command {
                    Command::Append(request) => {
                        batch_records += request.n as usize;
                        batch.push(request);
                    }
                    other => others.push(other),
                }
                if batch_records >= MAX_BATCH_RECORDS {
                    break;
                }
                next = receiver.try_recv().ok();
            }
            if !batch.is_empty() {
                self.commit_batch(batch);
            }
            for command in others {
                match command {
                    Command::Run(f) => f(self),
                    Command::Purge(job) => self.start_purge(job),
                    Command::Close(reply) => {
                        self.abandon_purges();
                        let result = self.compact_all().and_then(|()| self.checkpoint());
                        let _ = reply.send(result);
                        return;
                    }
                    Command::Append(_) => {}
                }
            }
            self.maybe_compact();
            self.purge_step();
        }
    }

    fn commit_batch(&mut self, batch: Vec<AppendRequest>) {
        let mut outcome: Vec<Result<Committed, StoreError>> = Vec::with_capacity(batch.len());
        let mut assigned: HashMap<DeviceId, u32> = HashMap::new();
        let result = (|| -> Result<(), StoreError> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO ingest_log (device_id, seq_first, n, data) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for request in &batch {
                    let device_id = request.device_id;
                    let known = assigned
                        .get(&device_id)
                        .or_else(|| self.next_seq.get(&device_id))
                        .copied();
                    let base = match known {
                        Some(base) => base,
                        None => match discover_device(&tx, device_id)? {
                            Some(base) => base,
                            None => {
                                outcome.push(Err(StoreError::NotFound));
                                continue;
                            }
                        },
                    };
                    let Some(end) = base.checked_add(request.n) else {
                        outcome.push(Err(StoreError::SequenceExhausted(device_id)));
                        continue;
                    };
                    let log_seq = if request.n > 0 {
                        insert.execute(params![device_id, base, request.n, &request.data[..]])?;
                        Some(tx.last_insert_rowid())
                    } else {
                        None
                    };
                    let ids: Vec<PositionId> = (0..request.n)
                        .map(|i| StoredPosition::make_id(device_id, base + i))
                        .collect();
                    let mut event_ids = Vec::with_capacity(request.events.len());
                    for event in &request.events {
                        let position_id =
                            crate::event_position_id(event.position, event.event.position_id, &ids);
                        event_ids.push(events::insert_unchecked(&tx, &event.event, position_id)?);
                    }
                    outcome.push(Ok(Committed {
                        seq_first: base,
                        log_seq,
                        ids,
                        event_ids,
                    }));
                    assigned.insert(device_id, end);
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(error) = result {
            tracing::error!(%error, "group commit failed; no append in it is acknowledged");
            for request in batch {
                let _ = request.reply.send(Err(error.clone()));
            }
            return;
        }
        self.next_seq.extend(assigned);
        let mut replies = Vec::with_capacity(batch.len());
        {
            let mut memory = self.shared.lock();
            for (request, outcome) in batch.into_iter().zip(outcome) {
                let committed = match outcome {
                    Ok(committed) => committed,
                    Err(error) => {
                        replies.push((request.reply, Err(error)));
                        continue;
                    }
                };
                if let Some(log_seq) = committed.log_seq {
                    let device = memory.entry(request.device_id).or_default();
                    // A batch of only implausible records has no latest
                    // candidate but is pending all the same.
                    if let Some((latest, latest_index)) = request.latest {
                        let latest = StoredPosition {
                            id: StoredPosition::make_id(
                                request.device_id,
                                committed.seq_first + latest_index,
                            ),
                            device_id: request.device_id,
                            position: *latest,
                        };
                        if crate::beats(&latest, device.latest.as_ref()) {
                            device.latest = Some(latest);
                        }
                    }
                    device.pending.push(PendingBlob {
                        log_seq,
                        seq_first: committed.seq_first,
                        n: request.n,
                        data: request.data,
                    });
                    self.log_records += request.n as usize;
                    self.last_log_seq = log_seq;
                }
                let events = request
                    .events
                    .into_iter()
                    .zip(committed.event_ids)
                    .map(|(event, id)| crate::stored_event(id, event, &committed.ids))
                    .collect();
                replies.push((
                    request.reply,
                    Ok(Appended {
                        ids: committed.ids,
                        events,
                    }),
                ));
            }
        }
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
    }

    /// Forgets a deleted device, so later appends to it fail.
    pub(crate) fn forget_device(&mut self, device_id: DeviceId) {
        self.next_seq.remove(&device_id);
    }

    /// Compacts everything, returns free pages to the file system and checkpoints.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        self.compact_all()?;
        // Each step of incremental_vacuum frees pages: run it to the end.
        let mut vacuum = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        drop(vacuum);
        self.checkpoint()
    }

    /// Copies the WAL into the database file and truncates it.
    pub(crate) fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}
