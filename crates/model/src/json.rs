//! Free-form JSON attributes of registry objects.

/// The text of a JSON object, as a client sent it (validated at the API
/// edge). Stored and returned verbatim; never null, `{}` when empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonObject(pub String);

impl Default for JsonObject {
    fn default() -> Self {
        JsonObject("{}".to_owned())
    }
}

impl JsonObject {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
