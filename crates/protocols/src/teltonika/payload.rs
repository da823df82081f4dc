//! The data field of a frame or datagram (codec id .. N2) into positions or
//! a command response, whatever the codec.

use trackd_model::{kmh_to_mps, AttrKey, AttrValue, KnownKey, Position, Protocol, Timestamp};

use super::codec12::{self, Codec12Response};
use super::codec8::{read_records, Codec, RecordHeader, RecordVisitor};
use super::io_names::{name_fixed, name_variable, IoNamer};
use super::{codec7, frame, DecodeOptions, DeviceProfile, FrameError};
use crate::reader::Reader;

/// What a data field holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// AVL records; `n_records` is the count to acknowledge.
    Records {
        /// Decoded positions (Codec 7 may drop records with nothing in them).
        positions: Vec<Position>,
        /// N1, the count the device expects acknowledged.
        n_records: u8,
    },
    /// A Codec 12 / 13 response.
    Response(Codec12Response),
}

/// Builds positions straight from the wire fields. The Codec 16 generation
/// type is read and dropped, as Traccar drops it.
pub(crate) struct PositionVisitor {
    pub(crate) namer: IoNamer,
    /// Element ids (mod 256) seen in the current record: an unseen id
    /// cannot have set its attribute yet, so it is appended without a scan.
    seen: [u64; 4],
    /// An empty position, cloned to start each record.
    template: Position,
}

impl PositionVisitor {
    pub(crate) fn new(namer: IoNamer) -> Self {
        PositionVisitor {
            namer,
            seen: [0; 4],
            template: Position::default(),
        }
    }

    /// Marks `id` seen; returns whether it was new in this record.
    #[inline(always)]
    fn first_sighting(&mut self, id: u16) -> bool {
        let slot = usize::from((id >> 6) & 3);
        let bit = 1u64 << (id & 63);
        let word = &mut self.seen[slot];
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

impl RecordVisitor for PositionVisitor {
    type Record = Position;

    #[inline]
    fn begin(&mut self, h: &RecordHeader, _io_hint: usize, records: &mut Vec<Position>) {
        self.seen = [0; 4];
        let time = Timestamp::from_millis(i64::try_from(h.timestamp_ms).unwrap_or(i64::MAX));
        // Cloned in place from a template: pushing a fresh default would
        // build it on the stack and copy it.
        records.extend_from_slice(std::slice::from_ref(&self.template));
        let Some(position) = records.last_mut() else {
            return;
        };
        position.protocol = Protocol::Teltonika;
        position.fix_time = time;
        position.device_time = time;
        position.valid = h.satellites != 0;
        position.latitude = f64::from(h.latitude) / 1e7;
        position.longitude = f64::from(h.longitude) / 1e7;
        position.altitude = f64::from(h.altitude);
        position.speed = kmh_to_mps(f64::from(h.speed_kmh));
        position.course = f64::from(h.angle);
        let attributes = &mut position.attributes;
        attributes.push(
            AttrKey::Known(KnownKey::Sat),
            AttrValue::Int(h.satellites.into()),
        );
        attributes.push(
            AttrKey::Known(KnownKey::Priority),
            AttrValue::Int(h.priority.into()),
        );
        attributes.push(
            AttrKey::Known(KnownKey::Event),
            AttrValue::Int(h.event_io_id.into()),
        );
    }

    #[inline(always)]
    fn fixed<const W: usize>(&mut self, record: &mut Position, id: u16, bytes: &[u8; W]) {
        let fresh = self.first_sighting(id);
        name_fixed(record, self.namer, id, bytes, fresh);
    }

    fn variable(&mut self, record: &mut Position, id: u16, bytes: &[u8]) {
        name_variable(record, self.namer, id, bytes);
    }
}

/// Decodes a data field that starts at frame offset `base`. `strict` checks
/// N2 and that nothing trails it; lenient decoding reads N1 records and
/// stops, as Traccar does.
pub(crate) fn decode_data(
    data: &[u8],
    base: usize,
    options: &DecodeOptions,
    profile: &DeviceProfile,
    strict: bool,
) -> Result<Decoded, FrameError> {
    let mut reader = Reader::new(data, base);
    let codec_id = reader.u8()?;
    let n_records = reader.u8()?;
    let namer = IoNamer {
        raw_io: options.raw_io,
        fmb: profile.is_fmb_family(),
    };
    let payload = match codec_id {
        0x0C | 0x0D => {
            let response = codec12::read_responses(&mut reader, codec_id, n_records)?;
            Decoded::Response(response)
        }
        0x07 => {
            let positions = codec7::read_records(&mut reader, n_records, options.raw_io)?;
            Decoded::Records {
                positions,
                n_records,
            }
        }
        _ => {
            let codec = Codec::from_id(codec_id).ok_or(FrameError::UnknownCodec(codec_id))?;
            let mut visitor = PositionVisitor::new(namer);
            let positions = read_records(
                &mut reader,
                codec,
                n_records,
                profile.extended,
                &mut visitor,
            )?;
            Decoded::Records {
                positions,
                n_records,
            }
        }
    };
    if strict {
        let n2 = reader.u8()?;
        if n2 != n_records {
            return Err(FrameError::RecordCountMismatch);
        }
        if reader.remaining() > 0 {
            return Err(FrameError::TrailingBytes(reader.remaining()));
        }
    }
    Ok(payload)
}

/// Decodes exactly one AVL data frame (preamble .. CRC), checking length,
/// CRC and counts, into positions.
pub fn decode_tcp_frame(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<Vec<Position>, FrameError> {
    let data = frame::split_data_frame(bytes)?;
    match decode_data(
        data,
        frame::HEADER_LEN,
        options,
        &DeviceProfile::default(),
        true,
    )? {
        Decoded::Records { positions, .. } => Ok(positions),
        Decoded::Response(_) => Err(FrameError::Unsupported("command response frame")),
    }
}

/// Decodes a data field (codec id, N1, records) the way Traccar's test
/// harness does: no length, CRC or N2 checks, trailing bytes ignored. For
/// replaying upstream vectors whose framing is irregular.
pub fn decode_records_unframed(
    codec_and_payload: &[u8],
    options: &DecodeOptions,
    profile: &DeviceProfile,
) -> Result<Decoded, FrameError> {
    decode_data(codec_and_payload, 0, options, profile, false)
}
