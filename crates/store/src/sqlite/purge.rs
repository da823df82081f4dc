//! Purge: removes positions before a time, by whole chunks.
//!
//! A purge runs on the writer thread as a job of bounded slices between
//! group commits, like compaction, so appends keep their latency:
//! 1. it waits for a compaction epoch that covers every record committed
//!    before the purge began (the log is then empty of them);
//! 2. it deletes chunks that end before the time, a bounded number per
//!    transaction; chunks never span a UTC day, so
//! 3. at most one chunk per device straddles the time; those are decoded,
//!    filtered and rewritten.
//!
//! Before any chunk goes, every affected device's next sequence number is
//! saved in `position_seq_floor`, so a device whose positions are all
//! purged never reuses a position id after a restart. Records committed
//! after the purge began are left alone, whatever their fix time.

use rusqlite::{params, Transaction, TransactionBehavior};
use tokio::sync::oneshot;
use trackd_model::DeviceId;

use super::compaction::write_chunks;
use super::writer::Writer;
use crate::encoding::decode_records;
use crate::{Purged, StoreError};

/// Chunks deleted or rewritten per statement batch...
const SLICE_CHUNKS: usize = 32;
/// ...and the work time after which a slice commits: the delay a waiting
/// group commit sees (a slice's WAL pages also lengthen the next fsync).
const SLICE_TIME: std::time::Duration = std::time::Duration::from_millis(4);

/// What a purge job still has to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Waiting until compaction epoch `n` has finished.
    Compacting(u64),
    /// Deleting chunks that end before the time.
    Dropping,
    /// Rewriting chunks that straddle the time.
    Trimming,
}

/// A purge in progress.
pub(crate) struct PurgeJob {
    device: Option<DeviceId>,
    before: i64,
    phase: Phase,
    floors_saved: bool,
    done: Purged,
    reply: oneshot::Sender<Result<Purged, StoreError>>,
}

impl PurgeJob {
    pub(crate) fn new(
        device: Option<DeviceId>,
        before: i64,
        reply: oneshot::Sender<Result<Purged, StoreError>>,
    ) -> Self {
        PurgeJob {
            device,
            before,
            phase: Phase::Dropping,
            floors_saved: false,
            done: Purged::default(),
            reply,
        }
    }
}

impl Writer {
    /// Queues a purge; a purge already running finishes first.
    pub(crate) fn start_purge(&mut self, mut job: PurgeJob) {
        if self.log_records > 0 {
            // The running epoch (if any) excludes records committed after it
            // began, so the purge needs the next one.
            let target = match &self.epoch {
                Some(_) => self.epochs_started + 1,
                None => {
                    self.start_epoch();
                    self.epochs_started
                }
            };
            job.phase = Phase::Compacting(target);
        }
        self.purges.push_back(job);
    }

    /// Whether a purge job waits for work.
    pub(crate) fn purging(&self) -> bool {
        !self.purges.is_empty()
    }

    /// Runs one slice of the first queued purge.
    pub(crate) fn purge_step(&mut self) {
        let Some(job) = self.purges.front_mut() else {
            return;
        };
        if let Phase::Compacting(target) = job.phase {
            if self.epochs_finished >= target {
                job.phase = Phase::Dropping;
            } else {
                if self.epoch.is_none() {
                    if self.log_records == 0 {
                        job.phase = Phase::Dropping;
                    } else {
                        self.start_epoch();
                    }
                }
                return;
            }
        }
        match self.purge_slice() {
            Ok(true) => {
                if let Some(job) = self.purges.pop_front() {
                    self.forget_purged_latest(job.device, job.before);
                    let _ = job.reply.send(Ok(job.done));
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "purge failed; what it removed so far stays removed");
                if let Some(job) = self.purges.pop_front() {
                    self.forget_purged_latest(job.device, job.before);
                    let _ = job.reply.send(Err(error));
                }
            }
        }
    }

    /// Fails every queued purge (the writer is closing).
    pub(crate) fn abandon_purges(&mut self) {
        for job in self.purges.drain(..) {
            let _ = job.reply.send(Err(StoreError::Closed));
        }
    }

    /// Compaction failed while a purge waited for it: the purge fails too
    /// rather than waiting on a compaction that keeps failing.
    pub(crate) fn fail_waiting_purges(&mut self, error: &StoreError) {
        let waiting: std::collections::VecDeque<PurgeJob> = {
            let (waiting, rest) = self
                .purges
                .drain(..)
                .partition(|job| matches!(job.phase, Phase::Compacting(_)));
            self.purges = rest;
            waiting
        };
        for job in waiting {
            let _ = job.reply.send(Err(error.clone()));
        }
    }

    /// One transaction of the current job; true when the job is finished.
    fn purge_slice(&mut self) -> Result<bool, StoreError> {
        let Some(job) = self.purges.front_mut() else {
            return Ok(true);
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !job.floors_saved {
            save_floors(&tx, &self.next_seq, job.device)?;
        }
        let started = std::time::Instant::now();
        let mut finished = false;
        while !finished && started.elapsed() < SLICE_TIME {
            match job.phase {
                Phase::Dropping => {
                    let dropped = drop_chunks(&tx, job.device, job.before, &mut job.done)?;
                    if dropped < SLICE_CHUNKS {
                        job.phase = Phase::Trimming;
                    }
                }
                Phase::Trimming => {
                    let trimmed = trim_chunks(&tx, job.device, job.before, &mut job.done)?;
                    finished = trimmed < SLICE_CHUNKS;
                }
                Phase::Compacting(_) => break,
            }
        }
        tx.commit()?;
        job.floors_saved = true;
        Ok(finished)
    }

    /// Drops cached latest positions that the purge may have removed, so
    /// the next read finds the latest that remains.
    fn forget_purged_latest(&mut self, device: Option<DeviceId>, before: i64) {
        let mut memory = self.shared.lock();
        for (device_id, entry) in memory.iter_mut() {
            if device.is_some_and(|device| device != *device_id) {
                continue;
            }
            if entry
                .latest
                .as_ref()
                .is_some_and(|latest| latest.position.fix_time.as_millis() < before)
            {
                entry.latest = None;
                entry.latest_complete = false;
            }
        }
    }
}

/// Records every affected device's next sequence number, so ids are not
/// reused once its chunks are gone.
fn save_floors(
    tx: &Transaction<'_>,
    next_seq: &std::collections::HashMap<DeviceId, u32>,
    device: Option<DeviceId>,
) -> Result<(), StoreError> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO position_seq_floor (device_id, next_seq) VALUES (?1, ?2)
         ON CONFLICT (device_id) DO UPDATE SET next_seq = MAX(next_seq, excluded.next_seq)",
    )?;
    for (&device_id, &next) in next_seq {
        if next > 0 && device.is_none_or(|device| device == device_id) {
            upsert.execute(params![device_id, next])?;
        }
    }
    Ok(())
}

/// Deletes up to [`SLICE_CHUNKS`] chunks that end before `before`; returns
/// how many it deleted.
fn drop_chunks(
    tx: &Transaction<'_>,
    device: Option<DeviceId>,
    before: i64,
    done: &mut Purged,
) -> Result<usize, StoreError> {
    let victims: Vec<(i64, i64)> = match device {
        Some(device_id) => {
            let mut statement = tx.prepare_cached(
                "SELECT id, n FROM position_chunks
                 WHERE device_id = ?1 AND t_first < ?2 AND t_last < ?2 LIMIT ?3",
            )?;
            let rows = statement.query_map(params![device_id, before, SLICE_CHUNKS], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
        None => {
            let mut statement = tx.prepare_cached(
                "SELECT id, n FROM position_chunks INDEXED BY position_chunks_time
                 WHERE t_first < ?1 AND t_last < ?1 LIMIT ?2",
            )?;
            let rows = statement.query_map(params![before, SLICE_CHUNKS], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
    };
    let mut delete = tx.prepare_cached("DELETE FROM position_chunks WHERE id = ?1")?;
    for (id, n) in &victims {
        delete.execute([id])?;
        done.positions += u64::try_from(*n).unwrap_or(0);
        done.whole_chunks += 1;
    }
    Ok(victims.len())
}

/// Rewrites up to [`SLICE_CHUNKS`] chunks that start before `before` (after
/// [`drop_chunks`] these all reach past it) without their older records;
/// returns how many it rewrote.
fn trim_chunks(
    tx: &Transaction<'_>,
    device: Option<DeviceId>,
    before: i64,
    done: &mut Purged,
) -> Result<usize, StoreError> {
    let victims: Vec<(i64, DeviceId, Vec<u8>)> = match device {
        Some(device_id) => {
            let mut statement = tx.prepare_cached(
                "SELECT id, device_id, data FROM position_chunks
                 WHERE device_id = ?1 AND t_first < ?2 LIMIT ?3",
            )?;
            let rows = statement.query_map(params![device_id, before, SLICE_CHUNKS], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
        None => {
            let mut statement = tx.prepare_cached(
                "SELECT id, device_id, data FROM position_chunks INDEXED BY position_chunks_time
                 WHERE t_first < ?1 LIMIT ?2",
            )?;
            let rows = statement.query_map(params![before, SLICE_CHUNKS], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
    };
    let mut delete = tx.prepare_cached("DELETE FROM position_chunks WHERE id = ?1")?;
    for (id, device_id, data) in &victims {
        let records = decode_records(data, 0)?;
        let total = records.len();
        let kept: Vec<_> = records
            .into_iter()
            .filter(|record| record.position.fix_time.as_millis() >= before)
            .collect();
        delete.execute([id])?;
        write_chunks(tx, *device_id, &kept)?;
        done.positions += (total - kept.len()) as u64;
        done.rewritten_chunks += 1;
    }
    Ok(victims.len())
}
