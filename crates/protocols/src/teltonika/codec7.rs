//! Codec 7 (GH3000 personal trackers): masked records with float
//! coordinates and a 2007 epoch.

use trackd_model::{kmh_to_mps, AttrKey, AttrValue, KnownKey, Position, Protocol, Timestamp};

use super::io_names::{name_gh3000, set};
use super::FrameError;
use crate::reader::Reader;

/// Seconds from the Unix epoch to 2007-01-01T00:00:00Z.
const GH3000_EPOCH: i64 = 1_167_609_600;

/// Reads `n_records` GH3000 records. Records with neither a location nor
/// any element are dropped, as Traccar drops them.
pub(crate) fn read_records(
    reader: &mut Reader<'_>,
    n_records: u8,
    raw_io: bool,
) -> Result<Vec<Position>, FrameError> {
    // A record takes at least 5 bytes (time + global mask).
    let mut positions = Vec::with_capacity(usize::from(n_records).min(reader.remaining() / 5));
    for _ in 0..n_records {
        let seconds = i64::from(reader.u32()? & 0x3FFF_FFFF) + GH3000_EPOCH;
        let time = Timestamp::from_millis(seconds * 1000);
        let mut position = Position {
            protocol: Protocol::Teltonika,
            fix_time: time,
            device_time: time,
            ..Position::default()
        };
        let global_mask = reader.u8()?;
        let located = global_mask & 1 != 0;
        if located {
            read_location(reader, &mut position)?;
            position.valid = true;
        }
        for (bit, width) in [(1u8, 1usize), (2, 2), (3, 4)] {
            if global_mask & (1 << bit) != 0 {
                let count = reader.u8()?;
                for _ in 0..count {
                    let id = u16::from(reader.u8()?);
                    let value = reader.take(width)?;
                    name_gh3000(&mut position, raw_io, id, value);
                }
            }
        }
        if located || !position.attributes.is_empty() {
            positions.push(position);
        }
    }
    Ok(positions)
}

fn read_location(reader: &mut Reader<'_>, position: &mut Position) -> Result<(), FrameError> {
    let mask = reader.u8()?;
    if mask & 1 != 0 {
        position.latitude = f64::from(reader.f32()?);
        position.longitude = f64::from(reader.f32()?);
    }
    if mask & 0b10 != 0 {
        position.altitude = f64::from(reader.u16()?);
    }
    if mask & 0b100 != 0 {
        position.course = f64::from(reader.u8()?) * 360.0 / 256.0;
    }
    if mask & 0b1000 != 0 {
        position.speed = kmh_to_mps(f64::from(reader.u8()?));
    }
    if mask & 0b1_0000 != 0 {
        let satellites = reader.u8()?;
        set(
            position,
            AttrKey::Known(KnownKey::Sat),
            AttrValue::Int(satellites.into()),
        );
    }
    if mask & 0b10_0000 != 0 {
        // Cell tower (LAC, CID, signal, operator): the model has no network
        // field yet, so the fields are read past.
        reader.take(4)?;
        if mask & 0b100_0000 != 0 {
            reader.u8()?;
        }
        if mask & 0b1000_0000 != 0 {
            reader.u32()?;
        }
    } else {
        if mask & 0b100_0000 != 0 {
            let rssi = reader.u8()?;
            set(
                position,
                AttrKey::Known(KnownKey::Rssi),
                AttrValue::Int(rssi.into()),
            );
        }
        if mask & 0b1000_0000 != 0 {
            let operator = reader.u32()?;
            set(
                position,
                AttrKey::Known(KnownKey::Operator),
                AttrValue::Int(operator.into()),
            );
        }
    }
    Ok(())
}
