//! Position and device storage: one API, two backends.
//!
//! - SQLite (embedded default, one file): a single writer thread owns the
//!   write connection and group-commits every queued append in one
//!   transaction to an append-only `ingest_log`; a compaction step in the
//!   same thread later merges each device's records into time-ordered,
//!   delta-encoded `position_chunks` (layout in `src/sqlite/mod.rs`,
//!   codec and storage precision in `src/encoding/position.rs`).
//! - PostgreSQL: one row per position keyed (device, fix time, digest), the
//!   same per-record encoding, group-committed by a tokio task.
//!
//! **Invariant:** `append_positions` resolves only after the records are
//! durably committed; a failed commit fails every append in it.
//! **Invariant:** a record resent by a device (same device, fix time and
//! content) is returned once.

mod dedup;
mod encoding;
mod error;
mod event_query;
mod links;
mod postgres;
mod sqlite;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use trackd_model::{
    Device, DeviceId, Event, EventId, NewDevice, NewEvent, Position, PositionId, StoredPosition,
    Timestamp,
};

pub use error::{ConnectFailure, StoreError};
pub use event_query::EventQuery;

/// Where and how to open a store.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `sqlite:<path>` or a bare path for SQLite; `postgres://...` for PostgreSQL.
    pub url: String,
    /// Another process (a running server) owns the positions: this store
    /// never writes positions (`append_positions` fails with `ReadOnly`) and
    /// never compacts, flushes or checkpoints, but it does apply migrations
    /// (idempotent, safe when the server already did) and allows registry
    /// writes: users, devices, groups, geofences, links, tokens, settings.
    /// Position reads work (SQLite: chunks plus a scan of the uncompacted
    /// log). For CLI commands (`trackd user add`, `device add`, `export`)
    /// while a server may be running. On SQLite the file is created if missing.
    pub read_only: bool,
}

impl StoreConfig {
    /// A read-write configuration for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            read_only: false,
        }
    }
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// A handle to an open store; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    fresh: Arc<dedup::FreshnessCache>,
}

macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &*$self.backend {
            Backend::Sqlite(store) => store.$method($($arg),*).await,
            Backend::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

#[macro_use]
mod registry;

impl Store {
    /// Opens the store named by `config.url` and applies pending migrations.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let url = config.url.trim();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::PgStore::open(url, config.read_only).await?)
        } else if let Some((scheme, _)) = url.split_once("://").filter(|(s, _)| *s != "sqlite") {
            // Anything else with a scheme would otherwise be taken as a
            // SQLite file name and silently create a new empty database.
            return Err(StoreError::InvalidConfig(format!(
                "database URL scheme {scheme:?} is not supported: use postgres://, \
                 postgresql:// or sqlite: (or a file path)"
            )));
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            if path.is_empty() {
                return Err(StoreError::InvalidConfig("empty sqlite path".into()));
            }
            let store = sqlite::SqliteStore::open(path.as_ref(), config.read_only)
                .await
                .map_err(|error| match error {
                    StoreError::Backend(reason) => StoreError::SqliteOpen {
                        path: path.to_owned(),
                        // SQLite repeats the file name; the variant names it once.
                        reason: reason.to_string().replace(&format!(": {path}"), ""),
                    },
                    other => other,
                })?;
            Backend::Sqlite(store)
        };
        let store = Store {
            backend: Arc::new(backend),
            fresh: Arc::default(),
        };
        registry!(store, registry_write, |db| registry::schema::apply(
            db,
            registry::schema::MIGRATIONS
        ))?;
        Ok(store)
    }

    /// Registers a device with only a name and unique id; `Conflict` if
    /// the unique id is taken. See [`Store::create_device`].
    pub async fn add_device(&self, device: NewDevice) -> Result<Device, StoreError> {
        self.create_device(device.into()).await
    }

    /// The device reporting as `unique_id`, if registered.
    pub async fn device_by_unique_id(&self, unique_id: &str) -> Result<Option<Device>, StoreError> {
        let unique_id = unique_id.to_owned();
        registry!(self, registry_read, |db| registry::devices::by_unique_id(
            db, &unique_id
        ))
    }

    /// The device with this id, if registered.
    pub async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        registry!(self, registry_read, |db| registry::devices::by_id(db, id))
    }

    /// All devices, by id.
    pub async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        registry!(self, registry_read, |db| registry::devices::all(db))
    }

    /// Returns only once the positions are durably committed (group commit across concurrent callers). Caller then ACKs the device.
    ///
    /// On success, the ids ([`StoredPosition::make_id`] of the device and a
    /// per-device sequence number) assigned to `positions`, in input order:
    /// unique, increasing within the call and greater than every id of an
    /// earlier append to the device. Empty input writes nothing and returns an
    /// empty `Vec`. A record that duplicates one already
    /// stored (or an earlier one of the same call) still gets its own id
    /// here; de-duplication hides it later, so [`Store::position_by_id`] and
    /// the reads may not return it.
    pub async fn append_positions(
        &self,
        device_id: DeviceId,
        positions: Vec<Position>,
    ) -> Result<Vec<PositionId>, StoreError> {
        Ok(self
            .append_with(device_id, positions, Vec::new())
            .await?
            .ids)
    }

    /// [`Store::append_positions`] together with the events processing
    /// raised from them, in the same transaction: both are committed or
    /// neither is. An event's `position` index sets its `position_id`;
    /// `InvalidInput` if an index is out of range or an event names
    /// another device.
    pub async fn append_with(
        &self,
        device_id: DeviceId,
        positions: Vec<Position>,
        events: Vec<BatchEvent>,
    ) -> Result<Appended, StoreError> {
        for event in &events {
            if event.event.device_id != device_id {
                return Err(StoreError::InvalidInput(format!(
                    "event of device {} in a batch of device {device_id}",
                    event.event.device_id
                )));
            }
            if event.position.is_some_and(|index| index >= positions.len()) {
                return Err(StoreError::InvalidInput(format!(
                    "event refers to record {:?} of a batch of {}",
                    event.position,
                    positions.len()
                )));
            }
        }
        if positions.is_empty() && events.is_empty() {
            return Ok(Appended::default());
        }
        let fix_max = positions.iter().map(|p| p.fix_time.as_millis()).max();
        let appended = dispatch!(self.append_batch(device_id, positions, events))?;
        if let Some(fix_max) = fix_max {
            self.fresh.note_appended(device_id, fix_max);
        }
        Ok(appended)
    }

    /// Which of `positions` duplicate a stored record or an earlier one of
    /// the same slice: same device, fix time and content (the rule both
    /// backends de-duplicate reads by). A device resending a frame that was
    /// not acknowledged gets `true` for each record already committed.
    /// Exact when the caller serialises appends of the device (the ingest
    /// seam does); records newer than every stored one are answered from
    /// memory.
    pub async fn duplicates(
        &self,
        device_id: DeviceId,
        positions: &[Position],
    ) -> Result<Vec<bool>, StoreError> {
        dedup::duplicates(self, device_id, positions).await
    }

    /// Positions with from <= fix_time < to, in fix_time order (ties: arrival order), duplicates removed.
    pub async fn positions(
        &self,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPosition>, StoreError> {
        dispatch!(self.positions(device_id, from, to))
    }

    /// The plausible position with the greatest fix time (the earliest
    /// arrived among equals); records marked implausible at ingest
    /// ([`Position::is_implausible`]) never are the latest.
    pub async fn latest_position(
        &self,
        device_id: DeviceId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        dispatch!(self.latest_position(device_id))
    }

    /// [`Store::latest_position`] of each device, in their order, in one
    /// round trip (device lists must not cost a query per device).
    pub async fn latest_positions(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<StoredPosition>>, StoreError> {
        dispatch!(self.latest_positions(device_ids))
    }

    /// The server time and id of each device's [`Store::latest_position`],
    /// in their order, without the records (what a device list shows).
    pub async fn latest_references(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<(Timestamp, PositionId)>>, StoreError> {
        dispatch!(self.latest_references(device_ids))
    }

    /// The position with this id (`device_id << 32 | sequence`), if stored.
    pub async fn position_by_id(
        &self,
        id: PositionId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        dispatch!(self.position_by_id(id))
    }

    /// Positions of a device with `from <= fix_time < to`, at most (a
    /// record moving into a chunk right now may count twice): cheap, for
    /// refusing reads that are too big before loading them.
    pub async fn count_positions_in(
        &self,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StoreError> {
        dispatch!(self.count_positions_in(device_id, from, to))
    }

    /// Number of stored positions of a device (duplicates counted once).
    pub async fn count_positions(&self, device_id: DeviceId) -> Result<u64, StoreError> {
        dispatch!(self.count_positions(device_id))
    }

    /// Removes the positions with fix time before `before`, of one device or
    /// of all, by dropping or rewriting whole time-bucketed chunks (SQLite:
    /// day-bounded chunks; PostgreSQL: daily partitions), in short slices
    /// so that appends keep their latency. Records committed after the
    /// call began are kept whatever their fix time. Position ids are never
    /// reused afterwards.
    pub async fn purge_positions(
        &self,
        device: Option<DeviceId>,
        before: Timestamp,
    ) -> Result<Purged, StoreError> {
        dispatch!(self.purge_positions(device, before))
    }

    /// Forces any background compaction now (for benchmarks and tests).
    pub async fn flush(&self) -> Result<(), StoreError> {
        dispatch!(self.flush())
    }

    /// Bytes on disk of the position data (SQLite: db + wal after a checkpoint; PostgreSQL: tables and indexes).
    pub async fn disk_usage_bytes(&self) -> Result<u64, StoreError> {
        dispatch!(self.disk_usage_bytes())
    }

    /// Compacts, stops the writer cleanly and fails later writes with `Closed`.
    pub async fn close(&self) -> Result<(), StoreError> {
        dispatch!(self.close())
    }
}

/// An event raised while processing a batch, committed with it.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchEvent {
    /// The event; its `position_id` is overwritten when `position` is set.
    pub event: NewEvent,
    /// Index in the batch of the record that raised it.
    pub position: Option<usize>,
}

/// What one [`Store::append_with`] committed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Appended {
    /// The records' ids, in input order (see [`Store::append_positions`]).
    pub ids: Vec<PositionId>,
    /// The stored events, in input order.
    pub events: Vec<Event>,
}

/// The stored form of a batch event once its id and its record's id are known.
pub(crate) fn stored_event(id: EventId, event: BatchEvent, ids: &[PositionId]) -> Event {
    let NewEvent {
        event_type,
        event_time,
        device_id,
        position_id,
        geofence_id,
        maintenance_id,
        attributes,
    } = event.event;
    Event {
        id,
        event_type,
        event_time,
        device_id,
        position_id: event_position_id(event.position, position_id, ids),
        geofence_id,
        maintenance_id,
        attributes,
    }
}

/// The position id an event refers to: its batch record's, else its own.
pub(crate) fn event_position_id(
    index: Option<usize>,
    own: Option<PositionId>,
    ids: &[PositionId],
) -> Option<PositionId> {
    index.and_then(|index| ids.get(index).copied()).or(own)
}

/// What a [`Store::purge_positions`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Positions removed (duplicates counted once).
    pub positions: u64,
    /// Chunks (PostgreSQL: day partitions) dropped whole.
    pub whole_chunks: u64,
    /// Chunks (PostgreSQL: partitions) that straddled the time and were rewritten.
    pub rewritten_chunks: u64,
}

/// Index of the first plausible record with the greatest fix time (the
/// latest candidate); `None` when every record is implausible.
pub(crate) fn latest_index(positions: &[Position]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (index, position) in positions.iter().enumerate() {
        if position.is_implausible() {
            continue;
        }
        if best.is_none_or(|best| position.fix_time > positions[best].fix_time) {
            best = Some(index);
        }
    }
    best
}

/// Whether `candidate` should replace `current` as the latest position:
/// plausible, and greater fix time or equal fix time and earlier arrival.
pub(crate) fn is_later(candidate: &StoredPosition, current: &StoredPosition) -> bool {
    !candidate.position.is_implausible()
        && (candidate.position.fix_time, std::cmp::Reverse(candidate.id))
            > (current.position.fix_time, std::cmp::Reverse(current.id))
}

/// Whether `candidate` becomes the latest position in place of `current`.
pub(crate) fn beats(candidate: &StoredPosition, current: Option<&StoredPosition>) -> bool {
    !candidate.position.is_implausible()
        && current.is_none_or(|current| is_later(candidate, current))
}

/// Wall-clock milliseconds since the epoch (the `created` column).
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
