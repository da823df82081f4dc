//! The device registry's types.

/// Store-assigned device id; small positive integers (they are packed into
/// position ids, see [`crate::StoredPosition::id`]).
pub type DeviceId = i64;

/// A registered tracker.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// Store-assigned id.
    pub id: DeviceId,
    /// The identifier the device reports (IMEI for Teltonika).
    pub unique_id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether the device is refused even though registered.
    pub disabled: bool,
}

/// What is needed to register a device.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDevice {
    /// The identifier the device reports (IMEI for Teltonika).
    pub unique_id: String,
    /// Human-readable name.
    pub name: String,
}
