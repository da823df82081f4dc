//! Resolves a device's reported unique id to a registered device, refusing
//! or auto-registering unknown ids as configured.

use std::collections::HashMap;
use std::sync::RwLock;

use trackd_model::{DeviceId, NewDevice};
use trackd_store::{Store, StoreError};

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
}

impl Registry {
    pub(crate) fn new(store: Store, register_unknown: bool) -> Self {
        Registry {
            store,
            register_unknown,
            accepted: RwLock::new(HashMap::new()),
        }
    }

    /// Decides whether the device reporting `unique_id` may send records.
    pub(crate) async fn admit(&self, unique_id: &str) -> Result<Admission, StoreError> {
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
            cache.insert(unique_id.to_owned(), device.id);
        }
        Ok(Admission::Accepted(device.id))
    }

    /// Drops a cached admission (the device was changed or deleted).
    pub(crate) fn forget(&self, unique_id: &str) {
        if let Ok(mut cache) = self.accepted.write() {
            cache.remove(unique_id);
        }
    }

    fn cached(&self, unique_id: &str) -> Option<DeviceId> {
        self.accepted.read().ok()?.get(unique_id).copied()
    }
}
