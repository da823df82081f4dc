//! The live bus: committed positions, device status changes and events,
//! fanned out to WebSocket clients. Publishing never waits: a subscriber
//! that falls behind loses its place and is dropped, so ingest never slows
//! down for a slow client.

use std::sync::Arc;

use tokio::sync::broadcast;
use trackd_model::{DeviceId, Event, StoredPosition};

/// Updates buffered per subscriber before it counts as too slow.
const CAPACITY: usize = 8192;

/// One thing that changed.
#[derive(Debug)]
pub enum LiveUpdate {
    /// New positions of one device, committed.
    Positions {
        /// The device.
        device_id: DeviceId,
        /// Its new positions.
        positions: Vec<StoredPosition>,
    },
    /// A device's status (online, offline) changed.
    DeviceStatus(DeviceId),
    /// An event was stored.
    Event(Event),
}

/// Sender side of the bus.
#[derive(Clone)]
pub struct LiveBus {
    sender: broadcast::Sender<Arc<LiveUpdate>>,
}

impl Default for LiveBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        LiveBus { sender }
    }
}

impl LiveBus {
    /// Whether anyone listens (so producers can skip building updates).
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Publishes an update to every current subscriber.
    pub fn publish(&self, update: LiveUpdate) {
        // No subscriber is not an error.
        let _ = self.sender.send(Arc::new(update));
    }

    /// A new subscription, seeing updates published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveUpdate>> {
        self.sender.subscribe()
    }
}
