//! Who read whose data (the tamper-evident audit log of issue 6/8).
//! A no-op for now: the calls are in place, the log is not.

use trackd_model::{DeviceId, EventId, PositionId, Timestamp};

use super::Viewer;

/// One read of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// A history range.
    Positions {
        /// Whose.
        device_id: DeviceId,
        /// Range start.
        from: Timestamp,
        /// Range end.
        to: Timestamp,
    },
    /// The latest position.
    Latest {
        /// Whose.
        device_id: DeviceId,
    },
    /// One position by id.
    Position {
        /// Whose.
        device_id: DeviceId,
        /// Which.
        id: PositionId,
    },
    /// One event by id.
    Event {
        /// Whose.
        device_id: DeviceId,
        /// Which.
        id: EventId,
    },
    /// Events in a range.
    Events {
        /// Whose.
        device_id: DeviceId,
        /// Range start.
        from: Timestamp,
        /// Range end.
        to: Timestamp,
    },
    /// A live position pushed over the WebSocket.
    Live {
        /// Whose.
        device_id: DeviceId,
    },
}

/// Where reads are recorded.
#[derive(Clone, Debug, Default)]
pub struct AuditHook {
    _sink: (),
}

impl AuditHook {
    /// Records nothing.
    pub fn none() -> Self {
        AuditHook::default()
    }

    /// Records that `viewer` read `what`.
    pub fn record(&self, viewer: &Viewer, what: Read) {
        let _ = (viewer, what);
    }
}
