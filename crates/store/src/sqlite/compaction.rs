//! Compaction: moves ingest-log records into per-device time-ordered chunks.
//!
//! An epoch covers every log row up to `upto_log_seq`. It proceeds in
//! slices of devices (one transaction each, bounded by
//! [`SLICE_RECORDS`] and [`SLICE_TIME`]) interleaved with group commits. For each device the
//! records go into the chunk whose range could hold them (the last chunk
//! starting at or before their time, or the first chunk), which is
//! decoded, merged, de-duplicated and rewritten, split at about
//! [`MAX_CHUNK_RECORDS`]; records after a chunk that is already
//! [`MIN_FULL_CHUNK`] long start a new chunk instead, so an appending device
//! does not rewrite a full tail. Chunks never share a fix time, which keeps
//! them strictly ordered and lets a duplicate find its original.
//! Chunks never span a UTC day either ([`day_of`]), so a purge before a
//! time drops whole chunks and rewrites at most one per device.
//! The epoch's last slice deletes its log rows. Replaying a slice after a
//! crash is harmless: the same sequence numbers de-duplicate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rusqlite::{params, Transaction, TransactionBehavior};
use trackd_model::DeviceId;

use super::positions::decode_pending_records;
use super::writer::{Writer, COMPACT_AT_RECORDS, COMPACT_INTERVAL};
use crate::encoding::{decode_records, encode_records, merge_dedup, Record};
use crate::StoreError;

/// Pending records compacted per transaction at most...
const SLICE_RECORDS: usize = 8_000;
/// ...and the work time after which a slice commits (bounds the ACK delay).
const SLICE_TIME: Duration = Duration::from_millis(6);
/// A chunk is split when it would exceed this many records.
pub(crate) const MAX_CHUNK_RECORDS: usize = 512;
/// A chunk this long is left alone when newer records arrive.
const MIN_FULL_CHUNK: usize = 256;

pub(crate) struct Epoch {
    /// Counts epochs since the writer started (the first is 1).
    number: u64,
    upto_log_seq: i64,
    n_records: usize,
    devices: VecDeque<DeviceId>,
}

struct ChunkRow {
    id: i64,
    t_first: i64,
    t_last: i64,
    n: usize,
    data: Vec<u8>,
}

impl Writer {
    pub(crate) fn maybe_compact(&mut self) {
        if self.epoch.is_none()
            && self.log_records > 0
            && (self.log_records >= COMPACT_AT_RECORDS
                || self.last_compaction.elapsed() >= COMPACT_INTERVAL)
        {
            self.start_epoch();
        }
        if self.epoch.is_some() {
            if let Err(error) = self.compaction_slice() {
                tracing::error!(%error, "compaction failed; the log keeps the records");
                self.fail_waiting_purges(&error);
                self.epoch = None;
                self.last_compaction = Instant::now();
            }
        }
    }

    pub(crate) fn start_epoch(&mut self) {
        let mut devices: Vec<DeviceId> = self
            .shared
            .lock()
            .iter()
            .filter(|(_, memory)| !memory.pending.is_empty())
            .map(|(device_id, _)| *device_id)
            .collect();
        devices.sort_unstable();
        self.epochs_started += 1;
        self.epoch = Some(Epoch {
            number: self.epochs_started,
            upto_log_seq: self.last_log_seq,
            n_records: self.log_records,
            devices: devices.into(),
        });
    }

    /// Compacts every record in the log now.
    pub(crate) fn compact_all(&mut self) -> Result<(), StoreError> {
        loop {
            if self.epoch.is_none() {
                if self.log_records == 0 {
                    return Ok(());
                }
                self.start_epoch();
            }
            if let Err(error) = self.compaction_slice() {
                self.epoch = None;
                return Err(error);
            }
        }
    }

    /// Runs one slice of the current epoch.
    fn compaction_slice(&mut self) -> Result<(), StoreError> {
        let Some(epoch) = self.epoch.as_mut() else {
            return Ok(());
        };
        let upto = epoch.upto_log_seq;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut done = Vec::new();
        let mut budget = 0;
        let started = Instant::now();
        while budget < SLICE_RECORDS && started.elapsed() < SLICE_TIME {
            let Some(device_id) = epoch.devices.pop_front() else {
                break;
            };
            let blobs: Vec<_> = self
                .shared
                .lock()
                .get(&device_id)
                .map(|memory| {
                    memory
                        .pending
                        .iter()
                        .filter(|blob| blob.log_seq <= upto)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let records = decode_pending_records(&blobs)?;
            budget += records.len() + 1;
            compact_device(&tx, device_id, records)?;
            done.push(device_id);
        }
        let finished = epoch.devices.is_empty();
        if finished {
            tx.execute("DELETE FROM ingest_log WHERE seq <= ?1", [upto])?;
        }
        tx.commit()?;
        {
            let mut memory = self.shared.lock();
            for device_id in done {
                if let Some(device) = memory.get_mut(&device_id) {
                    device.pending.retain(|blob| blob.log_seq > upto);
                }
            }
        }
        if finished {
            self.log_records = self.log_records.saturating_sub(epoch.n_records);
            self.epochs_finished = epoch.number;
            self.epoch = None;
            self.last_compaction = Instant::now();
        }
        Ok(())
    }
}

/// Merges one device's pending records into its chunks.
fn compact_device(
    tx: &Transaction<'_>,
    device_id: DeviceId,
    mut pending: Vec<Record>,
) -> Result<(), StoreError> {
    merge_dedup(&mut pending);
    let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
        return Ok(());
    };
    let (t_min, t_max) = (
        first.position.fix_time.as_millis(),
        last.position.fix_time.as_millis(),
    );
    let chunks = candidate_chunks(tx, device_id, t_min, t_max)?;
    if chunks.is_empty() {
        return write_chunks(tx, device_id, &pending);
    }
    // Group the records by target chunk: the last chunk starting at or
    // before the record, or the first chunk for records before all of them.
    let mut groups: Vec<Vec<Record>> = (0..chunks.len()).map(|_| Vec::new()).collect();
    let mut target = 0;
    for record in pending {
        let time = record.position.fix_time.as_millis();
        while target + 1 < chunks.len() && chunks[target + 1].t_first <= time {
            target += 1;
        }
        groups[target].push(record);
    }
    for (chunk, group) in chunks.into_iter().zip(groups) {
        let Some(first) = group.first() else { continue };
        let after = first.position.fix_time.as_millis() > chunk.t_last;
        if after
            && (chunk.n >= MIN_FULL_CHUNK
                || day_of(chunk.t_last) != day_of(first.position.fix_time.as_millis()))
        {
            write_chunks(tx, device_id, &group)?;
            continue;
        }
        let mut merged = decode_records(&chunk.data, 0)?;
        merged.extend(group);
        merge_dedup(&mut merged);
        tx.execute("DELETE FROM position_chunks WHERE id = ?1", [chunk.id])?;
        write_chunks(tx, device_id, &merged)?;
    }
    Ok(())
}

/// The chunks that could receive records timed `t_min..=t_max`: the last
/// one starting at or before `t_min` and every later one starting by `t_max`.
fn candidate_chunks(
    tx: &Transaction<'_>,
    device_id: DeviceId,
    t_min: i64,
    t_max: i64,
) -> Result<Vec<ChunkRow>, StoreError> {
    let mut statement = tx.prepare_cached(
        "SELECT id, t_first, t_last, n, data FROM position_chunks
         WHERE device_id = ?1
           AND t_first >= COALESCE(
                 (SELECT MAX(t_first) FROM position_chunks WHERE device_id = ?1 AND t_first <= ?2),
                 -9223372036854775808)
           AND t_first <= ?3
         ORDER BY t_first, id",
    )?;
    let rows = statement.query_map(params![device_id, t_min, t_max], |row| {
        Ok(ChunkRow {
            id: row.get(0)?,
            t_first: row.get(1)?,
            t_last: row.get(2)?,
            n: row.get(3)?,
            data: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The UTC day (days since the epoch) of a fix time in milliseconds: the
/// time bucket no chunk crosses.
pub(crate) fn day_of(millis: i64) -> i64 {
    millis.div_euclid(DAY_MILLIS)
}

/// Milliseconds in a UTC day.
pub(crate) const DAY_MILLIS: i64 = 86_400_000;

/// Writes sorted, de-duplicated records as chunks, one UTC day at a time.
pub(crate) fn write_chunks(
    tx: &Transaction<'_>,
    device_id: DeviceId,
    records: &[Record],
) -> Result<(), StoreError> {
    let mut start = 0;
    while start < records.len() {
        let day = day_of(records[start].position.fix_time.as_millis());
        let len = records[start..]
            .iter()
            .position(|record| day_of(record.position.fix_time.as_millis()) != day)
            .unwrap_or(records.len() - start);
        write_day_chunks(tx, device_id, &records[start..start + len])?;
        start += len;
    }
    Ok(())
}

/// Writes one day's sorted records as chunks of at most
/// [`MAX_CHUNK_RECORDS`] (more only when one fix time has that many), never
/// splitting between records of the same fix time.
fn write_day_chunks(
    tx: &Transaction<'_>,
    device_id: DeviceId,
    records: &[Record],
) -> Result<(), StoreError> {
    let n_chunks = records.len().div_ceil(MAX_CHUNK_RECORDS).max(1);
    let target = records.len().div_ceil(n_chunks);
    let mut insert = tx.prepare_cached(
        "INSERT INTO position_chunks (device_id, t_first, t_last, seq_min, seq_max, n, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut start = 0;
    while start < records.len() {
        let mut end = (start + target).min(records.len());
        while end < records.len()
            && records[end].position.fix_time == records[end - 1].position.fix_time
        {
            end += 1;
        }
        let piece = &records[start..end];
        let data = encode_records(piece.iter().map(|record| (record.seq, &record.position)));
        let seq_min = piece.iter().map(|record| record.seq).min().unwrap_or(0);
        let seq_max = piece.iter().map(|record| record.seq).max().unwrap_or(0);
        let t_first = piece[0].position.fix_time.as_millis();
        let t_last = piece[piece.len() - 1].position.fix_time.as_millis();
        insert.execute(params![
            device_id,
            t_first,
            t_last,
            seq_min,
            seq_max,
            piece.len() as i64,
            data
        ])?;
        start = end;
    }
    Ok(())
}
