//! Typed ids: one newtype per kind of row, so a device id cannot be passed
//! where a group id is expected.
//!
//! Every id wraps the store's `i64` and prints as the bare number; the JSON
//! edge (`server::api`) converts to and from plain numbers. With the
//! `sqlite` or `postgres` feature the ids bind and decode as `INTEGER` /
//! `BIGINT` directly (see `sql.rs`).
//!
//! ```compile_fail
//! use trackd_model::{DeviceId, GroupId};
//! fn group(_: GroupId) {}
//! group(DeviceId(7));
//! ```

use std::fmt;

/// Declares one id newtype with its conversions.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            /// The id with this number.
            pub const fn new(id: i64) -> Self {
                $name(id)
            }

            /// The bare number, as stored and as the API writes it.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> $name {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_type! {
    /// Store-assigned device id; small positive integers (they are packed
    /// into position ids, see [`PositionId`]). Never reused, not even after
    /// the device is deleted (its positions may outlive it).
    DeviceId
}

id_type! {
    /// Store-assigned user id.
    UserId
}

id_type! {
    /// Store-assigned group id.
    GroupId
}

id_type! {
    /// Store-assigned geofence id.
    GeofenceId
}

id_type! {
    /// Store-assigned event id.
    EventId
}

id_type! {
    /// A maintenance schedule's id (Traccar's; no table of its own yet).
    MaintenanceId
}

id_type! {
    /// A calendar's id (Traccar's; no table of its own yet).
    CalendarId
}

id_type! {
    /// Position id: `device_id << 32 | per-device sequence number`, so it is
    /// unique, stable, below 2^53 (safe in JavaScript) and names its device.
    PositionId
}

impl PositionId {
    /// The id of the `sequence`-th position of `device`.
    pub const fn from_parts(device: DeviceId, sequence: u32) -> Self {
        PositionId((device.0 << 32) | sequence as i64)
    }

    /// The device the position belongs to.
    pub const fn device(self) -> DeviceId {
        DeviceId(self.0 >> 32)
    }

    /// The position's per-device sequence number.
    pub const fn sequence(self) -> u32 {
        // The low 32 bits, by construction of `from_parts`.
        (self.0 & 0xffff_ffff) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_bare_numbers() {
        assert_eq!(DeviceId(42).to_string(), "42");
        assert_eq!(format!("device {}", GroupId(-1)), "device -1");
        assert_eq!(i64::from(UserId::new(7)), 7);
        assert_eq!(EventId(3).get(), 3);
    }

    #[test]
    fn position_ids_name_their_device_and_sequence() {
        let id = PositionId::from_parts(DeviceId(5), 7);
        assert_eq!(id.get(), (5 << 32) | 7);
        assert_eq!(id.device(), DeviceId(5));
        assert_eq!(id.sequence(), 7);
        let last = PositionId::from_parts(DeviceId(1), u32::MAX);
        assert_eq!(last.device(), DeviceId(1));
        assert_eq!(last.sequence(), u32::MAX);
        assert!(last < PositionId::from_parts(DeviceId(2), 0));
    }
}
