//! The live bus: committed positions, device status changes and events,
//! fanned out to WebSocket clients. Each update is rendered to its JSON
//! message once, by the publisher; subscribers only filter by device and
//! send the text. Publishing never waits: a subscriber that falls behind
//! loses its place and is dropped, so ingest never slows down for a slow
//! client.

use std::sync::Arc;

use tokio::sync::broadcast;
use trackd_model::DeviceId;

/// Updates buffered per subscriber before it counts as too slow.
const CAPACITY: usize = 8192;

/// Which list of Traccar's WebSocket message an update belongs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveKind {
    /// `{"positions":[...]}`
    Positions,
    /// `{"devices":[...]}`
    Devices,
    /// `{"events":[...]}`
    Events,
}

/// One thing that changed, already rendered: `items` is the comma-separated
/// JSON objects that go into the list named by `kind`, so a subscriber can
/// merge several updates into one message without parsing them.
#[derive(Debug)]
pub struct LiveUpdate {
    /// The device it concerns; subscribers see it only if they may see the device.
    pub device_id: DeviceId,
    /// The list the items go in.
    pub kind: LiveKind,
    /// JSON objects, comma-separated.
    pub items: String,
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
    pub fn publish(&self, device_id: DeviceId, kind: LiveKind, items: String) {
        // No subscriber is not an error.
        let _ = self.sender.send(Arc::new(LiveUpdate {
            device_id,
            kind,
            items,
        }));
    }

    /// A new subscription, seeing updates published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveUpdate>> {
        self.sender.subscribe()
    }
}

/// Merges updates into one Traccar WebSocket message, e.g.
/// `{"positions":[...],"devices":[...]}`; None when there is nothing.
pub fn merge<'a>(updates: impl IntoIterator<Item = &'a LiveUpdate>) -> Option<String> {
    let mut lists: [(LiveKind, &str, String); 3] = [
        (LiveKind::Devices, "devices", String::new()),
        (LiveKind::Positions, "positions", String::new()),
        (LiveKind::Events, "events", String::new()),
    ];
    for update in updates {
        if let Some((_, _, list)) = lists.iter_mut().find(|(kind, _, _)| *kind == update.kind) {
            if !list.is_empty() {
                list.push(',');
            }
            list.push_str(&update.items);
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
    fn merged_updates_are_one_valid_message() {
        let updates = [
            LiveUpdate {
                device_id: 1,
                kind: LiveKind::Positions,
                items: r#"{"id":1}"#.into(),
            },
            LiveUpdate {
                device_id: 2,
                kind: LiveKind::Positions,
                items: r#"{"id":2},{"id":3}"#.into(),
            },
            LiveUpdate {
                device_id: 2,
                kind: LiveKind::Devices,
                items: r#"{"id":2}"#.into(),
            },
        ];
        let message = merge(&updates).unwrap();
        let value: serde_json::Value = serde_json::from_str(&message).unwrap();
        assert_eq!(value["positions"].as_array().unwrap().len(), 3);
        assert_eq!(value["devices"][0]["id"], 2);
        assert!(value.get("events").is_none());
        assert!(merge(&[]).is_none());
    }
}
