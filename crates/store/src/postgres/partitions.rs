//! Daily partitions of `positions` (PostgreSQL's native range partitioning
//! on `fix_time`), so purging everyone before a time drops whole tables.
//!
//! - `positions_d<N>` holds UTC day `N` (days since the epoch). The writer
//!   makes the partition of a day the first time a record of that day
//!   arrives, in a short transaction of its own before the batch.
//! - `positions_default` takes what has no day partition: fix times before
//!   2000 or more than [`FUTURE_DAYS`] ahead (garbage a device may send,
//!   which must not create thousands of tables) and rows of an upgraded
//!   database until they are re-homed at open. Making a day's partition moves that day's
//!   rows out of the default partition first. A purged day's partition is
//!   made again if a late record of that day arrives.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sqlx::{PgConnection, PgPool};
use trackd_model::DeviceId;

use crate::{Purged, StoreError};

/// Milliseconds in a UTC day.
const DAY_MILLIS: i64 = 86_400_000;
/// 2000-01-01: no day partition is made for earlier fix times.
const FIRST_DAY: i64 = 10_957;
/// Day partitions are made at most this many days after today.
const FUTURE_DAYS: i64 = 7;
/// An arbitrary constant naming the lock that serialises partition DDL
/// between trackd nodes.
const PARTITION_LOCK: i64 = 0x7472_6163_6b70;

fn day_of(millis: i64) -> i64 {
    millis.div_euclid(DAY_MILLIS)
}

fn table(day: i64) -> String {
    format!("positions_d{day}")
}

/// The day partitions known to exist, shared by the writer and purges.
#[derive(Clone, Default)]
pub(crate) struct Partitions {
    days: Arc<Mutex<BTreeSet<i64>>>,
}

impl Partitions {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<i64>> {
        self.days
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the existing day partitions from the catalog.
    pub(crate) async fn load(pool: &PgPool) -> Result<Partitions, StoreError> {
        let partitions = Partitions::default();
        let days = existing_days(pool).await?;
        partitions.lock().extend(days);
        Ok(partitions)
    }

    /// Makes the day partitions that records timed `fix_times` need.
    pub(crate) async fn ensure_for(
        &self,
        pool: &PgPool,
        fix_times: &[i64],
    ) -> Result<(), StoreError> {
        let today = day_of(crate::now_millis());
        let missing: BTreeSet<i64> = {
            let known = self.lock();
            fix_times
                .iter()
                .map(|&time| day_of(time))
                .filter(|day| (FIRST_DAY..=today + FUTURE_DAYS).contains(day))
                .filter(|day| !known.contains(day))
                .collect()
        };
        for day in missing {
            create(pool, day).await?;
            self.lock().insert(day);
        }
        Ok(())
    }

    /// Moves rows of the default partition that now have a day of their
    /// own (an upgraded database, or fix times that were in the future).
    pub(crate) async fn rehome_default(&self, pool: &PgPool) -> Result<(), StoreError> {
        let today = day_of(crate::now_millis());
        let days: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT div(fix_time, $1)::BIGINT FROM positions_default
             WHERE fix_time >= $2 AND fix_time < $3",
        )
        .bind(DAY_MILLIS)
        .bind(FIRST_DAY * DAY_MILLIS)
        .bind((today + FUTURE_DAYS + 1) * DAY_MILLIS)
        .fetch_all(pool)
        .await?;
        for day in days {
            create(pool, day).await?;
            self.lock().insert(day);
        }
        Ok(())
    }

    /// Removes positions before `before` of one device (row deletes, one
    /// day partition at a time, through the device's index) or of all
    /// (dropping whole day partitions, deleting inside the one that
    /// straddles the time).
    pub(crate) async fn purge(
        &self,
        pool: &PgPool,
        device: Option<DeviceId>,
        before: i64,
    ) -> Result<Purged, StoreError> {
        let mut done = Purged::default();
        let days: Vec<i64> = existing_days(pool)
            .await?
            .into_iter()
            .filter(|&day| day * DAY_MILLIS < before)
            .collect();
        for day in days {
            let whole = (day + 1) * DAY_MILLIS <= before;
            let name = table(day);
            match device {
                None if whole => {
                    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
                        .fetch_one(pool)
                        .await?;
                    drop_partition(pool, day).await?;
                    self.lock().remove(&day);
                    done.positions += u64::try_from(count).unwrap_or(0);
                    done.whole_chunks += 1;
                }
                _ => {
                    let deleted = delete_rows(pool, &name, device, before).await?;
                    if deleted > 0 {
                        done.positions += deleted;
                        done.rewritten_chunks += 1;
                    }
                }
            }
        }
        done.positions += delete_rows(pool, "positions_default", device, before).await?;
        Ok(done)
    }
}

async fn existing_days(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT child.relname::TEXT FROM pg_inherits
         JOIN pg_class child ON child.oid = pg_inherits.inhrelid
         WHERE pg_inherits.inhparent = 'positions'::regclass",
    )
    .fetch_all(pool)
    .await?;
    Ok(names
        .iter()
        .filter_map(|name| name.strip_prefix("positions_d")?.parse().ok())
        .collect())
}

/// Makes day `day`'s partition (if no other node did), moving its rows
/// out of the default partition.
async fn create(pool: &PgPool, day: i64) -> Result<(), StoreError> {
    let name = table(day);
    let (from, to) = (day * DAY_MILLIS, (day + 1) * DAY_MILLIS);
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&name)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        // Identifiers cannot be bound; `name` is made from an integer.
        let statements = [
            format!(
                "CREATE TABLE {name} (LIKE positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            ),
            format!(
                "WITH moved AS (
                     DELETE FROM positions_default WHERE fix_time >= {from} AND fix_time < {to}
                     RETURNING device_id, fix_time, digest, seq, data)
                 INSERT INTO {name} (device_id, fix_time, digest, seq, data) SELECT * FROM moved"
            ),
            format!(
                "ALTER TABLE positions ATTACH PARTITION {name} FOR VALUES FROM ({from}) TO ({to})"
            ),
        ];
        for statement in &statements {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn lock(conn: &mut PgConnection) -> Result<(), StoreError> {
    // Partition DDL needs a short exclusive lock on `positions`; waiting
    // behind a long read would stall every insert queued behind it.
    sqlx::query("SET LOCAL lock_timeout = '500ms'")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PARTITION_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn drop_partition(pool: &PgPool, day: i64) -> Result<(), StoreError> {
    let name = table(day);
    let mut attempt = 0;
    loop {
        let mut tx = pool.begin().await?;
        lock(&mut tx).await?;
        let detach = format!("ALTER TABLE positions DETACH PARTITION {name}");
        let mut result = sqlx::query(&detach).execute(&mut *tx).await;
        if result.is_ok() {
            let drop_table = format!("DROP TABLE {name}");
            result = sqlx::query(&drop_table).execute(&mut *tx).await;
        }
        match result {
            Ok(_) => {
                tx.commit().await?;
                return Ok(());
            }
            // A lock timeout: readers held `positions`; try again shortly.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("55P03") => {
                drop(tx);
                attempt += 1;
                if attempt >= 20 {
                    return Err(StoreError::Backend(Arc::new(sqlx::Error::Database(error))));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Deletes rows before `before` (of one device) from one partition, in
/// bounded statements; returns how many.
async fn delete_rows(
    pool: &PgPool,
    name: &str,
    device: Option<DeviceId>,
    before: i64,
) -> Result<u64, StoreError> {
    // Two statements, so the device's index serves the device's purge.
    let device_filter = if device.is_some() {
        "AND device_id = $2"
    } else {
        ""
    };
    let sql = format!(
        "DELETE FROM {name} WHERE (device_id, fix_time, digest) IN (
             SELECT device_id, fix_time, digest FROM {name}
             WHERE fix_time < $1 {device_filter} LIMIT 20000)"
    );
    let mut total = 0;
    loop {
        let mut query = sqlx::query(&sql).bind(before);
        if let Some(device) = device {
            query = query.bind(device);
        }
        let deleted = query.execute(pool).await?.rows_affected();
        total += deleted;
        if deleted < 20_000 {
            return Ok(total);
        }
    }
}
