//! The processing step of the seam: what turns raw decoded records into
//! derived data (odometer, trips, events) before they are committed.

use trackd_model::{DeviceId, Position};
use trackd_store::BatchEvent;

/// Per-device processing between decode and commit. Pure: the same state
/// and records give the same result. Runs with the device's state locked,
/// so batches of one device never interleave.
pub(crate) trait Processor: Send + Sync + 'static {
    /// What the processor remembers about one device between batches.
    type State: Default + Clone + Send + 'static;

    /// Updates `records` (derived attributes) and `state`; returns the
    /// events the batch raised, committed with the records in one
    /// transaction. `records` never holds a record already stored.
    fn process(
        &self,
        state: &mut Self::State,
        device_id: DeviceId,
        records: &mut [Position],
    ) -> Vec<BatchEvent>;
}

/// Stores records as they came.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Identity;

impl Processor for Identity {
    type State = ();

    fn process(
        &self,
        _state: &mut (),
        _device_id: DeviceId,
        _records: &mut [Position],
    ) -> Vec<BatchEvent> {
        Vec::new()
    }
}
