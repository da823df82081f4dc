//! The store's error type.

use std::sync::Arc;

use trackd_model::{DeviceId, UnknownEventKind};

/// Why a store operation failed.
///
/// Cloneable so one failed group commit can be reported to every waiter.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The requested row does not exist.
    #[error("not found")]
    NotFound,
    /// The request is inconsistent (a group cycle, a reference to a missing parent, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A unique key is already taken.
    #[error("already exists: {0}")]
    Conflict(String),
    /// Stored bytes could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The store was opened read-only.
    #[error("store is read-only")]
    ReadOnly,
    /// The store was closed or its writer stopped.
    #[error("store is closed")]
    Closed,
    /// The configuration cannot be used.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// A device ran out of position sequence numbers (2^32 per device).
    #[error("position sequence exhausted for device {0}")]
    SequenceExhausted(DeviceId),
    /// The schema was written by a newer trackd.
    #[error("database schema version {found} is newer than supported version {supported}")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// The database backend or the file system failed.
    #[error("backend error: {0}")]
    Backend(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(Arc::new(error))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Backend(Arc::new(error))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Backend(Arc::new(error))
    }
}

impl From<crate::encoding::CodecError> for StoreError {
    fn from(error: crate::encoding::CodecError) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(error: rusqlite::types::FromSqlError) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

impl From<UnknownEventKind> for StoreError {
    fn from(error: UnknownEventKind) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}
