//! Framing: `78 78` + 1-byte length or `79 79` + 2-byte length, then type,
//! content, serial, CRC-ITU and `0D 0A`.
//!
//! [`next_frame`] is pure: it looks at the start of a buffer and says how
//! long the first frame is and how it was delimited, or that more bytes are
//! needed, or that the stream cannot be framed. It does not check the CRC.

use super::Error;

/// Header and stop bytes.
const STOP: [u8; 2] = [0x0D, 0x0A];

/// How a frame was delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The length field points at the stop bytes: serial and CRC are there
    /// to check.
    Standard,
    /// A `78 78` Wi-Fi packet (0x17, 0x69) whose "length" byte is the
    /// access point count: it ends at the first `0D 0A` and has no CRC.
    WifiCount,
    /// The length field does not point at the stop bytes; the frame was
    /// delimited by the first `0D 0A` instead (Traccar's fallback).
    LengthMismatch {
        /// The length the header declares, header to stop bytes.
        declared: usize,
    },
}

/// The result of looking for a frame at the start of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameStatus {
    /// Not enough bytes yet.
    Incomplete,
    /// The first `len` bytes are one frame.
    Complete {
        /// How it was delimited.
        kind: FrameKind,
        /// Its length in bytes, header to stop bytes.
        len: usize,
    },
    /// The stream cannot be framed: close the connection.
    Invalid(Error),
}

/// Whether the frame starts with `79 79` (two-byte length).
pub(crate) fn is_extended(frame: &[u8]) -> bool {
    frame.first() == Some(&0x79)
}

/// Offset of the type byte.
pub(crate) fn type_offset(frame: &[u8]) -> usize {
    if is_extended(frame) {
        4
    } else {
        3
    }
}

/// The declared length field (type .. CRC).
pub(crate) fn declared_length(frame: &[u8]) -> usize {
    if is_extended(frame) {
        frame
            .get(2..4)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    } else {
        frame.get(2).map_or(0, |&b| usize::from(b))
    }
}

/// Finds the first frame in `buf`.
pub fn next_frame(buf: &[u8], max_frame: usize) -> FrameStatus {
    if let Some(header) = buf.get(..2) {
        if header != [0x78, 0x78] && header != [0x79, 0x79] {
            return FrameStatus::Invalid(Error::BadHeader([header[0], header[1]]));
        }
    }
    let Some(head) = buf.get(..5) else {
        return FrameStatus::Incomplete;
    };
    let extended = is_extended(head);
    let header_len = if extended { 4 } else { 3 };
    let declared = header_len + declared_length(head) + STOP.len();
    if declared > max_frame {
        return FrameStatus::Invalid(Error::FrameTooLarge {
            size: declared,
            limit: max_frame,
        });
    }
    // Nothing is decided before the declared frame is in: a stop pair that
    // shows up earlier may be content, and the answer must not depend on
    // how the stream was chunked.
    let Some(frame) = buf.get(..declared) else {
        return FrameStatus::Incomplete;
    };
    if frame.ends_with(&STOP) {
        return FrameStatus::Complete {
            kind: FrameKind::Standard,
            len: declared,
        };
    }
    let first_stop = buf
        .get(header_len..)
        .and_then(|rest| rest.windows(2).position(|w| w == STOP))
        .map(|at| header_len + at + STOP.len());
    match first_stop {
        Some(len) if len > max_frame => FrameStatus::Invalid(Error::FrameTooLarge {
            size: len,
            limit: max_frame,
        }),
        Some(len) => {
            let wifi = !extended && matches!(head[3], 0x17 | 0x69);
            let kind = if wifi {
                FrameKind::WifiCount
            } else {
                FrameKind::LengthMismatch { declared }
            };
            FrameStatus::Complete { kind, len }
        }
        None if buf.len() >= max_frame => FrameStatus::Invalid(Error::FrameTooLarge {
            size: buf.len(),
            limit: max_frame,
        }),
        None => FrameStatus::Incomplete,
    }
}

/// Checks the CRC-ITU of a [`FrameKind::Standard`] frame.
pub(crate) fn check_crc(frame: &[u8]) -> Result<(), Error> {
    let end = frame.len().saturating_sub(STOP.len());
    if declared_length(frame) < 5 {
        return Err(Error::TooShort(declared_length(frame)));
    }
    let crc_at = end.saturating_sub(2);
    let field = frame
        .get(crc_at..end)
        .ok_or(Error::Truncated { at: crc_at })?;
    let sent = u16::from_be_bytes([field[0], field[1]]);
    let data = frame
        .get(2..crc_at)
        .ok_or(Error::Truncated { at: crc_at })?;
    let computed = crc16_x25(data);
    if sent == computed {
        Ok(())
    } else {
        Err(Error::BadCrc {
            frame: sent,
            computed,
        })
    }
}

/// CRC-16/X-25 (CRC-ITU): reflected polynomial 0x8408, init and final
/// XOR 0xFFFF.
pub fn crc16_x25(data: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &byte in data {
        crc = (crc >> 8) ^ X25_TABLE[usize::from((crc ^ u16::from(byte)) & 0xFF)];
    }
    !crc
}

static X25_TABLE: [u16; 256] = x25_table();

const fn x25_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}
