//! Whether each device is online: stream devices by their open
//! connections, datagram and HTTP devices by when they were last heard.

use std::collections::HashMap;
use std::sync::Mutex;

use trackd_model::{DeviceId, Timestamp};

/// Traccar's device status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    /// Connected, or heard from recently.
    Online,
    /// Its last connection closed.
    Offline,
    /// Connectionless and not heard from within the timeout, or never seen.
    Unknown,
}

impl DeviceStatus {
    /// Traccar's JSON name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Online => "online",
            DeviceStatus::Offline => "offline",
            DeviceStatus::Unknown => "unknown",
        }
    }
}

#[derive(Default)]
struct Entry {
    connections: u32,
    /// Last datagram or HTTP report, while counted online by it.
    heard: Option<Timestamp>,
    /// Set once a connection of it closed (and none is open).
    disconnected: bool,
}

/// Device presence; every change that alters a status is returned so the
/// caller can push it.
pub(crate) struct Presence {
    entries: Mutex<HashMap<DeviceId, Entry>>,
    /// A connectionless device counts as online this long after its last report.
    timeout_ms: i64,
}

impl Presence {
    pub(crate) fn new(timeout_ms: i64) -> Self {
        Presence {
            entries: Mutex::new(HashMap::new()),
            timeout_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn status_of(&self, entry: &Entry, now: Timestamp) -> DeviceStatus {
        let heard_recently = entry
            .heard
            .is_some_and(|at| now.as_millis() - at.as_millis() < self.timeout_ms);
        if entry.connections > 0 || heard_recently {
            DeviceStatus::Online
        } else if entry.disconnected {
            DeviceStatus::Offline
        } else {
            DeviceStatus::Unknown
        }
    }

    /// The device's status now.
    pub(crate) fn status(&self, device_id: DeviceId, now: Timestamp) -> DeviceStatus {
        let entries = self.lock();
        match entries.get(&device_id) {
            Some(entry) => self.status_of(entry, now),
            // Nothing since start: a stream device is simply not connected.
            None => DeviceStatus::Offline,
        }
    }

    /// Applies `change` and says whether the status changed.
    fn update(&self, device_id: DeviceId, now: Timestamp, change: impl FnOnce(&mut Entry)) -> bool {
        let mut entries = self.lock();
        let entry = entries.entry(device_id).or_default();
        let before = self.status_of(entry, now);
        change(entry);
        before != self.status_of(entry, now)
    }

    /// A stream connection of the device was identified.
    pub(crate) fn connected(&self, device_id: DeviceId, now: Timestamp) -> bool {
        self.update(device_id, now, |entry| {
            entry.connections += 1;
            entry.disconnected = false;
        })
    }

    /// A stream connection of the device closed.
    pub(crate) fn disconnected(&self, device_id: DeviceId, now: Timestamp) -> bool {
        self.update(device_id, now, |entry| {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 {
                entry.disconnected = true;
                entry.heard = None;
            }
        })
    }

    /// A datagram or HTTP report of the device arrived.
    pub(crate) fn heard(&self, device_id: DeviceId, now: Timestamp) -> bool {
        self.update(device_id, now, |entry| {
            entry.heard = Some(now);
            entry.disconnected = false;
        })
    }

    /// Connectionless devices whose timeout passed since the last sweep:
    /// they turn `unknown`.
    pub(crate) fn sweep(&self, now: Timestamp) -> Vec<DeviceId> {
        let mut entries = self.lock();
        let mut expired = Vec::new();
        for (&device_id, entry) in entries.iter_mut() {
            let stale = entry
                .heard
                .is_some_and(|at| now.as_millis() - at.as_millis() >= self.timeout_ms);
            if entry.connections == 0 && stale {
                entry.heard = None;
                expired.push(device_id);
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_devices_go_offline_at_once_datagram_devices_unknown_after_the_timeout() {
        let presence = Presence::new(1000);
        let t = Timestamp::from_millis;
        assert!(presence.connected(DeviceId(1), t(0)));
        assert!(
            !presence.connected(DeviceId(1), t(0)),
            "second connection changes nothing"
        );
        assert!(
            !presence.disconnected(DeviceId(1), t(1)),
            "one connection still open"
        );
        assert!(presence.disconnected(DeviceId(1), t(2)));
        assert_eq!(presence.status(DeviceId(1), t(2)), DeviceStatus::Offline);

        assert!(presence.heard(DeviceId(2), t(0)));
        assert_eq!(presence.status(DeviceId(2), t(999)), DeviceStatus::Online);
        assert!(presence.sweep(t(999)).is_empty());
        assert_eq!(presence.sweep(t(1000)), vec![DeviceId(2)]);
        assert_eq!(presence.status(DeviceId(2), t(1000)), DeviceStatus::Unknown);
        assert!(presence.sweep(t(5000)).is_empty(), "reported once");
    }
}
