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
    /// The PostgreSQL server could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL at {addr}: {reason}")]
    Connect {
        /// `host:port` of the server.
        addr: String,
        /// What went wrong.
        reason: ConnectFailure,
    },
    /// The SQLite database file could not be opened or created.
    #[error("cannot open the SQLite database {path}: {reason}")]
    SqliteOpen {
        /// The database file.
        path: String,
        /// What SQLite said.
        reason: String,
    },
    /// The database backend or the file system failed.
    #[error("backend error: {0}")]
    Backend(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

/// Why a connection to PostgreSQL failed, in the terms a user acts on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectFailure {
    /// Nothing listens on the address.
    #[error("connection refused (is PostgreSQL running there?)")]
    Refused,
    /// No answer within the connect timeout.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// The server did not accept the user or its password.
    #[error("authentication failed for user {user:?}: {message}")]
    Authentication {
        /// The user name of the URL.
        user: String,
        /// What the server said.
        message: String,
    },
    /// The database of the URL does not exist.
    #[error("database {0:?} does not exist (create it with `createdb`)")]
    NoSuchDatabase(String),
    /// Anything else (DNS, TLS, network).
    #[error("{0}")]
    Other(String),
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
