//! Geofences: named areas in WKT, as Traccar stores them.

use crate::{CalendarId, GeofenceId, Geometry, JsonObject};

/// A named area.
#[derive(Clone, Debug, PartialEq)]
pub struct Geofence {
    /// Store-assigned id.
    pub id: GeofenceId,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The area in Traccar's WKT subset: `CIRCLE (lat lon, radius)`,
    /// `POLYGON ((lat lon, ...))`, `LINESTRING (lat lon, ...)`; kept as
    /// written, so clients read back their own text.
    pub area: String,
    /// `area` parsed; `None` only for text stored before areas were
    /// validated (such a geofence contains nothing).
    pub geometry: Option<Geometry>,
    /// Calendar restricting when it applies.
    pub calendar_id: Option<CalendarId>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}

/// What a create or update of a geofence sets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeofenceFields {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// WKT area.
    pub area: String,
    /// Calendar restricting when it applies.
    pub calendar_id: Option<CalendarId>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}
