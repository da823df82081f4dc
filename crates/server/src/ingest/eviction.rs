//! Ending the open conversations of a device that was disabled or deleted,
//! so nothing more of it is stored or acknowledged.
//!
//! Datagram and HTTP devices are admitted again on every report (through
//! the registry's cache, which the API empties on every device change), so
//! only stream connections need telling: each holds an [`Eviction`] taken
//! when its device was accepted, and its loop ends when it fires.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;
use trackd_model::DeviceId;

/// One channel per device with an open stream connection.
#[derive(Default)]
pub(crate) struct Evictions {
    devices: Mutex<HashMap<DeviceId, watch::Sender<u64>>>,
}

impl Evictions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, watch::Sender<u64>>> {
        self.devices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What a connection of `device_id` waits on; fires on the next
    /// [`Evictions::evict`] of that device, not on earlier ones.
    pub(crate) fn watch(&self, device_id: DeviceId) -> Eviction {
        let mut devices = self.lock();
        let sender = devices
            .entry(device_id)
            .or_insert_with(|| watch::channel(0).0);
        Eviction(Some(sender.subscribe()))
    }

    /// Ends every open conversation of `device_id`; returns how many were told.
    pub(crate) fn evict(&self, device_id: DeviceId) -> usize {
        let Some(sender) = self.lock().remove(&device_id) else {
            return 0;
        };
        let told = sender.receiver_count();
        sender.send_modify(|generation| *generation += 1);
        told
    }

    /// Forgets the channel of `device_id` once no connection waits on it.
    pub(crate) fn release(&self, device_id: DeviceId, eviction: Eviction) {
        drop(eviction);
        let mut devices = self.lock();
        if devices
            .get(&device_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            devices.remove(&device_id);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().len()
    }
}

/// A connection's side of [`Evictions`]; empty before its device is known.
#[derive(Default)]
pub(crate) struct Eviction(Option<watch::Receiver<u64>>);

impl Eviction {
    /// Resolves once the device was evicted; never, if it has no device yet.
    pub(crate) async fn evicted(&mut self) {
        if let Some(receiver) = &mut self.0 {
            // Either a new generation or the sender dropped, which only
            // `evict` does (after sending): both mean evicted.
            let _ = receiver.changed().await;
            return;
        }
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn evict_wakes_every_connection_of_that_device_only() {
        let evictions = Evictions::default();
        let (one, two) = (DeviceId::new(1), DeviceId::new(2));
        let mut first = evictions.watch(one);
        let mut second = evictions.watch(one);
        let mut other = evictions.watch(two);
        assert_eq!(evictions.evict(one), 2);
        first.evicted().await;
        second.evicted().await;
        let still_open =
            tokio::time::timeout(std::time::Duration::from_millis(20), other.evicted()).await;
        assert!(
            still_open.is_err(),
            "a different device must not be evicted"
        );
    }

    #[tokio::test]
    async fn a_connection_accepted_after_the_eviction_is_not_evicted_by_it() {
        let evictions = Evictions::default();
        let device = DeviceId::new(7);
        let _before = evictions.watch(device);
        evictions.evict(device);
        let mut after = evictions.watch(device);
        let woke =
            tokio::time::timeout(std::time::Duration::from_millis(20), after.evicted()).await;
        assert!(woke.is_err());
    }

    #[test]
    fn released_channels_are_forgotten() {
        let evictions = Evictions::default();
        let device = DeviceId::new(3);
        let a = evictions.watch(device);
        let b = evictions.watch(device);
        evictions.release(device, a);
        assert_eq!(evictions.tracked(), 1);
        evictions.release(device, b);
        assert_eq!(evictions.tracked(), 0);
        assert_eq!(evictions.evict(device), 0);
    }
}
