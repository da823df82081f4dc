//! Events: things that happened to a device (geofence enter, alarm, ...).

use crate::{DeviceId, GeofenceId, JsonObject, Timestamp};

/// Store-assigned event id.
pub type EventId = i64;

/// A stored event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Store-assigned id.
    pub id: EventId,
    /// Traccar's event type name (`deviceOnline`, `geofenceEnter`, `alarm`, ...).
    pub event_type: String,
    /// When it happened.
    pub event_time: Timestamp,
    /// The device it concerns.
    pub device_id: DeviceId,
    /// The position that raised it.
    pub position_id: Option<i64>,
    /// The geofence involved.
    pub geofence_id: Option<GeofenceId>,
    /// The maintenance involved.
    pub maintenance_id: Option<i64>,
    /// Free-form attributes (`alarm` kind, ...).
    pub attributes: JsonObject,
}

/// An event to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Traccar's event type name.
    pub event_type: String,
    /// When it happened.
    pub event_time: Timestamp,
    /// The device it concerns.
    pub device_id: DeviceId,
    /// The position that raised it.
    pub position_id: Option<i64>,
    /// The geofence involved.
    pub geofence_id: Option<GeofenceId>,
    /// The maintenance involved.
    pub maintenance_id: Option<i64>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}
