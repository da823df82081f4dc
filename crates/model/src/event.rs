//! Events: things that happened to a device (geofence enter, alarm, ...).

use std::fmt;
use std::str::FromStr;

use crate::{DeviceId, EventId, GeofenceId, JsonObject, MaintenanceId, PositionId, Timestamp};

/// Declares [`EventKind`] with its Traccar names, in one table.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $kind:ident => $name:literal,)*) => {
        /// What an event is about, named as Traccar names its event types.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $kind,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind,)*];

            /// Traccar's type name (`deviceOnline`, `geofenceEnter`, ...), as
            /// the API and the store write it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$kind => $name,)*
                }
            }
        }

        impl FromStr for EventKind {
            type Err = UnknownEventKind;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                match name {
                    $($name => Ok(EventKind::$kind),)*
                    _ => Err(UnknownEventKind(name.to_owned())),
                }
            }
        }
    };
}

event_kinds! {
    /// The device connected.
    DeviceOnline => "deviceOnline",
    /// The device's state is not known (the server restarted, ...).
    DeviceUnknown => "deviceUnknown",
    /// The device disconnected or timed out.
    DeviceOffline => "deviceOffline",
    /// The device has not reported for the configured time.
    DeviceInactive => "deviceInactive",
    /// The device started moving.
    DeviceMoving => "deviceMoving",
    /// The device stopped.
    DeviceStopped => "deviceStopped",
    /// The device exceeded its speed limit.
    DeviceOverspeed => "deviceOverspeed",
    /// The fuel level dropped suddenly.
    DeviceFuelDrop => "deviceFuelDrop",
    /// The fuel level rose suddenly.
    DeviceFuelIncrease => "deviceFuelIncrease",
    /// The device entered a geofence.
    GeofenceEnter => "geofenceEnter",
    /// The device left a geofence.
    GeofenceExit => "geofenceExit",
    /// The device raised an alarm (its kind in the `alarm` attribute).
    Alarm => "alarm",
    /// The ignition was switched on.
    IgnitionOn => "ignitionOn",
    /// The ignition was switched off.
    IgnitionOff => "ignitionOff",
    /// A maintenance is due.
    Maintenance => "maintenance",
    /// The device sent a text message.
    TextMessage => "textMessage",
    /// The driver changed.
    DriverChanged => "driverChanged",
    /// The device answered a command.
    CommandResult => "commandResult",
    /// The device sent a photo, audio or video.
    Media => "media",
    /// A queued command was sent when the device came online.
    QueuedCommandSent => "queuedCommandSent",
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of Traccar's event types.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventKind(pub String);

/// A stored event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Store-assigned id.
    pub id: EventId,
    /// What happened.
    pub event_type: EventKind,
    /// When it happened.
    pub event_time: Timestamp,
    /// The device it concerns.
    pub device_id: DeviceId,
    /// The position that raised it.
    pub position_id: Option<PositionId>,
    /// The geofence involved.
    pub geofence_id: Option<GeofenceId>,
    /// The maintenance involved.
    pub maintenance_id: Option<MaintenanceId>,
    /// Free-form attributes (`alarm` kind, ...).
    pub attributes: JsonObject,
}

/// An event to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub event_type: EventKind,
    /// When it happened.
    pub event_time: Timestamp,
    /// The device it concerns.
    pub device_id: DeviceId,
    /// The position that raised it.
    pub position_id: Option<PositionId>,
    /// The geofence involved.
    pub geofence_id: Option<GeofenceId>,
    /// The maintenance involved.
    pub maintenance_id: Option<MaintenanceId>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_traccar_names() {
        assert_eq!(EventKind::ALL.len(), 20);
        for &kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(EventKind::GeofenceEnter.as_str(), "geofenceEnter");
        assert_eq!(EventKind::QueuedCommandSent.as_str(), "queuedCommandSent");
    }

    #[test]
    fn unknown_names_are_a_typed_error() {
        let error = "allEvents".parse::<EventKind>().unwrap_err();
        assert_eq!(error, UnknownEventKind("allEvents".into()));
        assert_eq!(error.to_string(), "unknown event type \"allEvents\"");
        assert!("DeviceOnline".parse::<EventKind>().is_err(), "case matters");
    }
}
