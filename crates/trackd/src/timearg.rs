//! Time arguments on the command line: the forms of `Timestamp::parse`
//! (shared with the HTTP API's `from`/`to`).

use trackd_model::Timestamp;

/// Parses a user-given instant.
pub(crate) fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
    Ok(Timestamp::parse(text)?)
}
