//! Device groups (a tree).

use crate::{GroupId, JsonObject};

/// A group of devices; groups nest through `group_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Store-assigned id.
    pub id: GroupId,
    /// Display name.
    pub name: String,
    /// The parent group.
    pub group_id: Option<GroupId>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}

/// What a create or update of a group sets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupFields {
    /// Display name.
    pub name: String,
    /// The parent group.
    pub group_id: Option<GroupId>,
    /// Free-form attributes.
    pub attributes: JsonObject,
}
