//! The live bus: committed positions, device status changes and events,
//! as typed records, fanned out to WebSocket clients (and, later,
//! forwarders and notifications). What a client receives is computed from
//! these through its viewer (`access`); each distinct view of an update is
//! rendered once and shared by every subscriber with that view. Publishing
//! never waits: a subscriber that falls behind loses its place and is
//! dropped, so ingest never slows down for a slow client.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use trackd_model::{Device, DeviceId, Event, StoredPosition};

use crate::api::objects::DeviceState;

/// Updates buffered per subscriber before it counts as too slow.
const CAPACITY: usize = 8192;

/// One thing that changed.
#[derive(Debug)]
pub enum LiveUpdate {
    /// Committed positions of one device.
    Positions {
        /// Their device.
        device_id: DeviceId,
        /// In commit order.
        positions: Arc<[StoredPosition]>,
    },
    /// A device's registry entry or status changed.
    Device {
        /// The device as stored.
        device: Box<Device>,
        /// Its status now.
        state: DeviceState,
    },
    /// Committed events of one device.
    Events {
        /// Their device.
        device_id: DeviceId,
        /// In commit order.
        events: Arc<[Event]>,
    },
}

impl LiveUpdate {
    /// The device it concerns.
    pub fn device_id(&self) -> DeviceId {
        match self {
            LiveUpdate::Positions { device_id, .. } | LiveUpdate::Events { device_id, .. } => {
                *device_id
            }
            LiveUpdate::Device { device, .. } => device.id,
        }
    }
}

/// Which view of an update a rendering is for; viewers with equal keys
/// see the same JSON.
pub type ViewKey = u64;

/// An update on the bus with the renderings made of it so far.
#[derive(Debug)]
pub struct LiveEntry {
    /// What changed.
    pub update: LiveUpdate,
    views: Mutex<Vec<(ViewKey, Arc<str>)>>,
}

impl LiveEntry {
    /// The JSON items of `view`, rendered by `render` the first time any
    /// subscriber with that view asks.
    pub fn rendered(&self, view: ViewKey, render: impl FnOnce(&LiveUpdate) -> String) -> Arc<str> {
        let mut views = self
            .views
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, text)) = views.iter().find(|(key, _)| *key == view) {
            return text.clone();
        }
        let text: Arc<str> = render(&self.update).into();
        views.push((view, text.clone()));
        text
    }
}

/// Sender side of the bus.
#[derive(Clone)]
pub struct LiveBus {
    sender: broadcast::Sender<Arc<LiveEntry>>,
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
        let _ = self.sender.send(Arc::new(LiveEntry {
            update,
            views: Mutex::new(Vec::new()),
        }));
    }

    /// A new subscription, seeing updates published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEntry>> {
        self.sender.subscribe()
    }
}

/// Which list of Traccar's WebSocket message an update's items go in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveKind {
    /// `{"devices":[...]}`
    Devices,
    /// `{"positions":[...]}`
    Positions,
    /// `{"events":[...]}`
    Events,
}

impl LiveUpdate {
    /// The list its items belong in.
    pub fn kind(&self) -> LiveKind {
        match self {
            LiveUpdate::Positions { .. } => LiveKind::Positions,
            LiveUpdate::Device { .. } => LiveKind::Devices,
            LiveUpdate::Events { .. } => LiveKind::Events,
        }
    }
}

/// Merges rendered items (comma-separated JSON objects, by list) into one
/// Traccar WebSocket message, e.g. `{"positions":[...],"devices":[...]}`;
/// None when there is nothing.
pub fn merge<'a>(items: impl IntoIterator<Item = (LiveKind, &'a str)>) -> Option<String> {
    let mut lists: [(LiveKind, &str, String); 3] = [
        (LiveKind::Devices, "devices", String::new()),
        (LiveKind::Positions, "positions", String::new()),
        (LiveKind::Events, "events", String::new()),
    ];
    for (kind, text) in items {
        if text.is_empty() {
            continue;
        }
        if let Some((_, _, list)) = lists.iter_mut().find(|(k, _, _)| *k == kind) {
            if !list.is_empty() {
                list.push(',');
            }
            list.push_str(text);
        }
    }
    let mut message = String::from("{");
    for (_, name, list) in &lists {
        if list.is_empty() {
            continue;
        }
        if message.len() > 1 {
            message.push(',');
        }
        message.push('"');
        message.push_str(name);
        message.push_str("\":[");
        message.push_str(list);
        message.push(']');
    }
    message.push('}');
    (message.len() > 2).then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_items_are_one_valid_message() {
        let items = [
            (LiveKind::Positions, r#"{"id":1}"#),
            (LiveKind::Positions, r#"{"id":2},{"id":3}"#),
            (LiveKind::Devices, r#"{"id":2}"#),
            (LiveKind::Events, ""),
        ];
        let message = merge(items).unwrap();
        let value: serde_json::Value = serde_json::from_str(&message).unwrap();
        assert_eq!(value["positions"].as_array().unwrap().len(), 3);
        assert_eq!(value["devices"][0]["id"], 2);
        assert!(value.get("events").is_none());
        assert!(merge([]).is_none());
    }

    #[test]
    fn each_view_is_rendered_once() {
        let bus = LiveBus::default();
        let mut receiver = bus.subscribe();
        bus.publish(LiveUpdate::Positions {
            device_id: DeviceId(1),
            positions: Arc::from(Vec::new()),
        });
        let entry = receiver.try_recv().unwrap();
        let mut renders = 0;
        for _ in 0..3 {
            entry.rendered(0, |_| {
                renders += 1;
                "x".into()
            });
        }
        entry.rendered(7, |_| {
            renders += 1;
            "y".into()
        });
        assert_eq!(renders, 2);
    }
}
