//! Traccar-shaped JSON for the registry objects (users, devices, groups,
//! geofences, events, permissions, server), both directions. Input is
//! validated here: a wrong type or a bad time is a 400 naming the field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trackd_model::{
    CalendarId, Device, DeviceFields, DeviceId, Event, Geofence, GeofenceFields, GeofenceId,
    Geometry, Group, GroupFields, GroupId, JsonObject, Link, MaintenanceId, PositionId, Timestamp,
    User, UserFields, UserId,
};

use super::dto::iso8601;
use super::error::{ApiError, ApiResult};

/// Parses an instant in the forms the CLI takes too (RFC 3339, a bare date
/// at midnight UTC, or epoch milliseconds); a 400 naming the field otherwise.
pub fn parse_time(field: &str, text: &str) -> ApiResult<Timestamp> {
    Timestamp::parse(text).map_err(|_| {
        ApiError::bad(format!(
            "{field}: invalid time {text:?}, expected ISO-8601 like 2024-05-01T12:00:00Z, a date like 2024-05-01 or epoch milliseconds"
        ))
    })
}

fn optional_time(field: &str, text: &Option<String>) -> ApiResult<Option<Timestamp>> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_time(field, text).map(Some),
    }
}

fn attributes_out(json: &JsonObject) -> Map<String, Value> {
    serde_json::from_str(json.as_str()).unwrap_or_default()
}

fn attributes_in(map: &Map<String, Value>) -> JsonObject {
    JsonObject(Value::Object(map.clone()).to_string())
}

fn non_empty(field: &str, text: &str, max: usize) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad(format!("{field} is required")));
    }
    if text.chars().count() > max {
        return Err(ApiError::bad(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(text.to_owned())
}

fn optional_text(field: &str, text: &Option<String>, max: usize) -> ApiResult<Option<String>> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > max => Err(ApiError::bad(format!(
            "{field} is longer than {max} characters"
        ))),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// `/api/users` objects.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct UserDto {
    pub id: i64,
    pub name: String,
    pub login: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub readonly: bool,
    pub administrator: bool,
    pub map: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub zoom: i32,
    pub twelve_hour_format: bool,
    pub coordinate_format: Option<String>,
    pub disabled: bool,
    pub expiration_time: Option<String>,
    pub device_limit: i32,
    pub user_limit: i32,
    pub device_readonly: bool,
    pub limit_commands: bool,
    pub disable_reports: bool,
    pub fixed_email: bool,
    pub poi_layer: Option<String>,
    pub totp_key: Option<String>,
    pub temporary: bool,
    /// Write-only: never serialized back.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

impl Default for UserDto {
    fn default() -> Self {
        UserDto {
            id: 0,
            name: String::new(),
            login: None,
            email: String::new(),
            phone: None,
            readonly: false,
            administrator: false,
            map: None,
            latitude: 0.0,
            longitude: 0.0,
            zoom: 0,
            twelve_hour_format: false,
            coordinate_format: None,
            disabled: false,
            expiration_time: None,
            device_limit: -1,
            user_limit: 0,
            device_readonly: false,
            limit_commands: false,
            disable_reports: false,
            fixed_email: false,
            poi_layer: None,
            totp_key: None,
            temporary: false,
            password: None,
            attributes: Map::new(),
        }
    }
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        UserDto {
            id: user.id.get(),
            name: user.name.clone(),
            email: user.email.clone(),
            phone: user.phone.clone(),
            readonly: user.readonly,
            administrator: user.administrator,
            disabled: user.disabled,
            expiration_time: user.expiration_time.map(iso8601),
            device_limit: user.device_limit,
            user_limit: user.user_limit,
            device_readonly: user.device_readonly,
            limit_commands: user.limit_commands,
            attributes: attributes_out(&user.attributes),
            ..UserDto::default()
        }
    }
}

impl UserDto {
    /// The stored fields this object sets (validated).
    pub fn fields(&self) -> ApiResult<UserFields> {
        let email = non_empty("email", &self.email, 128)?;
        if !email.contains('@') && email != "admin" {
            return Err(ApiError::bad("email: not an email address"));
        }
        let name = if self.name.trim().is_empty() {
            email.clone()
        } else {
            non_empty("name", &self.name, 128)?
        };
        if self.device_limit < -1 || self.user_limit < -1 {
            return Err(ApiError::bad(
                "deviceLimit and userLimit must be -1 or more",
            ));
        }
        Ok(UserFields {
            name,
            email,
            phone: optional_text("phone", &self.phone, 64)?,
            administrator: self.administrator,
            readonly: self.readonly,
            device_readonly: self.device_readonly,
            limit_commands: self.limit_commands,
            disabled: self.disabled,
            expiration_time: optional_time("expirationTime", &self.expiration_time)?,
            device_limit: self.device_limit,
            user_limit: self.user_limit,
            attributes: attributes_in(&self.attributes),
        })
    }
}

/// `/api/devices` objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceDto {
    pub id: i64,
    pub name: String,
    pub unique_id: String,
    pub status: String,
    pub disabled: bool,
    pub last_update: Option<String>,
    /// Latest position; 0 when there is none (Traccar's unset id).
    #[serde(deserialize_with = "ids::zero_if_null")]
    pub position_id: i64,
    /// 0 when the device is in no group.
    #[serde(deserialize_with = "ids::zero_if_null")]
    pub group_id: i64,
    pub phone: Option<String>,
    pub model: Option<String>,
    pub contact: Option<String>,
    pub category: Option<String>,
    #[serde(deserialize_with = "ids::zero_if_null")]
    pub calendar_id: i64,
    pub expiration_time: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

/// Live state of a device, from the listeners and the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceState {
    /// Traccar's status: `online`, `offline` or `unknown`.
    pub status: &'static str,
    /// Receive time of the latest position.
    pub last_update: Option<Timestamp>,
    /// Id of the latest position.
    pub position_id: Option<PositionId>,
}

impl DeviceDto {
    /// The JSON of a device in its current state.
    pub fn new(device: &Device, state: DeviceState) -> Self {
        let status = state.status;
        DeviceDto {
            id: device.id.get(),
            name: device.name.clone(),
            unique_id: device.unique_id.clone(),
            status: status.to_owned(),
            disabled: device.disabled,
            last_update: state.last_update.map(iso8601),
            position_id: state.position_id.map_or(0, PositionId::get),
            group_id: device.group_id.map_or(0, GroupId::get),
            phone: device.phone.clone(),
            model: device.model.clone(),
            contact: device.contact.clone(),
            category: device.category.clone(),
            calendar_id: 0,
            expiration_time: device.expiration_time.map(iso8601),
            attributes: attributes_out(&device.attributes),
        }
    }

    /// The stored fields this object sets (validated).
    pub fn fields(&self) -> ApiResult<DeviceFields> {
        Ok(DeviceFields {
            name: non_empty("name", &self.name, 128)?,
            unique_id: non_empty("uniqueId", &self.unique_id, 64)?,
            group_id: ids::unset_if_zero(self.group_id).map(GroupId),
            phone: optional_text("phone", &self.phone, 64)?,
            model: optional_text("model", &self.model, 128)?,
            contact: optional_text("contact", &self.contact, 512)?,
            category: optional_text("category", &self.category, 128)?,
            disabled: self.disabled,
            expiration_time: optional_time("expirationTime", &self.expiration_time)?,
            attributes: attributes_in(&self.attributes),
        })
    }
}

/// `/api/groups` objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupDto {
    pub id: i64,
    pub name: String,
    /// The parent group; 0 at the top.
    #[serde(deserialize_with = "ids::zero_if_null")]
    pub group_id: i64,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

impl From<&Group> for GroupDto {
    fn from(group: &Group) -> Self {
        GroupDto {
            id: group.id.get(),
            name: group.name.clone(),
            group_id: group.group_id.map_or(0, GroupId::get),
            attributes: attributes_out(&group.attributes),
        }
    }
}

impl GroupDto {
    /// The stored fields this object sets (validated).
    pub fn fields(&self) -> ApiResult<GroupFields> {
        Ok(GroupFields {
            name: non_empty("name", &self.name, 128)?,
            group_id: ids::unset_if_zero(self.group_id).map(GroupId),
            attributes: attributes_in(&self.attributes),
        })
    }
}

/// `/api/geofences` objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct GeofenceDto {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub area: String,
    /// 0 when no calendar restricts it.
    #[serde(deserialize_with = "ids::zero_if_null")]
    pub calendar_id: i64,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

impl From<&Geofence> for GeofenceDto {
    fn from(geofence: &Geofence) -> Self {
        GeofenceDto {
            id: geofence.id.get(),
            name: geofence.name.clone(),
            description: geofence.description.clone(),
            area: geofence.area.clone(),
            calendar_id: geofence.calendar_id.map_or(0, CalendarId::get),
            attributes: attributes_out(&geofence.attributes),
        }
    }
}

impl GeofenceDto {
    /// The stored fields this object sets (validated).
    pub fn fields(&self) -> ApiResult<GeofenceFields> {
        let area = non_empty("area", &self.area, 65_536)?;
        Geometry::parse(&area).map_err(|err| ApiError::bad(format!("area: {err}")))?;
        Ok(GeofenceFields {
            name: non_empty("name", &self.name, 128)?,
            description: optional_text("description", &self.description, 512)?,
            area,
            calendar_id: ids::unset_if_zero(self.calendar_id).map(CalendarId),
            attributes: attributes_in(&self.attributes),
        })
    }
}

/// `/api/events` and `/api/reports/events` objects.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDto {
    pub id: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event_time: String,
    pub device_id: i64,
    pub position_id: i64,
    pub geofence_id: i64,
    pub maintenance_id: i64,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

impl From<&Event> for EventDto {
    fn from(event: &Event) -> Self {
        EventDto {
            id: event.id.get(),
            event_type: event.event_type.as_str().to_owned(),
            event_time: iso8601(event.event_time),
            device_id: event.device_id.get(),
            position_id: event.position_id.map_or(0, PositionId::get),
            geofence_id: event.geofence_id.map_or(0, GeofenceId::get),
            maintenance_id: event.maintenance_id.map_or(0, MaintenanceId::get),
            attributes: attributes_out(&event.attributes),
        }
    }
}

/// `/api/permissions` body: exactly two ids, naming one link. Ids may be
/// JSON numbers or strings of digits (traccar-web sends the id taken from
/// its page address as a string).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionDto {
    #[serde(default, deserialize_with = "ids::optional")]
    pub user_id: Option<i64>,
    #[serde(default, deserialize_with = "ids::optional")]
    pub device_id: Option<i64>,
    #[serde(default, deserialize_with = "ids::optional")]
    pub group_id: Option<i64>,
    #[serde(default, deserialize_with = "ids::optional")]
    pub geofence_id: Option<i64>,
    #[serde(default, deserialize_with = "ids::optional")]
    pub managed_user_id: Option<i64>,
}

impl PermissionDto {
    /// The link this body names.
    pub fn link(&self) -> ApiResult<Link> {
        let link = match (
            self.user_id,
            self.device_id,
            self.group_id,
            self.geofence_id,
            self.managed_user_id,
        ) {
            (Some(u), Some(d), None, None, None) => Link::UserDevice(UserId(u), DeviceId(d)),
            (Some(u), None, Some(g), None, None) => Link::UserGroup(UserId(u), GroupId(g)),
            (Some(u), None, None, Some(f), None) => Link::UserGeofence(UserId(u), GeofenceId(f)),
            (Some(u), None, None, None, Some(m)) => Link::UserManagedUser(UserId(u), UserId(m)),
            (None, Some(d), None, Some(f), None) => Link::DeviceGeofence(DeviceId(d), GeofenceId(f)),
            (None, None, Some(g), Some(f), None) => Link::GroupGeofence(GroupId(g), GeofenceId(f)),
            _ => {
                return Err(ApiError::bad(
                    "permission: give exactly two of userId, deviceId, groupId, geofenceId, managedUserId in a supported pair",
                ))
            }
        };
        Ok(link)
    }
}

/// Object ids as Traccar's Jackson reads them: a number, a string of
/// digits, or null (unset); Traccar renders an unset id as 0.
mod ids {
    use std::fmt;

    use serde::de::{Deserializer, Error, Visitor};

    struct IdVisitor;

    impl<'de> Visitor<'de> for IdVisitor {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer id (a number or a string of digits)")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is too large for an id")))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
            // i64::MAX as f64 rounds up to 2^63, so the bound is exclusive.
            if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("{v} is not an integer id")))
            }
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            let trimmed = v.trim();
            if trimmed.is_empty() {
                return Ok(None);
            }
            trimmed
                .parse::<i64>()
                .map(Some)
                .map_err(|_| E::custom(format!("{v:?} is not an integer id")))
        }

        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    /// An optional id.
    pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(IdVisitor)
    }

    /// An id where null means unset, which is 0.
    pub(super) fn zero_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(optional(d)?.unwrap_or(0))
    }

    /// The stored form of a Traccar id: 0 is none.
    pub(super) fn unset_if_zero(id: i64) -> Option<i64> {
        (id != 0).then_some(id)
    }
}
