//! What a viewer may not see of a position even when it may see the
//! device (private mode, privacy zones: issue 6/8). Identity for now.

use std::borrow::Cow;

use trackd_model::StoredPosition;

use crate::live::ViewKey;

/// The privacy rules applied to one viewer's reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrivacyMask {
    _rules: (),
}

impl PrivacyMask {
    /// Shows everything.
    pub fn identity() -> Self {
        PrivacyMask::default()
    }

    /// Viewers whose masks have equal keys see identical renderings, so
    /// a live update is rendered once per key.
    pub fn view_key(&self) -> ViewKey {
        0
    }

    /// Masks one position in place.
    pub fn apply(&self, position: &mut StoredPosition) {
        let _ = position;
    }

    /// Masks positions in place.
    pub fn apply_all(&self, positions: &mut [StoredPosition]) {
        for position in positions {
            self.apply(position);
        }
    }

    /// The position as this mask shows it, copied only when it changes.
    pub fn masked<'a>(&self, position: &'a StoredPosition) -> Cow<'a, StoredPosition> {
        Cow::Borrowed(position)
    }
}
