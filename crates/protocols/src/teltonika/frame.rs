//! TCP framing: the IMEI handshake, the 0xFF keepalive and AVL data frames
//! (`00000000` preamble, u32 data length, data, u32 CRC-16/IBM of the data).
//!
//! [`next_frame`] is pure: it looks at the start of a buffer and says how
//! long the first frame is, or that more bytes are needed, or that the
//! stream cannot be framed any more. It does not check CRCs or decode.

use super::FrameError;

/// Default limit on one data frame, preamble to CRC.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// Longest IMEI handshake accepted (IMEIs are 15 digits; some devices send
/// other identifiers, never this long).
pub(crate) const MAX_IMEI_LEN: usize = 64;

/// Preamble + length field.
pub(crate) const HEADER_LEN: usize = 8;
/// CRC field.
pub(crate) const CRC_LEN: usize = 4;
/// Codec id, N1 and N2: the least a data field can hold.
const MIN_DATA_LEN: u32 = 3;

/// What kind of frame starts the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The one-byte 0xFF keepalive.
    Ping,
    /// u16 length + IMEI.
    Imei,
    /// Preamble, length, data, CRC.
    Data,
}

/// The result of looking for a frame at the start of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameStatus {
    /// Not enough bytes yet to know or to hold the first frame.
    Incomplete,
    /// The first `len` bytes are one frame of `kind`.
    Complete {
        /// What the frame is.
        kind: FrameKind,
        /// Its length in bytes.
        len: usize,
    },
    /// The stream cannot be framed: the connection should be closed.
    Invalid(FrameError),
}

/// Finds the first frame in `buf` (stateless; Traccar's frame decoder rules:
/// a leading 0xFF is a ping, a non-zero u16 is an IMEI length, zero starts a
/// data frame).
pub fn next_frame(buf: &[u8], max_frame: usize) -> FrameStatus {
    let Some(&first) = buf.first() else {
        return FrameStatus::Incomplete;
    };
    if first == 0xFF {
        return FrameStatus::Complete {
            kind: FrameKind::Ping,
            len: 1,
        };
    }
    let Some(prefix) = buf.get(..2) else {
        return FrameStatus::Incomplete;
    };
    let imei_len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if imei_len > 0 {
        if imei_len > MAX_IMEI_LEN {
            return FrameStatus::Invalid(FrameError::InvalidImei);
        }
        let len = 2 + imei_len;
        return if buf.len() >= len {
            FrameStatus::Complete {
                kind: FrameKind::Imei,
                len,
            }
        } else {
            FrameStatus::Incomplete
        };
    }
    let Some(header) = buf.get(..HEADER_LEN) else {
        // Only the preamble can be judged before the header is complete;
        // the length bytes that follow it may be anything.
        return if buf.iter().take(4).any(|&b| b != 0) {
            FrameStatus::Invalid(FrameError::BadPreamble)
        } else {
            FrameStatus::Incomplete
        };
    };
    if header[..4] != [0, 0, 0, 0] {
        return FrameStatus::Invalid(FrameError::BadPreamble);
    }
    let data_len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if data_len < MIN_DATA_LEN {
        return FrameStatus::Invalid(FrameError::ImpossibleLength(data_len));
    }
    let size = u64::from(data_len) + (HEADER_LEN + CRC_LEN) as u64;
    if size > max_frame as u64 {
        return FrameStatus::Invalid(FrameError::FrameTooLarge {
            size,
            limit: max_frame,
        });
    }
    // `size <= max_frame`, so it fits a usize.
    let len = usize::try_from(size).unwrap_or(usize::MAX);
    if buf.len() >= len {
        FrameStatus::Complete {
            kind: FrameKind::Data,
            len,
        }
    } else {
        FrameStatus::Incomplete
    }
}

/// Checks the CRC of one complete data frame and returns its data field
/// (codec id .. N2).
pub(crate) fn checked_data(frame: &[u8]) -> Result<&[u8], FrameError> {
    let data_end = frame
        .len()
        .checked_sub(CRC_LEN)
        .ok_or(FrameError::Truncated { at: frame.len() })?;
    let data = frame
        .get(HEADER_LEN..data_end)
        .ok_or(FrameError::Truncated { at: frame.len() })?;
    let crc_field = frame
        .get(data_end..)
        .ok_or(FrameError::Truncated { at: data_end })?;
    let mut crc = [0u8; 4];
    crc.copy_from_slice(crc_field);
    let frame_crc = u32::from_be_bytes(crc);
    let computed = crc16_ibm(data);
    if frame_crc != u32::from(computed) {
        return Err(FrameError::BadCrc {
            frame: frame_crc,
            computed,
        });
    }
    Ok(data)
}

/// Splits exactly one data frame (preamble .. CRC) into its checked data
/// field; the whole slice must be that frame.
pub(crate) fn split_data_frame(bytes: &[u8]) -> Result<&[u8], FrameError> {
    match next_frame(bytes, usize::MAX) {
        FrameStatus::Complete {
            kind: FrameKind::Data,
            len,
        } if len == bytes.len() => checked_data(bytes),
        FrameStatus::Complete {
            kind: FrameKind::Data,
            len,
        } => Err(FrameError::TrailingBytes(bytes.len().saturating_sub(len))),
        FrameStatus::Complete { .. } => Err(FrameError::BadPreamble),
        FrameStatus::Incomplete => Err(FrameError::Truncated { at: bytes.len() }),
        FrameStatus::Invalid(error) => Err(error),
    }
}

/// Slicing-by-16 tables: `CRC_TABLES[k][b]` is the CRC contribution of byte
/// `b` followed by `k` zero bytes, so sixteen bytes are folded per step.
static CRC_TABLES: [[u16; 256]; 16] = crc_tables();

/// The tables of the 14 bytes of a 16-byte step that do not touch the
/// running CRC, shifted to the upper half of a `u32`: they are combined
/// with the two CRC-dependent lookups by OR, which keeps the compiler from
/// folding all sixteen lookups into one serial XOR chain behind the CRC.
static CRC_TABLES_HIGH: [[u32; 256]; 14] = crc_tables_high();

const fn crc_tables() -> [[u16; 256]; 16] {
    let mut tables = [[0u16; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 16 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

const fn crc_tables_high() -> [[u32; 256]; 14] {
    let low = crc_tables();
    let mut tables = [[0u32; 256]; 14];
    let mut k = 0;
    while k < 14 {
        let mut i = 0;
        while i < 256 {
            tables[k][i] = (low[k][i] as u32) << 16;
            i += 1;
        }
        k += 1;
    }
    tables
}

/// CRC-16/IBM (ARC): reflected polynomial 0xA001, initial value 0.
pub fn crc16_ibm(data: &[u8]) -> u16 {
    let t = &CRC_TABLES;
    let h = &CRC_TABLES_HIGH;
    let mut crc = 0u16;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        // Bytes 2..16 do not depend on the running CRC (upper half).
        let independent = h[13][usize::from(c[2])]
            ^ h[12][usize::from(c[3])]
            ^ h[11][usize::from(c[4])]
            ^ h[10][usize::from(c[5])]
            ^ h[9][usize::from(c[6])]
            ^ h[8][usize::from(c[7])]
            ^ h[7][usize::from(c[8])]
            ^ h[6][usize::from(c[9])]
            ^ h[5][usize::from(c[10])]
            ^ h[4][usize::from(c[11])]
            ^ h[3][usize::from(c[12])]
            ^ h[2][usize::from(c[13])]
            ^ h[1][usize::from(c[14])]
            ^ h[0][usize::from(c[15])];
        let [lo, hi] = crc.to_le_bytes();
        let dependent = t[15][usize::from(c[0] ^ lo)] ^ t[14][usize::from(c[1] ^ hi)];
        let both = u32::from(dependent) | independent;
        crc = (both ^ (both >> 16)) as u16;
    }
    let mut rest = chunks.remainder();
    if let Some((c, tail)) = rest.split_first_chunk::<8>() {
        let [lo, hi] = crc.to_le_bytes();
        crc = t[7][usize::from(c[0] ^ lo)]
            ^ t[6][usize::from(c[1] ^ hi)]
            ^ t[5][usize::from(c[2])]
            ^ t[4][usize::from(c[3])]
            ^ t[3][usize::from(c[4])]
            ^ t[2][usize::from(c[5])]
            ^ t[1][usize::from(c[6])]
            ^ t[0][usize::from(c[7])];
        rest = tail;
    }
    if let Some((c, tail)) = rest.split_first_chunk::<4>() {
        let [lo, hi] = crc.to_le_bytes();
        crc = t[3][usize::from(c[0] ^ lo)]
            ^ t[2][usize::from(c[1] ^ hi)]
            ^ t[1][usize::from(c[2])]
            ^ t[0][usize::from(c[3])];
        rest = tail;
    }
    for &byte in rest {
        crc = (crc >> 8) ^ t[0][usize::from((crc ^ u16::from(byte)) & 0xFF)];
    }
    crc
}
