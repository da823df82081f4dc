//! Positions on PostgreSQL: the group-commit writer task and the reads.
//!
//! Each position is one row `(device_id, fix_time, digest, seq, data)`;
//! `data` is the codec's one-record blob and `digest` the FNV-1a hash of the
//! record's content without server time, so a resent record hits the
//! primary key and `ON CONFLICT DO NOTHING` keeps the first arrival.

use std::collections::{BTreeMap, HashSet};

use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, oneshot};
use trackd_model::{DeviceId, EventId, Position, PositionId, StoredPosition, Timestamp};

use super::partitions::Partitions;
use crate::encoding::{content_key, decode_records, encode_records, fnv1a64};
use crate::{Appended, BatchEvent, StoreError};

/// One record ready to insert (encoded by the caller, off the writer task).
pub(crate) struct EncodedRecord {
    fix_time: i64,
    server_time: i64,
    digest: i64,
    data: Vec<u8>,
    /// Not marked implausible at ingest: may become the latest position.
    plausible: bool,
}

pub(crate) fn encode(position: &Position) -> EncodedRecord {
    EncodedRecord {
        fix_time: position.fix_time.as_millis(),
        server_time: position.server_time.as_millis(),
        digest: fnv1a64(&content_key(position)) as i64,
        data: encode_records(std::iter::once((0u32, position))),
        plausible: !position.is_implausible(),
    }
}

pub(crate) struct AppendRequest {
    pub(crate) device_id: DeviceId,
    pub(crate) records: Vec<EncodedRecord>,
    /// Events committed in the same transaction.
    pub(crate) events: Vec<BatchEvent>,
    /// Resolved after the commit with the records' ids and the stored events.
    pub(crate) reply: oneshot::Sender<Result<Appended, StoreError>>,
}

pub(crate) enum Command {
    Append(AppendRequest),
    Close(oneshot::Sender<()>),
}

/// Upper bound of records in one group commit.
const MAX_BATCH_RECORDS: usize = 50_000;

/// The writer task: drains every queued append, writes them in one
/// transaction, commits, then resolves every waiter.
pub(crate) async fn run_writer(
    pool: PgPool,
    partitions: Partitions,
    mut receiver: mpsc::UnboundedReceiver<Command>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Vec::new();
        let mut close = None;
        let mut n_records = 0;
        let mut next = Some(first);
        while let Some(command) = next {
            match command {
                Command::Append(request) => {
                    n_records += request.records.len();
                    batch.push(request);
                }
                Command::Close(reply) => {
                    close = Some(reply);
                    break;
                }
            }
            if n_records >= MAX_BATCH_RECORDS {
                break;
            }
            next = receiver.try_recv().ok();
        }
        if !batch.is_empty() {
            commit_batch(&pool, &partitions, batch).await;
        }
        if let Some(reply) = close {
            let _ = reply.send(());
            return;
        }
    }
}

async fn commit_batch(pool: &PgPool, partitions: &Partitions, batch: Vec<AppendRequest>) {
    match write_batch(pool, partitions, &batch).await {
        Ok(outcomes) => {
            for (request, outcome) in batch.into_iter().zip(outcomes) {
                let reply = outcome.map(|(ids, event_ids)| {
                    let events = request
                        .events
                        .into_iter()
                        .zip(event_ids)
                        .map(|(event, id)| crate::stored_event(id, event, &ids))
                        .collect();
                    Appended { ids, events }
                });
                let _ = request.reply.send(reply);
            }
        }
        Err(error) => {
            tracing::error!(%error, "postgres group commit failed; no append in it is acknowledged");
            for request in batch {
                let _ = request.reply.send(Err(error.clone()));
            }
        }
    }
}

/// Per request: the records' ids and the stored events' ids.
type Outcome = Result<(Vec<PositionId>, Vec<EventId>), StoreError>;

async fn write_batch(
    pool: &PgPool,
    partitions: &Partitions,
    batch: &[AppendRequest],
) -> Result<Vec<Outcome>, StoreError> {
    let times: Vec<i64> = batch
        .iter()
        .flat_map(|request| request.records.iter().map(|record| record.fix_time))
        .collect();
    partitions.ensure_for(pool, &times).await?;
    let mut tx = pool.begin().await?;
    // Sequence numbers for every device in the batch, in id order so that
    // concurrent nodes lock the counters in the same order.
    let mut wanted: BTreeMap<DeviceId, i64> = BTreeMap::new();
    for request in batch {
        *wanted.entry(request.device_id).or_default() += request.records.len() as i64;
    }
    let ids: Vec<DeviceId> = wanted.keys().copied().collect();
    let known: HashSet<DeviceId> = sqlx::query_scalar("SELECT id FROM devices WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    wanted.retain(|device_id, _| known.contains(device_id));
    let (ids, counts): (Vec<DeviceId>, Vec<i64>) = wanted.iter().map(|(id, n)| (*id, *n)).unzip();
    let rows = sqlx::query(
        "INSERT INTO device_sequences (device_id, next_seq)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[]) ORDER BY 1
         ON CONFLICT (device_id) DO UPDATE SET next_seq = device_sequences.next_seq + EXCLUDED.next_seq
         RETURNING device_id, next_seq",
    )
    .bind(&ids)
    .bind(&counts)
    .fetch_all(&mut *tx)
    .await?;
    // Next free sequence of each device for this batch.
    let mut cursor: BTreeMap<DeviceId, i64> = BTreeMap::new();
    for row in rows {
        let device_id: DeviceId = row.try_get(0)?;
        let end: i64 = row.try_get(1)?;
        cursor.insert(
            device_id,
            end - wanted.get(&device_id).copied().unwrap_or(0),
        );
    }
    let (mut device_ids, mut fix_times, mut digests, mut seqs, mut datas) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut server_times, mut plausible) = (Vec::new(), Vec::new());
    let mut outcomes = Vec::with_capacity(batch.len());
    for request in batch {
        let Some(next) = cursor.get_mut(&request.device_id) else {
            outcomes.push(Err(StoreError::NotFound));
            continue;
        };
        let end = *next + request.records.len() as i64;
        let first = match u32::try_from(*next) {
            Ok(first) if end <= i64::from(u32::MAX) + 1 => first,
            _ => {
                outcomes.push(Err(StoreError::SequenceExhausted(request.device_id)));
                continue;
            }
        };
        let mut ids = Vec::with_capacity(request.records.len());
        for record in &request.records {
            device_ids.push(request.device_id);
            fix_times.push(record.fix_time);
            digests.push(record.digest);
            seqs.push(*next);
            datas.push(record.data.as_slice());
            plausible.push(record.plausible);
            server_times.push(record.server_time);
            ids.push(StoredPosition::make_id(
                request.device_id,
                first + (ids.len() as u32),
            ));
            *next += 1;
        }
        outcomes.push(Ok((ids, Vec::new())));
    }
    sqlx::query(
        "INSERT INTO positions (device_id, fix_time, digest, seq, data)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BYTEA[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&device_ids)
    .bind(&fix_times)
    .bind(&digests)
    .bind(&seqs)
    .bind(&datas)
    .execute(&mut *tx)
    .await?;
    // Each device's best plausible record of the batch replaces its latest
    // row only when later (on equal fix times the earlier arrival stays).
    // A best record that was a resend (not inserted) never replaces it: its
    // first arrival, same fix time and smaller sequence, is still stored,
    // so the latest row is that arrival or later (see latest.rs).
    let mut best: BTreeMap<DeviceId, usize> = BTreeMap::new();
    for (k, device_id) in device_ids.iter().enumerate() {
        if !plausible[k] {
            continue;
        }
        let better = |current: &usize| {
            (fix_times[k], std::cmp::Reverse(seqs[k]))
                > (fix_times[*current], std::cmp::Reverse(seqs[*current]))
        };
        match best.get(device_id) {
            Some(current) if !better(current) => {}
            _ => {
                best.insert(*device_id, k);
            }
        }
    }
    if !best.is_empty() {
        let pick = |column: &[i64]| best.values().map(|&k| column[k]).collect::<Vec<i64>>();
        let best_devices: Vec<DeviceId> = best.keys().copied().collect();
        sqlx::query(
            "INSERT INTO latest_positions (device_id, fix_time, seq, server_time)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[])
             ON CONFLICT (device_id) DO UPDATE
                 SET fix_time = EXCLUDED.fix_time, seq = EXCLUDED.seq,
                     server_time = EXCLUDED.server_time
                 WHERE latest_positions.fix_time < EXCLUDED.fix_time
                     OR (latest_positions.fix_time = EXCLUDED.fix_time
                         AND latest_positions.seq > EXCLUDED.seq)",
        )
        .bind(&best_devices)
        .bind(pick(&fix_times))
        .bind(pick(&seqs))
        .bind(pick(&server_times))
        .execute(&mut *tx)
        .await?;
    }
    for (request, outcome) in batch.iter().zip(outcomes.iter_mut()) {
        let Ok((ids, event_ids)) = outcome else {
            continue;
        };
        for event in &request.events {
            let position_id =
                crate::event_position_id(event.position, event.event.position_id, ids);
            event_ids
                .push(super::events::insert_unchecked(&mut tx, &event.event, position_id).await?);
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

pub(crate) fn from_row(
    device_id: DeviceId,
    row: &sqlx::postgres::PgRow,
) -> Result<StoredPosition, StoreError> {
    let seq: i64 = row.try_get(0)?;
    let data: &[u8] = row.try_get(1)?;
    let seq = u32::try_from(seq)
        .map_err(|_| StoreError::Corrupt(format!("sequence {seq} out of range")))?;
    let mut records = decode_records(data, seq)?;
    let record = records.pop().filter(|_| records.is_empty());
    let record = record
        .ok_or_else(|| StoreError::Corrupt("position row does not hold one record".into()))?;
    Ok(StoredPosition {
        id: StoredPosition::make_id(device_id, record.seq),
        device_id,
        position: record.position,
    })
}

pub(crate) async fn range(
    pool: &PgPool,
    device_id: DeviceId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<StoredPosition>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, data FROM positions WHERE device_id = $1 AND fix_time >= $2 AND fix_time < $3
         ORDER BY fix_time, seq",
    )
    .bind(device_id)
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| from_row(device_id, row)).collect()
}

pub(crate) async fn by_id(
    pool: &PgPool,
    id: PositionId,
) -> Result<Option<StoredPosition>, StoreError> {
    let device_id = StoredPosition::device_of_id(id);
    let row = sqlx::query("SELECT seq, data FROM positions WHERE device_id = $1 AND seq = $2")
        .bind(device_id)
        .bind(i64::from(id.sequence()))
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(|row| from_row(device_id, row)).transpose()
}

pub(crate) async fn count_in(
    pool: &PgPool,
    device_id: DeviceId,
    from: Timestamp,
    to: Timestamp,
) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM positions WHERE device_id = $1 AND fix_time >= $2 AND fix_time < $3",
    )
    .bind(device_id)
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_one(pool)
    .await?;
    u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))
}

pub(crate) async fn count(pool: &PgPool, device_id: DeviceId) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM positions WHERE device_id = $1")
        .bind(device_id)
        .fetch_one(pool)
        .await?;
    u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))
}

pub(crate) async fn disk_usage(pool: &PgPool) -> Result<u64, StoreError> {
    let bytes: i64 = sqlx::query_scalar(
        "SELECT (COALESCE(SUM(pg_total_relation_size(inhrelid)), 0)
                 + pg_total_relation_size('positions'))::BIGINT
         FROM pg_inherits WHERE inhparent = 'positions'::regclass",
    )
    .fetch_one(pool)
    .await?;
    u64::try_from(bytes).map_err(|_| StoreError::Corrupt("negative relation size".into()))
}
