//! Position reads on SQLite: chunks plus the not yet compacted records.

use rusqlite::{params, Connection};
use trackd_model::{DeviceId, StoredPosition, Timestamp};

use super::PendingBlob;
use crate::encoding::{decode_records, merge_dedup, Record};
use crate::StoreError;

fn to_stored(device_id: DeviceId, record: Record) -> StoredPosition {
    StoredPosition {
        id: StoredPosition::make_id(device_id, record.seq),
        device_id,
        position: record.position,
    }
}

fn blob_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PendingBlob> {
    let data: Vec<u8> = row.get(3)?;
    Ok(PendingBlob {
        log_seq: row.get(0)?,
        seq_first: row.get(1)?,
        n: row.get(2)?,
        data: data.into(),
    })
}

/// Every log row, in commit order (recovery at open).
pub(crate) fn all_log_blobs(conn: &Connection) -> Result<Vec<(DeviceId, PendingBlob)>, StoreError> {
    let mut statement =
        conn.prepare("SELECT seq, seq_first, n, data, device_id FROM ingest_log ORDER BY seq")?;
    let rows = statement.query_map([], |row| Ok((row.get(4)?, blob_from_row(row)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One device's log rows (read-only stores, which have no writer memory).
pub(crate) fn log_blobs(
    conn: &Connection,
    device_id: DeviceId,
) -> Result<Vec<PendingBlob>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, seq_first, n, data FROM ingest_log WHERE device_id = ?1 ORDER BY seq",
    )?;
    let rows = statement.query_map([device_id], blob_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The next free sequence number per device after the chunks and the
/// purge floors (recovery at open; the log is accounted for separately).
pub(crate) fn next_seq_floors(conn: &Connection) -> Result<Vec<(DeviceId, i64)>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT device_id, MAX(next) FROM (
             SELECT device_id, MAX(seq_max) + 1 AS next FROM position_chunks GROUP BY device_id
             UNION ALL
             SELECT device_id, next_seq AS next FROM position_seq_floor)
         GROUP BY device_id",
    )?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn decode_pending_records(blobs: &[PendingBlob]) -> Result<Vec<Record>, StoreError> {
    let mut records = Vec::new();
    for blob in blobs {
        let decoded = decode_records(&blob.data, blob.seq_first)?;
        if decoded.len() != blob.n as usize {
            return Err(StoreError::Corrupt(format!(
                "log row {} holds {} records, not {}",
                blob.log_seq,
                decoded.len(),
                blob.n
            )));
        }
        records.extend(decoded);
    }
    Ok(records)
}

pub(crate) fn decode_pending(
    device_id: DeviceId,
    blobs: &[PendingBlob],
) -> Result<Vec<StoredPosition>, StoreError> {
    Ok(decode_pending_records(blobs)?
        .into_iter()
        .map(|record| to_stored(device_id, record))
        .collect())
}

/// Chunk records with `from <= fix_time < to`, sorted.
fn chunk_records(
    conn: &Connection,
    device_id: DeviceId,
    from: i64,
    to: i64,
) -> Result<Vec<Record>, StoreError> {
    // Chunks are strictly ordered in time, so only the last one starting
    // before `from` can reach into the range from the left.
    let mut statement = conn.prepare_cached(
        "SELECT data FROM position_chunks
         WHERE device_id = ?1
           AND t_first >= COALESCE(
                 (SELECT MAX(t_first) FROM position_chunks WHERE device_id = ?1 AND t_first < ?2), ?2)
           AND t_first < ?3 AND t_last >= ?2
         ORDER BY t_first, id",
    )?;
    let mut rows = statement.query(params![device_id, from, to])?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        let data = row.get_ref(0)?.as_blob()?;
        records.extend(
            decode_records(data, 0)?
                .into_iter()
                .filter(|record| (from..to).contains(&record.position.fix_time.as_millis())),
        );
    }
    Ok(records)
}

fn pending_in(pending: &[PendingBlob], from: i64, to: i64) -> Result<Vec<Record>, StoreError> {
    // Blob by blob: a short range read of a device with a long log must
    // not decode the whole log at once.
    let mut records = Vec::new();
    for blob in pending {
        let mut decoded = decode_pending_records(std::slice::from_ref(blob))?;
        decoded.retain(|record| (from..to).contains(&record.position.fix_time.as_millis()));
        records.append(&mut decoded);
    }
    Ok(records)
}

fn merged_range(
    conn: &Connection,
    device_id: DeviceId,
    from: i64,
    to: i64,
    pending: &[PendingBlob],
) -> Result<Vec<Record>, StoreError> {
    if from >= to {
        return Ok(Vec::new());
    }
    let mut records = chunk_records(conn, device_id, from, to)?;
    let extra = pending_in(pending, from, to)?;
    if !extra.is_empty() {
        records.extend(extra);
        merge_dedup(&mut records);
    }
    Ok(records)
}

pub(crate) fn range(
    conn: &Connection,
    device_id: DeviceId,
    from: Timestamp,
    to: Timestamp,
    pending: &[PendingBlob],
) -> Result<Vec<StoredPosition>, StoreError> {
    let records = merged_range(conn, device_id, from.as_millis(), to.as_millis(), pending)?;
    Ok(records
        .into_iter()
        .map(|record| to_stored(device_id, record))
        .collect())
}

pub(crate) fn latest_in_chunks(
    conn: &Connection,
    device_id: DeviceId,
) -> Result<Option<StoredPosition>, StoreError> {
    // Chunks are strictly ordered in time, so the newest chunk holding a
    // plausible record holds the latest; chunks of only implausible
    // records (a fix dated 2100) are walked past.
    let mut statement = conn.prepare_cached(
        "SELECT data FROM position_chunks WHERE device_id = ?1 ORDER BY t_first DESC, id DESC",
    )?;
    let mut rows = statement.query([device_id])?;
    while let Some(row) = rows.next()? {
        let mut best: Option<StoredPosition> = None;
        for record in decode_records(row.get_ref(0)?.as_blob()?, 0)? {
            let record = to_stored(device_id, record);
            if crate::beats(&record, best.as_ref()) {
                best = Some(record);
            }
        }
        if best.is_some() {
            return Ok(best);
        }
    }
    Ok(None)
}

pub(crate) fn by_seq(
    conn: &Connection,
    device_id: DeviceId,
    seq: u32,
    pending: &[PendingBlob],
) -> Result<Option<StoredPosition>, StoreError> {
    let mut found: Option<Record> = None;
    for blob in pending {
        if (blob.seq_first..blob.seq_first.saturating_add(blob.n)).contains(&seq) {
            found = decode_pending_records(std::slice::from_ref(blob))?
                .into_iter()
                .find(|r| r.seq == seq);
        }
    }
    if found.is_none() {
        let mut statement = conn.prepare_cached(
            "SELECT data FROM position_chunks WHERE device_id = ?1 AND seq_min <= ?2 AND seq_max >= ?2",
        )?;
        let mut rows = statement.query(params![device_id, seq])?;
        while let Some(row) = rows.next()? {
            if let Some(record) = decode_records(row.get_ref(0)?.as_blob()?, 0)?
                .into_iter()
                .find(|r| r.seq == seq)
            {
                found = Some(record);
                break;
            }
        }
    }
    let Some(record) = found else { return Ok(None) };
    // A resent duplicate has its own sequence number but is never visible.
    let time = record.position.fix_time.as_millis();
    let visible = merged_range(conn, device_id, time, time.saturating_add(1), pending)?;
    Ok(visible
        .into_iter()
        .find(|r| r.seq == seq)
        .map(|record| to_stored(device_id, record)))
}

/// Records with `from <= fix_time < to`, counted without decoding the
/// chunks wholly inside the range; a record both compacted and still in
/// the log may count twice, so this is an upper bound (for refusing
/// reads that are too big before loading them).
pub(crate) fn count_in(
    conn: &Connection,
    device_id: DeviceId,
    from: i64,
    to: i64,
    pending: &[PendingBlob],
) -> Result<u64, StoreError> {
    if from >= to {
        return Ok(0);
    }
    let inside: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(n), 0) FROM position_chunks
             WHERE device_id = ?1 AND t_first >= ?2 AND t_last < ?3",
        )?
        .query_row(params![device_id, from, to], |row| row.get(0))?;
    let mut total =
        u64::try_from(inside).map_err(|_| StoreError::Corrupt("negative chunk count".into()))?;
    // Chunks do not overlap in time: at most one reaches in from each side.
    let mut edges = conn.prepare_cached(
        "SELECT data FROM position_chunks
         WHERE device_id = ?1 AND t_first < ?3 AND t_last >= ?2
           AND NOT (t_first >= ?2 AND t_last < ?3)",
    )?;
    let mut rows = edges.query(params![device_id, from, to])?;
    while let Some(row) = rows.next()? {
        let data = row.get_ref(0)?.as_blob()?;
        total += decode_records(data, 0)?
            .iter()
            .filter(|record| (from..to).contains(&record.position.fix_time.as_millis()))
            .count() as u64;
    }
    // Counted blob by blob: never the whole log decoded at once.
    for blob in pending {
        total += decode_pending_records(std::slice::from_ref(blob))?
            .iter()
            .filter(|record| (from..to).contains(&record.position.fix_time.as_millis()))
            .count() as u64;
    }
    Ok(total)
}

pub(crate) fn count(
    conn: &Connection,
    device_id: DeviceId,
    pending: &[PendingBlob],
) -> Result<u64, StoreError> {
    let in_chunks: i64 = conn
        .prepare_cached("SELECT COALESCE(SUM(n), 0) FROM position_chunks WHERE device_id = ?1")?
        .query_row([device_id], |row| row.get(0))?;
    let in_chunks =
        u64::try_from(in_chunks).map_err(|_| StoreError::Corrupt("negative chunk count".into()))?;
    let records = decode_pending_records(pending)?;
    let (Some(t_min), Some(t_max)) = (
        records
            .iter()
            .map(|r| r.position.fix_time.as_millis())
            .min(),
        records
            .iter()
            .map(|r| r.position.fix_time.as_millis())
            .max(),
    ) else {
        return Ok(in_chunks);
    };
    let to = t_max.saturating_add(1);
    let mut overlap = chunk_records(conn, device_id, t_min, to)?;
    let n_overlap = overlap.len() as u64;
    overlap.extend(
        records
            .into_iter()
            .filter(|r| r.position.fix_time.as_millis() < to),
    );
    merge_dedup(&mut overlap);
    Ok(in_chunks.saturating_sub(n_overlap) + overlap.len() as u64)
}
