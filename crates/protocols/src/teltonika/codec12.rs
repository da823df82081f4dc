//! Codec 12 (GPRS command responses) and Codec 13 (the same with a
//! timestamp) sent by the device.

use super::payload::{decode_data, Decoded};
use super::{frame, DecodeOptions, DeviceProfile, FrameError};
use crate::reader::Reader;

/// Codec 12 message type of a command.
pub(crate) const TYPE_COMMAND: u8 = 0x05;
/// Codec 12 message type of a response.
pub(crate) const TYPE_RESPONSE: u8 = 0x06;
/// Codec 12 message type of camera file transfer (not handled).
const TYPE_CAMERA: u8 = 0x0D;

/// A device's answer to a command (Codec 12 or 13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codec12Response {
    /// The response text, trimmed; lowercase hex if it was not printable
    /// ASCII (Traccar's `result`). Several messages are joined by newlines.
    pub text: String,
    /// The message type byte (0x06 for a response).
    pub response_type: u8,
    /// Codec 13 only: the device's timestamp, milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl Codec12Response {
    /// The driver id of a tachograph/card-reader `GTSL|...` message (Traccar's
    /// `driverUniqueId`), the fifth `|`-separated field.
    pub fn driver_unique_id(&self) -> Option<&str> {
        if self.text.starts_with("GTSL") {
            self.text.split('|').nth(4)
        } else {
            None
        }
    }
}

/// Traccar's printable rule: no control bytes except CR and LF, no bytes
/// above 0x7F (Java's signed bytes).
fn is_printable(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (32..0x80).contains(&b) || b == b'\r' || b == b'\n')
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    out
}

/// Reads `n_messages` messages after the codec id and N1.
pub(crate) fn read_responses(
    reader: &mut Reader<'_>,
    codec_id: u8,
    n_messages: u8,
) -> Result<Codec12Response, FrameError> {
    let mut text = String::new();
    let mut response_type = 0;
    let mut timestamp_ms = None;
    for index in 0..n_messages {
        response_type = reader.u8()?;
        let at = reader.offset();
        let mut size = reader.u32()? as usize;
        if codec_id == 0x0D {
            size = size.checked_sub(4).ok_or(FrameError::Truncated { at })?;
            timestamp_ms = Some(i64::from(reader.u32()?) * 1000);
        } else if response_type == TYPE_CAMERA {
            return Err(FrameError::Unsupported("camera file transfer"));
        }
        let data = reader.take(size)?;
        if index > 0 {
            text.push('\n');
        }
        if is_printable(data) {
            // Printable means ASCII, so this is valid UTF-8.
            text.push_str(String::from_utf8_lossy(data).trim());
        } else {
            text.push_str(&to_hex(data));
        }
    }
    Ok(Codec12Response {
        text,
        response_type,
        timestamp_ms,
    })
}

/// Decodes one whole Codec 12 / 13 frame (preamble .. CRC) from a device.
pub fn decode_codec12_response(frame: &[u8]) -> Result<Codec12Response, FrameError> {
    let data = frame::split_data_frame(frame)?;
    let options = DecodeOptions::default();
    match decode_data(
        data,
        frame::HEADER_LEN,
        &options,
        &DeviceProfile::default(),
        true,
    )? {
        Decoded::Response(response) => Ok(response),
        Decoded::Records { .. } => Err(FrameError::Unsupported("avl data frame")),
    }
}
