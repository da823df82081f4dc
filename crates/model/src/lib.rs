//! Domain types shared by every trackd crate.
//!
//! Units are SI and times are UTC milliseconds everywhere in here; conversion
//! to wire units (knots, ISO-8601 strings) happens only at the edges
//! (`server::api`, the CLI's JSON output).
#![warn(missing_docs)]

mod account;
mod attributes;
mod clock;
mod device;
mod event;
mod geofence;
mod geometry;
mod group;
mod id;
mod json;
mod permission;
mod position;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
mod time;

pub use account::{User, UserFields};
pub use attributes::{AttrKey, AttrKeyRef, AttrValue, AttrValueRef, Attributes, KnownKey};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{Device, DeviceFields, NewDevice};
pub use event::{Event, EventKind, NewEvent, UnknownEventKind};
pub use geofence::{Geofence, GeofenceFields};
pub use geometry::{
    distance_m, distance_to_segment_m, Geometry, GeometryError, LatLon, DEFAULT_POLYLINE_DISTANCE_M,
};
pub use group::{Group, GroupFields};
pub use id::{
    CalendarId, DeviceId, EventId, GeofenceId, GroupId, MaintenanceId, PositionId, UserId,
};
pub use json::JsonObject;
pub use permission::{Link, Permitted};
pub use position::{Position, Protocol, StoredPosition};
pub use time::{TimeParseError, Timestamp};

/// Kilometres per hour to metres per second.
pub fn kmh_to_mps(kmh: f64) -> f64 {
    kmh / 3.6
}

/// Metres per second to knots (the unit Traccar clients expect).
pub fn mps_to_knots(mps: f64) -> f64 {
    mps * 3600.0 / 1852.0
}
