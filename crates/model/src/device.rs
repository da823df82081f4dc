//! The device registry's types.

use crate::{DeviceId, GroupId, JsonObject, Timestamp};

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
    /// The group it belongs to.
    pub group_id: Option<GroupId>,
    /// SIM phone number.
    pub phone: Option<String>,
    /// Device model.
    pub model: Option<String>,
    /// Contact person or details.
    pub contact: Option<String>,
    /// Traccar's icon category (`car`, `truck`, ...).
    pub category: Option<String>,
    /// Refused from this instant on.
    pub expiration_time: Option<Timestamp>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}

/// What is needed to register a device.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDevice {
    /// The identifier the device reports (IMEI for Teltonika).
    pub unique_id: String,
    /// Human-readable name.
    pub name: String,
}

/// Everything about a device that a create or update sets (not the id).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceFields {
    /// Human-readable name.
    pub name: String,
    /// The identifier the device reports, unique.
    pub unique_id: String,
    /// The group it belongs to.
    pub group_id: Option<GroupId>,
    /// SIM phone number.
    pub phone: Option<String>,
    /// Device model.
    pub model: Option<String>,
    /// Contact person or details.
    pub contact: Option<String>,
    /// Traccar's icon category.
    pub category: Option<String>,
    /// Refused even though registered.
    pub disabled: bool,
    /// Refused from this instant on.
    pub expiration_time: Option<Timestamp>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}

impl From<NewDevice> for DeviceFields {
    fn from(device: NewDevice) -> Self {
        DeviceFields {
            name: device.name,
            unique_id: device.unique_id,
            ..DeviceFields::default()
        }
    }
}
