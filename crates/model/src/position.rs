//! One located report of a device.

use crate::{Attributes, DeviceId, PositionId, Timestamp};

/// Which wire protocol a position arrived over; decides how its raw
/// attributes are named at the edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Protocol {
    /// Unknown or not recorded.
    #[default]
    Unknown = 0,
    /// Teltonika Codec 8 / 8E / 16 over TCP or UDP.
    Teltonika = 1,
    /// GT06 (Concox and its clones) over TCP.
    Gt06 = 2,
    /// OsmAnd / Traccar Client over HTTP.
    OsmAnd = 3,
}

impl Protocol {
    /// Traccar's protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Unknown => "unknown",
            Protocol::Teltonika => "teltonika",
            Protocol::Gt06 => "gt06",
            Protocol::OsmAnd => "osmand",
        }
    }

    /// The protocol with this stable storage code.
    pub fn from_code(code: u8) -> Protocol {
        match code {
            1 => Protocol::Teltonika,
            2 => Protocol::Gt06,
            3 => Protocol::OsmAnd,
            _ => Protocol::Unknown,
        }
    }
}

/// A decoded position report, before storage. SI units, UTC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Position {
    /// Protocol it arrived over.
    pub protocol: Protocol,
    /// When the GNSS fix was taken.
    pub fix_time: Timestamp,
    /// The device's own clock when it made the record.
    pub device_time: Timestamp,
    /// When the server received it (set by the listener, not the decoder).
    pub server_time: Timestamp,
    /// Whether the fix is valid.
    pub valid: bool,
    /// WGS84 degrees.
    pub latitude: f64,
    /// WGS84 degrees.
    pub longitude: f64,
    /// Metres above mean sea level.
    pub altitude: f64,
    /// Metres per second.
    pub speed: f64,
    /// Degrees clockwise from true north, 0..360.
    pub course: f64,
    /// Everything else the device reported.
    pub attributes: Attributes,
}

impl Position {
    /// Whether the server marked this record implausible at ingest (the
    /// `invalidReason` attribute): such a record is kept but never becomes
    /// a device's latest position nor feeds derived data.
    pub fn is_implausible(&self) -> bool {
        self.attributes
            .get_known(crate::KnownKey::InvalidReason)
            .is_some()
    }
}

/// A position as read back from the store.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPosition {
    /// Position id: `device_id << 32 | per-device sequence number` (see
    /// [`PositionId`]).
    pub id: PositionId,
    /// The device it belongs to.
    pub device_id: DeviceId,
    /// The position itself.
    pub position: Position,
}

impl StoredPosition {
    /// Builds the position id from its parts.
    pub fn make_id(device_id: DeviceId, sequence: u32) -> PositionId {
        PositionId::from_parts(device_id, sequence)
    }

    /// The device a position id belongs to.
    pub fn device_of_id(id: PositionId) -> DeviceId {
        id.device()
    }
}
