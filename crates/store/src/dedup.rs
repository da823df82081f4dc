//! Which appended records duplicate stored ones, answered before commit so
//! the ingest seam processes each record once.
//!
//! The rule is the one reads de-duplicate by (same device, fix time and
//! content key). A live device reports newer and newer fixes, so the common
//! case is answered from memory: [`FreshnessCache`] holds, per device, a
//! fix time at or after the newest stored one, and a record after it cannot
//! be a duplicate. Older records (buffered history, a resent frame) are
//! checked against the stored records of their time span in one read.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use trackd_model::{DeviceId, Position, Timestamp};

use crate::encoding::content_key;
use crate::{Store, StoreError};

/// Per device: no stored record has a fix time after this (milliseconds).
/// Only ever too high, never too low: purges leave it as it is.
#[derive(Default)]
pub(crate) struct FreshnessCache {
    newest: Mutex<HashMap<DeviceId, i64>>,
}

impl FreshnessCache {
    fn get(&self, device_id: DeviceId) -> Option<i64> {
        self.newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&device_id)
            .copied()
    }

    /// Raises the bound after a commit, if the device is cached.
    pub(crate) fn note_appended(&self, device_id: DeviceId, fix_max: i64) {
        if let Some(newest) = self
            .newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get_mut(&device_id)
        {
            *newest = (*newest).max(fix_max);
        }
    }

    fn learn(&self, device_id: DeviceId, newest_stored: i64) {
        let mut map = self
            .newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = map.entry(device_id).or_insert(newest_stored);
        *entry = (*entry).max(newest_stored);
    }
}

pub(crate) async fn duplicates(
    store: &Store,
    device_id: DeviceId,
    positions: &[Position],
) -> Result<Vec<bool>, StoreError> {
    let newest = match store.fresh.get(device_id) {
        Some(newest) => newest,
        None => {
            let newest = store
                .latest_position(device_id)
                .await?
                .map_or(i64::MIN, |latest| latest.position.fix_time.as_millis());
            store.fresh.learn(device_id, newest);
            newest
        }
    };
    let keys: Vec<(i64, Vec<u8>)> = positions
        .iter()
        .map(|position| (position.fix_time.as_millis(), content_key(position)))
        .collect();
    let mut seen: HashSet<(i64, Vec<u8>)> = HashSet::new();
    // The latest ignores implausible records, so after a restart `newest`
    // may be below one (a fix dated 2100): each is checked at its own
    // instant (they are rare), keeping the range read below short.
    for (position, (time, _)) in positions.iter().zip(&keys) {
        if *time > newest && position.is_implausible() {
            let to = Timestamp(time.saturating_add(1));
            for stored in store.positions(device_id, Timestamp(*time), to).await? {
                seen.insert((*time, content_key(&stored.position)));
            }
        }
    }
    let (from, to) = keys
        .iter()
        .filter(|(time, _)| *time <= newest)
        .fold((i64::MAX, i64::MIN), |(from, to), (time, _)| {
            (from.min(*time), to.max(*time))
        });
    if from <= to {
        for stored in store
            .positions(device_id, Timestamp(from), Timestamp(to.saturating_add(1)))
            .await?
        {
            seen.insert((
                stored.position.fix_time.as_millis(),
                content_key(&stored.position),
            ));
        }
    }
    // Stored matches of an implausible record are in `seen` already; the
    // first occurrence in the batch of anything else is fresh.
    let mut in_batch: HashSet<(i64, Vec<u8>)> = HashSet::new();
    Ok(keys
        .into_iter()
        .map(|key| seen.contains(&key) || !in_batch.insert(key))
        .collect())
}
