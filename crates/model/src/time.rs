//! UTC instants as milliseconds since the Unix epoch.

/// A UTC instant, milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The earliest representable instant, for open-ended ranges.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant, for open-ended ranges.
    pub const MAX: Timestamp = Timestamp(i64::MAX);
}
