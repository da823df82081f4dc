//! Backend-independent parts of the permission links: how a [`Link`] maps
//! to a row of the generic `links (kind, owner_id, property_id)` table, and
//! the SQL shared by both backends (it differs only in the placeholder).

use trackd_model::{DeviceId, GeofenceId, GroupId, Link, UserId};

use crate::StoreError;

/// A registry table a link end refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Users,
    Devices,
    Groups,
    Geofences,
}

impl Table {
    /// The SQL table name (a constant, never input).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Devices => "devices",
            Table::Groups => "groups",
            Table::Geofences => "geofences",
        }
    }
}

/// Every link kind: (kind code, owner table, property table).
const KINDS: [(&str, Table, Table); 6] = [
    ("user_device", Table::Users, Table::Devices),
    ("user_group", Table::Users, Table::Groups),
    ("user_geofence", Table::Users, Table::Geofences),
    ("user_user", Table::Users, Table::Users),
    ("device_geofence", Table::Devices, Table::Geofences),
    ("group_geofence", Table::Groups, Table::Geofences),
];

/// One link as a row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkRow {
    pub(crate) kind: &'static str,
    pub(crate) owner: (Table, i64),
    pub(crate) property: (Table, i64),
}

pub(crate) fn to_row(link: Link) -> LinkRow {
    let (index, owner, property) = match link {
        Link::UserDevice(a, b) => (0, a.get(), b.get()),
        Link::UserGroup(a, b) => (1, a.get(), b.get()),
        Link::UserGeofence(a, b) => (2, a.get(), b.get()),
        Link::UserManagedUser(a, b) => (3, a.get(), b.get()),
        Link::DeviceGeofence(a, b) => (4, a.get(), b.get()),
        Link::GroupGeofence(a, b) => (5, a.get(), b.get()),
    };
    let (kind, owner_table, property_table) = KINDS[index];
    LinkRow {
        kind,
        owner: (owner_table, owner),
        property: (property_table, property),
    }
}

pub(crate) fn from_row(kind: &str, owner: i64, property: i64) -> Result<Link, StoreError> {
    Ok(match kind {
        "user_device" => Link::UserDevice(UserId(owner), DeviceId(property)),
        "user_group" => Link::UserGroup(UserId(owner), GroupId(property)),
        "user_geofence" => Link::UserGeofence(UserId(owner), GeofenceId(property)),
        "user_user" => Link::UserManagedUser(UserId(owner), UserId(property)),
        "device_geofence" => Link::DeviceGeofence(DeviceId(owner), GeofenceId(property)),
        "group_geofence" => Link::GroupGeofence(GroupId(owner), GeofenceId(property)),
        other => return Err(StoreError::Corrupt(format!("unknown link kind {other}"))),
    })
}

fn kind_list(matches: impl Fn(Table, Table) -> bool) -> Vec<String> {
    KINDS
        .iter()
        .filter(|(_, owner, property)| matches(*owner, *property))
        .map(|(kind, _, _)| format!("'{kind}'"))
        .collect()
}

/// The `WHERE` condition matching every link that has the row `id` of
/// `table` (bound as `param`) at either end.
fn touching_condition(table: Table, param: &str) -> String {
    let mut clauses = Vec::new();
    let owned = kind_list(|owner, _| owner == table);
    if !owned.is_empty() {
        clauses.push(format!(
            "(owner_id = {param} AND kind IN ({}))",
            owned.join(", ")
        ));
    }
    let held = kind_list(|_, property| property == table);
    if !held.is_empty() {
        clauses.push(format!(
            "(property_id = {param} AND kind IN ({}))",
            held.join(", ")
        ));
    }
    clauses.join(" OR ")
}

/// `DELETE` of every link that has the row `id` of `table` (bound as
/// `param`) at either end.
pub(crate) fn cleanup_sql(table: Table, param: &str) -> String {
    format!(
        "DELETE FROM links WHERE {}",
        touching_condition(table, param)
    )
}

/// `SELECT kind, owner_id, property_id` of every link that has the row `id`
/// of `table` (bound as `param`) at either end.
pub(crate) fn touching_sql(table: Table, param: &str) -> String {
    format!(
        "SELECT kind, owner_id, property_id FROM links WHERE {}",
        touching_condition(table, param)
    )
}

/// `SELECT kind, owner_id, property_id` of the links a user owns.
pub(crate) fn of_user_sql(param: &str) -> String {
    format!(
        "SELECT kind, owner_id, property_id FROM links WHERE owner_id = {param} AND kind IN ({})",
        kind_list(|owner, _| owner == Table::Users).join(", ")
    )
}

/// The queries of `permitted(user)`, the user id bound as `param`:
/// managed users, groups, devices, geofences, each a sorted id column.
///
/// `managed` follows manager links transitively (`UNION` drops rows already
/// seen, so cycles end); `members` is the user and everyone it manages;
/// `tree` is the groups linked to a member and all their descendants.
pub(crate) fn permitted_sql(param: &str) -> [String; 4] {
    let prefix = format!(
        "WITH RECURSIVE managed(id) AS (
            SELECT property_id FROM links WHERE kind = 'user_user' AND owner_id = {param}
            UNION
            SELECT l.property_id FROM links l JOIN managed m ON l.owner_id = m.id
            WHERE l.kind = 'user_user'
        ),
        members(id) AS (SELECT CAST({param} AS BIGINT) UNION SELECT id FROM managed),
        tree(id) AS (
            SELECT property_id FROM links
            WHERE kind = 'user_group' AND owner_id IN (SELECT id FROM members)
            UNION
            SELECT g.id FROM groups g JOIN tree t ON g.group_id = t.id
        )"
    );
    [
        format!(
            "{prefix} SELECT id FROM users
             WHERE id IN (SELECT id FROM managed) AND id <> {param} ORDER BY id"
        ),
        format!("{prefix} SELECT id FROM groups WHERE id IN (SELECT id FROM tree) ORDER BY id"),
        format!(
            "{prefix} SELECT id FROM devices
             WHERE id IN (SELECT property_id FROM links
                          WHERE kind = 'user_device' AND owner_id IN (SELECT id FROM members))
                OR group_id IN (SELECT id FROM tree)
             ORDER BY id"
        ),
        format!(
            "{prefix} SELECT id FROM geofences
             WHERE id IN (SELECT property_id FROM links
                          WHERE kind = 'user_geofence' AND owner_id IN (SELECT id FROM members))
             ORDER BY id"
        ),
    ]
}
