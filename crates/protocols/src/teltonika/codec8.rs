//! AVL record payloads of Codec 8, 8 Extended and 16.
//!
//! One decoding loop walks the records and hands each header and IO element
//! to a [`RecordVisitor`]; the raw visitor builds [`AvlRecord`]s, the
//! position visitor (in `payload`) builds `trackd_model::Position`s directly,
//! without an intermediate allocation per element.

use super::FrameError;
use crate::reader::{be_value, Reader};

/// The AVL codecs trackd encodes and decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Codec 8 (0x08): one-byte IO ids and counts.
    Codec8,
    /// Codec 8 Extended (0x8E): two-byte ids and counts, variable-length elements.
    Codec8Ext,
    /// Codec 16 (0x10): two-byte ids, one-byte counts, generation type.
    Codec16,
}

impl Codec {
    /// The codec id byte.
    pub fn id(self) -> u8 {
        match self {
            Codec::Codec8 => 0x08,
            Codec::Codec8Ext => 0x8E,
            Codec::Codec16 => 0x10,
        }
    }

    /// The codec with this id byte.
    pub fn from_id(id: u8) -> Option<Codec> {
        match id {
            0x08 => Some(Codec::Codec8),
            0x8E => Some(Codec::Codec8Ext),
            0x10 => Some(Codec::Codec16),
            _ => None,
        }
    }

    /// Whether IO ids are two bytes.
    pub(crate) fn wide_ids(self) -> bool {
        !matches!(self, Codec::Codec8)
    }

    /// Whether element counts are two bytes.
    pub(crate) fn wide_counts(self) -> bool {
        matches!(self, Codec::Codec8Ext)
    }

    /// Smallest possible record: header, event id, total count, four empty
    /// groups (and the NX group in 8E).
    pub(crate) fn min_record_len(self) -> usize {
        match self {
            Codec::Codec8 => 24 + 1 + 1 + 4,
            Codec::Codec8Ext => 24 + 2 + 2 + 8 + 2,
            Codec::Codec16 => 24 + 2 + 1 + 1 + 4,
        }
    }
}

/// One AVL record as it is on the wire (integer units).
#[derive(Clone, Debug, PartialEq)]
pub struct AvlRecord {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: u64,
    /// 0 low, 1 high, 2 panic.
    pub priority: u8,
    /// 1e-7 degrees.
    pub longitude: i32,
    /// 1e-7 degrees.
    pub latitude: i32,
    /// Metres.
    pub altitude: i16,
    /// Degrees from north.
    pub angle: u16,
    /// Satellites in use; 0 means no fix.
    pub satellites: u8,
    /// Km/h.
    pub speed_kmh: u16,
    /// Id of the IO element that triggered the record (0 for periodic).
    pub event_io_id: u16,
    /// Codec 16 only: the generation type.
    pub generation_type: Option<u8>,
    /// IO elements in wire order (grouped by width).
    pub io: Vec<IoElement>,
}

/// One IO element.
#[derive(Clone, Debug, PartialEq)]
pub struct IoElement {
    /// The AVL id.
    pub id: u16,
    /// Its value.
    pub value: IoValue,
}

/// An IO element value; its variant is its wire width.
#[derive(Clone, Debug, PartialEq)]
pub enum IoValue {
    /// One byte.
    U8(u8),
    /// Two bytes.
    U16(u16),
    /// Four bytes.
    U32(u32),
    /// Eight bytes.
    U64(u64),
    /// Variable length (Codec 8 Extended NX elements; also the 16-byte
    /// section of Traccar's "extended" Codec 8).
    Var(Vec<u8>),
}

/// The fixed fields of a record, before its IO elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub(crate) timestamp_ms: u64,
    pub(crate) priority: u8,
    pub(crate) longitude: i32,
    pub(crate) latitude: i32,
    pub(crate) altitude: i16,
    pub(crate) angle: u16,
    pub(crate) satellites: u8,
    pub(crate) speed_kmh: u16,
    pub(crate) event_io_id: u16,
    pub(crate) generation_type: Option<u8>,
}

/// Receives a record's parts as the decoding loop reads them.
pub(crate) trait RecordVisitor {
    /// What one record becomes.
    type Record;
    /// Starts a record at the end of `records` (built in place: positions
    /// are large); `io_hint` is a safe upper bound on its element count.
    fn begin(&mut self, header: &RecordHeader, io_hint: usize, records: &mut Vec<Self::Record>);
    /// A fixed-width element (`W` is 1, 2, 4, 8 or 16).
    fn fixed<const W: usize>(&mut self, record: &mut Self::Record, id: u16, bytes: &[u8; W]);
    /// A variable-length (NX) element.
    fn variable(&mut self, record: &mut Self::Record, id: u16, bytes: &[u8]);
}

/// Reads `n_records` records of `codec` from `reader`. `extended16` reads
/// Traccar's extra 16-byte section. Allocation is bounded by what the
/// remaining bytes can hold, whatever the counts claim. Each record is built
/// in place in the output vector (positions are large; moving them costs).
pub(crate) fn read_records<V: RecordVisitor>(
    reader: &mut Reader<'_>,
    codec: Codec,
    n_records: u8,
    extended16: bool,
    visitor: &mut V,
) -> Result<Vec<V::Record>, FrameError> {
    let capacity = usize::from(n_records).min(reader.remaining() / codec.min_record_len() + 1);
    let mut records = Vec::with_capacity(capacity);
    for _ in 0..n_records {
        let (header, total) = read_header(reader, codec)?;
        // Each element takes at least two bytes (id + value), so the hint
        // is bounded by the input, not by the claimed count.
        let io_hint = total.min(reader.remaining() / 2);
        visitor.begin(&header, io_hint, &mut records);
        if let Some(record) = records.last_mut() {
            read_io(reader, codec, extended16, visitor, record)?;
        }
    }
    Ok(records)
}

#[inline]
fn read_count(reader: &mut Reader<'_>, codec: Codec) -> Result<u16, FrameError> {
    if codec.wide_counts() {
        reader.u16()
    } else {
        reader.u8().map(u16::from)
    }
}

#[inline]
fn read_id(reader: &mut Reader<'_>, codec: Codec) -> Result<u16, FrameError> {
    if codec.wide_ids() {
        reader.u16()
    } else {
        reader.u8().map(u16::from)
    }
}

/// The fixed fields and the total element count.
#[inline]
fn read_header(reader: &mut Reader<'_>, codec: Codec) -> Result<(RecordHeader, usize), FrameError> {
    let fixed = reader.take(24)?;
    let mut field = Reader::new(fixed, 0);
    let header = RecordHeader {
        timestamp_ms: field.u64()?,
        priority: field.u8()?,
        longitude: field.i32()?,
        latitude: field.i32()?,
        altitude: field.u16()? as i16,
        angle: field.u16()?,
        satellites: field.u8()?,
        speed_kmh: field.u16()?,
        event_io_id: read_id(reader, codec)?,
        generation_type: match codec {
            Codec::Codec16 => Some(reader.u8()?),
            _ => None,
        },
    };
    let total = usize::from(read_count(reader, codec)?);
    Ok((header, total))
}

#[inline]
fn read_io<V: RecordVisitor>(
    reader: &mut Reader<'_>,
    codec: Codec,
    extended16: bool,
    visitor: &mut V,
    record: &mut V::Record,
) -> Result<(), FrameError> {
    read_group::<1, V>(reader, codec, visitor, record)?;
    read_group::<2, V>(reader, codec, visitor, record)?;
    read_group::<4, V>(reader, codec, visitor, record)?;
    read_group::<8, V>(reader, codec, visitor, record)?;
    if extended16 {
        read_group::<16, V>(reader, codec, visitor, record)?;
    }
    if codec == Codec::Codec8Ext {
        let count = reader.u16()?;
        for _ in 0..count {
            let id = reader.u16()?;
            let len = usize::from(reader.u16()?);
            let value = reader.take(len)?;
            visitor.variable(record, id, value);
        }
    }
    Ok(())
}

/// Reads one group of `W`-byte elements (count, then id and value each).
#[inline(always)]
fn read_group<const W: usize, V: RecordVisitor>(
    reader: &mut Reader<'_>,
    codec: Codec,
    visitor: &mut V,
    record: &mut V::Record,
) -> Result<(), FrameError> {
    let count = read_count(reader, codec)?;
    let id_len = if codec.wide_ids() { 2 } else { 1 };
    // One bounds check for the whole group; a short group is re-read
    // element by element for the exact error offset.
    if let Ok(group) = reader.take(usize::from(count) * (id_len + W)) {
        for element in group.chunks_exact(id_len + W) {
            let (id, value) = match element.split_first_chunk::<2>() {
                Some((&[high, low], _)) if id_len == 2 => (
                    u16::from_be_bytes([high, low]),
                    element.get(2..).and_then(|v| <&[u8; W]>::try_from(v).ok()),
                ),
                _ => (
                    element.first().copied().map_or(0, u16::from),
                    element.get(1..).and_then(|v| <&[u8; W]>::try_from(v).ok()),
                ),
            };
            if let Some(value) = value {
                visitor.fixed(record, id, value);
            }
        }
        return Ok(());
    }
    for _ in 0..count {
        let id = read_id(reader, codec)?;
        let value = reader.array_ref::<W>()?;
        visitor.fixed(record, id, value);
    }
    Ok(())
}

/// Builds [`AvlRecord`]s.
pub(crate) struct RawVisitor;

impl RecordVisitor for RawVisitor {
    type Record = AvlRecord;

    fn begin(&mut self, h: &RecordHeader, io_hint: usize, records: &mut Vec<AvlRecord>) {
        records.push(AvlRecord {
            timestamp_ms: h.timestamp_ms,
            priority: h.priority,
            longitude: h.longitude,
            latitude: h.latitude,
            altitude: h.altitude,
            angle: h.angle,
            satellites: h.satellites,
            speed_kmh: h.speed_kmh,
            event_io_id: h.event_io_id,
            generation_type: h.generation_type,
            io: Vec::with_capacity(io_hint),
        });
    }

    fn fixed<const W: usize>(&mut self, record: &mut AvlRecord, id: u16, bytes: &[u8; W]) {
        let value = match W {
            1 => IoValue::U8(be_value(bytes) as u8),
            2 => IoValue::U16(be_value(bytes) as u16),
            4 => IoValue::U32(be_value(bytes) as u32),
            8 => IoValue::U64(be_value(bytes)),
            _ => IoValue::Var(bytes.to_vec()),
        };
        record.io.push(IoElement { id, value });
    }

    fn variable(&mut self, record: &mut AvlRecord, id: u16, bytes: &[u8]) {
        record.io.push(IoElement {
            id,
            value: IoValue::Var(bytes.to_vec()),
        });
    }
}

/// Decodes a data field (codec id, N1, records, N2) into raw records; N2
/// must equal N1 and nothing may follow it.
pub fn decode_avl_records(codec_and_payload: &[u8]) -> Result<Vec<AvlRecord>, FrameError> {
    let mut reader = Reader::new(codec_and_payload, 0);
    let codec_id = reader.u8()?;
    let codec = Codec::from_id(codec_id).ok_or(FrameError::UnknownCodec(codec_id))?;
    let n_records = reader.u8()?;
    let records = read_records(&mut reader, codec, n_records, false, &mut RawVisitor)?;
    let n2 = reader.u8()?;
    if n2 != n_records {
        return Err(FrameError::RecordCountMismatch);
    }
    if reader.remaining() > 0 {
        return Err(FrameError::TrailingBytes(reader.remaining()));
    }
    Ok(records)
}
