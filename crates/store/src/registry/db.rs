//! The dialect seam of the registry: what one backend's connection must do
//! so the registry's SQL, validation and cascades can be written once.
//!
//! The SQL text is shared: `$1`-style placeholders (SQLite numbers a
//! parameter by its first appearance, so every statement introduces `$1`,
//! `$2`, ... in order), `RETURNING` (SQLite >= 3.35), `ON CONFLICT`
//! upserts and `lower()` comparisons mean the same on both. What differs
//! lives behind [`Db`]: binding, row decoding, which errors are unique-key
//! conflicts, and the few lock clauses only PostgreSQL needs.

use trackd_model::{CalendarId, DeviceId, GeofenceId, GroupId, Timestamp, UserId};

use crate::StoreError;

/// A value bound to a placeholder. Typed even when NULL because
/// PostgreSQL checks a parameter's declared type against its column.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param<'a> {
    /// `BIGINT` / `INTEGER`.
    Int(Option<i64>),
    /// PostgreSQL `INTEGER` columns (limits), an `INTEGER` on SQLite.
    Int4(i32),
    /// `BOOLEAN` on PostgreSQL, 0/1 on SQLite.
    Bool(bool),
    /// `TEXT`.
    Text(Option<&'a str>),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

/// `Param::Int` from an id newtype, bare or optional.
macro_rules! id_params {
    ($($id:ty),*) => {$(
        impl From<$id> for Param<'_> {
            fn from(value: $id) -> Self {
                Param::Int(Some(value.get()))
            }
        }

        impl From<Option<$id>> for Param<'_> {
            fn from(value: Option<$id>) -> Self {
                Param::Int(value.map(<$id>::get))
            }
        }
    )*};
}

id_params!(UserId, DeviceId, GroupId, GeofenceId, CalendarId);

impl From<Option<Timestamp>> for Param<'_> {
    fn from(value: Option<Timestamp>) -> Self {
        Param::Int(value.map(Timestamp::as_millis))
    }
}

impl From<Timestamp> for Param<'_> {
    fn from(value: Timestamp) -> Self {
        Param::Int(Some(value.as_millis()))
    }
}

impl From<i32> for Param<'_> {
    fn from(value: i32) -> Self {
        Param::Int4(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Param::Bool(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(value))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(Some(value))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value)
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(value: &'a Option<String>) -> Self {
        Param::Text(value.as_deref())
    }
}

/// `[Param; N]` from values of any type with a `Param` conversion.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        [$($crate::registry::db::Param::from($value)),*]
    };
}
pub(crate) use params;

/// One column value as read, before the registry gives it a Rust type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    /// SQL NULL.
    Null,
    /// Any integer column.
    Int(i64),
    /// A PostgreSQL `BOOLEAN` (SQLite reads booleans as integers).
    Bool(bool),
    /// A text column.
    Text(String),
}

/// One result row; columns are read by position, in `SELECT` order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row(pub(crate) Vec<Cell>);

impl Row {
    fn cell(&self, index: usize) -> Result<&Cell, StoreError> {
        self.0
            .get(index)
            .ok_or_else(|| StoreError::Corrupt(format!("row has no column {index}")))
    }

    fn mismatch(&self, index: usize, wanted: &str) -> StoreError {
        StoreError::Corrupt(format!(
            "column {index}: expected {wanted}, found {:?}",
            self.0.get(index)
        ))
    }

    /// A non-NULL integer.
    pub(crate) fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.opt_int(index)?
            .ok_or_else(|| self.mismatch(index, "an integer"))
    }

    /// A nullable integer.
    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Int(value) => Ok(Some(*value)),
            _ => Err(self.mismatch(index, "an integer")),
        }
    }

    /// A non-NULL integer that fits 32 bits.
    pub(crate) fn int4(&self, index: usize) -> Result<i32, StoreError> {
        i32::try_from(self.int(index)?).map_err(|_| self.mismatch(index, "a 32-bit integer"))
    }

    /// A boolean (any non-zero integer is true, as SQLite stores them).
    pub(crate) fn boolean(&self, index: usize) -> Result<bool, StoreError> {
        match self.cell(index)? {
            Cell::Bool(value) => Ok(*value),
            Cell::Int(value) => Ok(*value != 0),
            _ => Err(self.mismatch(index, "a boolean")),
        }
    }

    /// A non-NULL text.
    pub(crate) fn text(&self, index: usize) -> Result<String, StoreError> {
        self.opt_text(index)?
            .ok_or_else(|| self.mismatch(index, "a text"))
    }

    /// A nullable text.
    pub(crate) fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Text(value) => Ok(Some(value.clone())),
            _ => Err(self.mismatch(index, "a text")),
        }
    }
}

/// One backend connection (inside the transaction the caller chose).
///
/// Implementations map a unique-key violation to
/// [`StoreError::Conflict`]; the registry renames it after the row at
/// fault with [`conflict_as`].
pub(crate) trait Db {
    /// Appended to the `SELECT` that checks a referenced row exists: on
    /// PostgreSQL it locks the row (`FOR KEY SHARE`) until the transaction
    /// ends, so a concurrent delete waits for this change to commit.
    /// SQLite writes are serialised by their IMMEDIATE transaction.
    const LOCK_REFERENCED: &'static str;

    /// Run before a change of the group tree so concurrent changes cannot
    /// make a cycle between them (PostgreSQL, READ COMMITTED); `None` where
    /// writers are serialised anyway (SQLite).
    const LOCK_GROUP_TREE: Option<&'static str>;

    /// How this dialect spells the words registry DDL writes in braces
    /// (`crate::registry::schema`).
    const DDL_WORDS: &'static [(&'static str, &'static str)];

    /// Run first in the transaction that migrates the registry schema where
    /// concurrent openers are not serialised otherwise (PostgreSQL nodes).
    const LOCK_SCHEMA: Option<&'static str>;

    /// Runs several statements without parameters (DDL).
    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Runs a statement; the number of rows it changed.
    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError>;

    /// The first row of a query, if any.
    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError>;

    /// Every row of a query.
    async fn fetch_all(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError>;
}

/// Renames a unique-key [`StoreError::Conflict`] after what was at fault.
pub(crate) fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> StoreError {
    move |error| match error {
        StoreError::Conflict(_) => StoreError::Conflict(what()),
        error => error,
    }
}

/// The single value of a query that always returns one row (`COUNT(*)`).
pub(crate) async fn fetch_int<D: Db>(
    db: &mut D,
    sql: &str,
    params: &[Param<'_>],
) -> Result<i64, StoreError> {
    match db.fetch_optional(sql, params).await? {
        Some(row) => row.int(0),
        None => Err(StoreError::Corrupt(format!("no row from {sql}"))),
    }
}

/// Decodes the row of a single-row lookup.
pub(crate) fn decode_one<T>(
    row: Option<Row>,
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    row.as_ref().map(decode).transpose()
}

/// Drives a registry future whose [`Db`] never waits (SQLite's: its calls
/// are synchronous, on the thread that owns the connection) to its end.
pub(crate) fn ready<T>(
    future: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Backend(std::sync::Arc::new(
            std::io::Error::other("a synchronous registry call waited"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{Cell, Row};
    use crate::StoreError;

    #[test]
    fn cells_decode_to_what_the_registry_asks_for() {
        let row = Row(vec![
            Cell::Int(7),
            Cell::Null,
            Cell::Bool(true),
            Cell::Text("x".into()),
            Cell::Int(i64::from(i32::MAX) + 1),
        ]);
        assert_eq!(row.int(0).unwrap(), 7);
        assert_eq!(row.opt_int(1).unwrap(), None);
        assert!(
            row.boolean(0).unwrap(),
            "SQLite stores booleans as integers"
        );
        assert!(row.boolean(2).unwrap());
        assert_eq!(row.text(3).unwrap(), "x");
        assert_eq!(row.opt_text(1).unwrap(), None);
        for wrong in [
            row.int(1).map(|_| ()),
            row.int(3).map(|_| ()),
            row.text(0).map(|_| ()),
            row.boolean(3).map(|_| ()),
            row.int4(4).map(|_| ()),
            row.int(5).map(|_| ()),
        ] {
            assert!(matches!(wrong, Err(StoreError::Corrupt(_))), "{wrong:?}");
        }
    }
}
