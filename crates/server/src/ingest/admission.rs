//! Resolves a device's reported unique id to a registered device, refusing
//! or auto-registering unknown ids as configured.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use trackd_model::{DeviceId, NewDevice};
use trackd_store::{Store, StoreError};

use super::eviction::{Eviction, Evictions};

/// The outcome of a handshake lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The device may report; its records are stored under this id.
    Accepted(DeviceId),
    /// Unknown (and auto-registration is off) or disabled.
    Refused,
}

/// Device lookups for the listeners, with a cache of accepted ids so UDP
/// datagrams and HTTP requests (which name their device every time) do
/// not hit the store.
pub(crate) struct Registry {
    store: Store,
    register_unknown: bool,
    accepted: RwLock<HashMap<String, DeviceId>>,
    /// Open stream connections per device, to end them when it goes.
    pub(crate) evictions: Evictions,
    /// Bumped by every [`Registry::forget`]: a lookup that raced with a
    /// device change neither caches its answer nor keeps its connection.
    revision: AtomicU64,
}

impl Registry {
    pub(crate) fn new(store: Store, register_unknown: bool) -> Self {
        Registry {
            store,
            register_unknown,
            accepted: RwLock::new(HashMap::new()),
            evictions: Evictions::default(),
            revision: AtomicU64::new(0),
        }
    }

    /// [`Registry::admit`] for a stream connection: also returns what fires
    /// when the device is later disabled or deleted. A change that lands
    /// while the lookup runs makes it look again, so no connection is
    /// accepted from a stale answer without being told.
    pub(crate) async fn admit_watched(
        &self,
        unique_id: &str,
    ) -> Result<(Admission, Eviction), StoreError> {
        for _ in 0..3 {
            let revision = self.revision.load(Ordering::Acquire);
            let admission = self.admit(unique_id).await?;
            let Admission::Accepted(device_id) = admission else {
                return Ok((admission, Eviction::default()));
            };
            let eviction = self.evictions.watch(device_id);
            if self.revision.load(Ordering::Acquire) == revision {
                return Ok((admission, eviction));
            }
            self.evictions.release(device_id, eviction);
        }
        // Devices changing all the time: the device retries its handshake.
        Ok((Admission::Refused, Eviction::default()))
    }

    /// Decides whether the device reporting `unique_id` may send records.
    pub(crate) async fn admit(&self, unique_id: &str) -> Result<Admission, StoreError> {
        let revision = self.revision.load(Ordering::Acquire);
        if let Some(id) = self.cached(unique_id) {
            return Ok(Admission::Accepted(id));
        }
        let device = match self.store.device_by_unique_id(unique_id).await? {
            Some(device) => device,
            None if self.register_unknown => {
                let new = NewDevice {
                    unique_id: unique_id.to_owned(),
                    name: unique_id.to_owned(),
                };
                match self.store.add_device(new).await {
                    Ok(device) => {
                        tracing::info!(
                            unique_id,
                            device_id = %device.id,
                            "registered unknown device"
                        );
                        device
                    }
                    // Another connection of the same device registered it first.
                    Err(StoreError::Conflict(_)) => {
                        match self.store.device_by_unique_id(unique_id).await? {
                            Some(device) => device,
                            None => return Ok(Admission::Refused),
                        }
                    }
                    Err(err) => return Err(err),
                }
            }
            None => return Ok(Admission::Refused),
        };
        if device.disabled {
            return Ok(Admission::Refused);
        }
        if let Ok(mut cache) = self.accepted.write() {
            // Under the lock `forget` takes: a change after our read wins.
            if self.revision.load(Ordering::Acquire) == revision {
                cache.insert(unique_id.to_owned(), device.id);
            }
        }
        Ok(Admission::Accepted(device.id))
    }

    /// Drops a cached admission (the device was changed or deleted).
    pub(crate) fn forget(&self, unique_id: &str) {
        let mut cache = self
            .accepted
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.revision.fetch_add(1, Ordering::AcqRel);
        cache.remove(unique_id);
    }

    /// The device was disabled or deleted: forget its admission and end
    /// its open connections, so nothing more of it is stored.
    pub(crate) fn revoke(&self, device_id: DeviceId, unique_id: &str) {
        self.forget(unique_id);
        let closed = self.evictions.evict(device_id);
        if closed > 0 {
            tracing::info!(device_id = %device_id, connections = closed, "device disabled or deleted: connections closed");
        }
    }

    fn cached(&self, unique_id: &str) -> Option<DeviceId> {
        self.accepted.read().ok()?.get(unique_id).copied()
    }
}
