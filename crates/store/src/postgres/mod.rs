//! The PostgreSQL backend (placeholder while the SQLite backend lands).

use trackd_model::{Device, DeviceId, NewDevice, Position, StoredPosition, Timestamp};

use crate::StoreError;

pub(crate) struct PgStore;

#[allow(clippy::unused_async)]
impl PgStore {
    pub(crate) async fn open(_url: &str, _read_only: bool) -> Result<PgStore, StoreError> { Err(StoreError::InvalidConfig("todo".into())) }
    pub(crate) async fn add_device(&self, _d: NewDevice) -> Result<Device, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn device_by_unique_id(&self, _u: &str) -> Result<Option<Device>, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn device(&self, _id: DeviceId) -> Result<Option<Device>, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn devices(&self) -> Result<Vec<Device>, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn append_positions(&self, _d: DeviceId, _p: Vec<Position>) -> Result<(), StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn positions(&self, _d: DeviceId, _f: Timestamp, _t: Timestamp) -> Result<Vec<StoredPosition>, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn latest_position(&self, _d: DeviceId) -> Result<Option<StoredPosition>, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn position_by_id(&self, _id: i64) -> Result<Option<StoredPosition>, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn count_positions(&self, _d: DeviceId) -> Result<u64, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn flush(&self) -> Result<(), StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn disk_usage_bytes(&self) -> Result<u64, StoreError> { Err(StoreError::Closed) }
    pub(crate) async fn close(&self) -> Result<(), StoreError> { Err(StoreError::Closed) }
}
