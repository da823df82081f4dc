//! The position codec shared by the ingest log, the chunks and PostgreSQL.
//!
//! A blob is `version:u8 = 1`, `n:varint`, then `n` records. Each record is
//! delta-encoded against the record before it in the same blob (the first
//! against an all-zero record), so a chunk must be decoded from its start.
//!
//! # Storage precision (quantization)
//!
//! The codec is exact for integers and attributes and quantizes floats:
//! - `fix_time`, `device_time`, `server_time`: exact milliseconds.
//! - latitude, longitude: 1e-7 degree (about 1.1 cm), rounded to nearest.
//! - altitude: 0.1 m (decimetres).
//! - speed: 0.01 km/h (stored as `round(m/s * 360)`), so whole km/h and
//!   whole knots from trackers round-trip to within 1e-12 of their SI value.
//! - course: 0.01 degree.
//! - NaN is stored as 0 and infinities saturate (the store is not the place
//!   to reject them).
//! - Attribute values are exact: `Float` keeps its bit pattern, `Decimal`
//!   and `Int` are integers.
//!
//! # Record layout
//!
//! `flags:u8` (bit 0 valid, bit 1 device_time == fix_time, bit 2 same key
//! list as the previous record, bit 3 same protocol, bit 4 seq = previous
//! seq + 1, bit 5 same server lag), then as zigzag varints: `[seq delta]`,
//! `fix_time delta`, `[device_time - fix_time]`, `[delta of server_time -
//! fix_time]`, `[protocol:u8]`, then deltas of latitude, longitude,
//! altitude, speed and course in their quantized units, then the
//! attributes: unless the key list is the previous one, `count:varint` and
//! each key before its value.
//!
//! A key is a varint `code << 2` for [`KnownKey`], `id << 2 | 1` for `Io`,
//! `len << 2 | 2` followed by UTF-8 for `Other`. A value is a varint header
//! `payload << 3 | tag`: 0 bool (payload 0/1, 2 = same value as this key in
//! the previous record), 1 int (zigzag), 2 int delta from the previous value,
//! 3 decimal (`zigzag(raw) << 8 | scale`), 4 decimal delta (same scale),
//! 5 float (8 bytes little-endian follow), 6 string and 7 bytes (payload is
//! the length, the bytes follow).

use trackd_model::{
    AttrKey, AttrKeyRef, AttrValue, AttrValueRef, Attributes, KnownKey, Position, Protocol,
    Timestamp,
};

use super::varint::{put_i64, put_u128, put_u64, unzigzag, zigzag, Reader};
use super::CodecError;

const VERSION: u8 = 1;

const FLAG_VALID: u8 = 1;
const FLAG_DEVICE_TIME_EQ: u8 = 2;
const FLAG_SAME_KEYS: u8 = 4;
const FLAG_SAME_PROTOCOL: u8 = 8;
const FLAG_SEQ_NEXT: u8 = 16;
const FLAG_SAME_LAG: u8 = 32;
const FLAG_RESERVED: u8 = 0xc0;

const TAG_BOOL: u128 = 0;
const TAG_INT: u128 = 1;
const TAG_INT_DELTA: u128 = 2;
const TAG_DECIMAL: u128 = 3;
const TAG_DECIMAL_DELTA: u128 = 4;
const TAG_FLOAT: u128 = 5;
const TAG_STR: u128 = 6;
const TAG_BYTES: u128 = 7;
const PAYLOAD_SAME: u128 = 2;

/// A position with its per-device sequence number.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    pub(crate) seq: u32,
    pub(crate) position: Position,
}

fn q_degrees(value: f64) -> i64 {
    (value * 1e7).round() as i64
}
fn dq_degrees(value: i64) -> f64 {
    value as f64 / 1e7
}
fn q_altitude(value: f64) -> i64 {
    (value * 10.0).round() as i64
}
fn dq_altitude(value: i64) -> f64 {
    value as f64 / 10.0
}
fn q_speed(value: f64) -> i64 {
    (value * 360.0).round() as i64
}
fn dq_speed(value: i64) -> f64 {
    value as f64 / 360.0
}
fn q_course(value: f64) -> i64 {
    (value * 100.0).round() as i64
}
fn dq_course(value: i64) -> f64 {
    value as f64 / 100.0
}

/// The position as the store will give it back (floats quantized).
pub(crate) fn quantize(position: &Position) -> Position {
    Position {
        latitude: dq_degrees(q_degrees(position.latitude)),
        longitude: dq_degrees(q_degrees(position.longitude)),
        altitude: dq_altitude(q_altitude(position.altitude)),
        speed: dq_speed(q_speed(position.speed)),
        course: dq_course(q_course(position.course)),
        ..position.clone()
    }
}

/// The delta context: the previous record's quantized values.
#[derive(Default)]
struct Context<'a> {
    seq: i64,
    fix_time: i64,
    lag: i64,
    protocol: u8,
    latitude: i64,
    longitude: i64,
    altitude: i64,
    speed: i64,
    course: i64,
    attributes: Option<&'a Attributes>,
}

impl Context<'_> {
    fn start() -> Self {
        Context {
            seq: -1,
            ..Context::default()
        }
    }
}

fn same_keys(previous: Option<&Attributes>, current: &Attributes) -> bool {
    let previous_len = previous.map_or(0, Attributes::len);
    previous_len == current.len()
        && previous
            .is_none_or(|previous| previous.iter().zip(current.iter()).all(|(a, b)| a.0 == b.0))
}

fn identical(a: AttrValueRef<'_>, b: AttrValueRef<'_>) -> bool {
    match (a, b) {
        (AttrValueRef::Float(x), AttrValueRef::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn put_key(out: &mut Vec<u8>, key: AttrKeyRef<'_>) {
    match key {
        AttrKeyRef::Known(known) => put_u64(out, u64::from(known as u8) << 2),
        AttrKeyRef::Io(id) => put_u64(out, (u64::from(id) << 2) | 1),
        AttrKeyRef::Other(name) => {
            put_u64(out, ((name.len() as u64) << 2) | 2);
            out.extend_from_slice(name.as_bytes());
        }
    }
}

fn read_key(reader: &mut Reader<'_>) -> Result<AttrKey, CodecError> {
    let header = reader.u64()?;
    let payload = header >> 2;
    match header & 3 {
        0 => u8::try_from(payload)
            .ok()
            .and_then(KnownKey::from_code)
            .map(AttrKey::Known)
            .ok_or(CodecError::Invalid("attribute key code")),
        1 => u16::try_from(payload)
            .map(AttrKey::Io)
            .map_err(|_| CodecError::Invalid("io id")),
        2 => {
            let len = usize::try_from(payload).map_err(|_| CodecError::Truncated)?;
            let bytes = reader.take(len)?;
            let name = std::str::from_utf8(bytes).map_err(|_| CodecError::Invalid("key utf-8"))?;
            Ok(AttrKey::Other(name.into()))
        }
        _ => Err(CodecError::Invalid("attribute key tag")),
    }
}

fn header(payload: u128, tag: u128) -> u128 {
    (payload << 3) | tag
}

fn put_value(out: &mut Vec<u8>, value: AttrValueRef<'_>, previous: Option<AttrValueRef<'_>>) {
    if previous.is_some_and(|previous| identical(previous, value)) {
        put_u128(out, header(PAYLOAD_SAME, TAG_BOOL));
        return;
    }
    match value {
        AttrValueRef::Bool(b) => put_u128(out, header(u128::from(b), TAG_BOOL)),
        AttrValueRef::Int(i) => match previous {
            Some(AttrValueRef::Int(p)) => put_u128(
                out,
                header(u128::from(zigzag(i.wrapping_sub(p))), TAG_INT_DELTA),
            ),
            _ => put_u128(out, header(u128::from(zigzag(i)), TAG_INT)),
        },
        AttrValueRef::Decimal { raw, scale } => match previous {
            Some(AttrValueRef::Decimal { raw: p, scale: s }) if s == scale => put_u128(
                out,
                header(u128::from(zigzag(raw.wrapping_sub(p))), TAG_DECIMAL_DELTA),
            ),
            _ => put_u128(
                out,
                header(
                    (u128::from(zigzag(raw)) << 8) | u128::from(scale),
                    TAG_DECIMAL,
                ),
            ),
        },
        AttrValueRef::Float(f) => {
            put_u128(out, header(0, TAG_FLOAT));
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        AttrValueRef::Str(s) => {
            put_u128(out, header(s.len() as u128, TAG_STR));
            out.extend_from_slice(s.as_bytes());
        }
        AttrValueRef::Bytes(b) => {
            put_u128(out, header(b.len() as u128, TAG_BYTES));
            out.extend_from_slice(b);
        }
    }
}

fn payload_u64(payload: u128) -> Result<u64, CodecError> {
    u64::try_from(payload).map_err(|_| CodecError::VarintOverflow)
}

fn read_value(
    reader: &mut Reader<'_>,
    previous: Option<AttrValueRef<'_>>,
) -> Result<AttrValue, CodecError> {
    let header = reader.u128()?;
    let payload = header >> 3;
    match header & 7 {
        TAG_BOOL => match payload {
            0 => Ok(AttrValue::Bool(false)),
            1 => Ok(AttrValue::Bool(true)),
            PAYLOAD_SAME => previous
                .map(AttrValueRef::to_value)
                .ok_or(CodecError::Invalid("repeat without previous")),
            _ => Err(CodecError::Invalid("bool payload")),
        },
        TAG_INT => Ok(AttrValue::Int(unzigzag(payload_u64(payload)?))),
        TAG_INT_DELTA => match previous {
            Some(AttrValueRef::Int(p)) => Ok(AttrValue::Int(
                p.wrapping_add(unzigzag(payload_u64(payload)?)),
            )),
            _ => Err(CodecError::Invalid("int delta without previous int")),
        },
        TAG_DECIMAL => Ok(AttrValue::Decimal {
            raw: unzigzag(payload_u64(payload >> 8)?),
            scale: (payload & 0xff) as u8,
        }),
        TAG_DECIMAL_DELTA => match previous {
            Some(AttrValueRef::Decimal { raw, scale }) => Ok(AttrValue::Decimal {
                raw: raw.wrapping_add(unzigzag(payload_u64(payload)?)),
                scale,
            }),
            _ => Err(CodecError::Invalid(
                "decimal delta without previous decimal",
            )),
        },
        TAG_FLOAT => {
            let bytes = reader.take(8)?;
            let mut array = [0u8; 8];
            array.copy_from_slice(bytes);
            Ok(AttrValue::Float(f64::from_bits(u64::from_le_bytes(array))))
        }
        TAG_STR => {
            let bytes =
                reader.take(usize::try_from(payload).map_err(|_| CodecError::Truncated)?)?;
            let text =
                std::str::from_utf8(bytes).map_err(|_| CodecError::Invalid("string utf-8"))?;
            Ok(AttrValue::Str(text.into()))
        }
        _ => {
            let bytes =
                reader.take(usize::try_from(payload).map_err(|_| CodecError::Truncated)?)?;
            Ok(AttrValue::Bytes(bytes.into()))
        }
    }
}

fn previous_value<'a>(
    previous: Option<&'a Attributes>,
    same: bool,
    index: usize,
    key: AttrKeyRef<'_>,
) -> Option<AttrValueRef<'a>> {
    let previous = previous?;
    if same {
        previous.iter().nth(index).map(|(_, v)| v)
    } else {
        previous.get(key)
    }
}

/// Appends one record; `server_time` is passed separately so the content key
/// can leave it out.
fn put_record<'a>(
    out: &mut Vec<u8>,
    context: &mut Context<'a>,
    seq: i64,
    position: &'a Position,
    server_time: i64,
) {
    let fix_time = position.fix_time.as_millis();
    let lag = server_time.wrapping_sub(fix_time);
    let device_offset = position.device_time.as_millis().wrapping_sub(fix_time);
    let protocol = position.protocol as u8;
    let same = same_keys(context.attributes, &position.attributes);
    let mut flags = 0;
    if position.valid {
        flags |= FLAG_VALID;
    }
    if device_offset == 0 {
        flags |= FLAG_DEVICE_TIME_EQ;
    }
    if same {
        flags |= FLAG_SAME_KEYS;
    }
    if protocol == context.protocol {
        flags |= FLAG_SAME_PROTOCOL;
    }
    if seq == context.seq.wrapping_add(1) {
        flags |= FLAG_SEQ_NEXT;
    }
    if lag == context.lag {
        flags |= FLAG_SAME_LAG;
    }
    out.push(flags);
    if flags & FLAG_SEQ_NEXT == 0 {
        put_i64(out, seq.wrapping_sub(context.seq));
    }
    put_i64(out, fix_time.wrapping_sub(context.fix_time));
    if flags & FLAG_DEVICE_TIME_EQ == 0 {
        put_i64(out, device_offset);
    }
    if flags & FLAG_SAME_LAG == 0 {
        put_i64(out, lag.wrapping_sub(context.lag));
    }
    if flags & FLAG_SAME_PROTOCOL == 0 {
        out.push(protocol);
    }
    let latitude = q_degrees(position.latitude);
    let longitude = q_degrees(position.longitude);
    let altitude = q_altitude(position.altitude);
    let speed = q_speed(position.speed);
    let course = q_course(position.course);
    put_i64(out, latitude.wrapping_sub(context.latitude));
    put_i64(out, longitude.wrapping_sub(context.longitude));
    put_i64(out, altitude.wrapping_sub(context.altitude));
    put_i64(out, speed.wrapping_sub(context.speed));
    put_i64(out, course.wrapping_sub(context.course));
    if !same {
        put_u64(out, position.attributes.len() as u64);
    }
    for (index, (key, value)) in position.attributes.iter().enumerate() {
        if !same {
            put_key(out, key);
        }
        put_value(
            out,
            value,
            previous_value(context.attributes, same, index, key),
        );
    }
    *context = Context {
        seq,
        fix_time,
        lag,
        protocol,
        latitude,
        longitude,
        altitude,
        speed,
        course,
        attributes: Some(&position.attributes),
    };
}

/// Encodes records (in the given order) into one blob.
pub(crate) fn encode_records<'a>(
    records: impl ExactSizeIterator<Item = (u32, &'a Position)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + records.len() * 40);
    out.push(VERSION);
    put_u64(&mut out, records.len() as u64);
    let mut context = Context::start();
    for (seq, position) in records {
        put_record(
            &mut out,
            &mut context,
            i64::from(seq),
            position,
            position.server_time.as_millis(),
        );
    }
    out
}

/// Decodes a blob; sequence numbers in it are relative to `seq_base`.
pub(crate) fn decode_records(bytes: &[u8], seq_base: u32) -> Result<Vec<Record>, CodecError> {
    let mut reader = Reader::new(bytes);
    let version = reader.u8()?;
    if version != VERSION {
        return Err(CodecError::Version(version));
    }
    let count = usize::try_from(reader.u64()?).map_err(|_| CodecError::Truncated)?;
    // Every record takes at least seven bytes: refuse absurd counts before allocating.
    if count > reader.remaining() / 7 {
        return Err(CodecError::Truncated);
    }
    let mut records: Vec<Record> = Vec::with_capacity(count);
    let (mut seq, mut fix_time, mut lag, mut protocol) = (-1i64, 0i64, 0i64, 0u8);
    let (mut latitude, mut longitude, mut altitude, mut speed, mut course) =
        (0i64, 0i64, 0i64, 0i64, 0i64);
    for _ in 0..count {
        let flags = reader.u8()?;
        if flags & FLAG_RESERVED != 0 {
            return Err(CodecError::Invalid("record flags"));
        }
        seq = if flags & FLAG_SEQ_NEXT != 0 {
            seq.wrapping_add(1)
        } else {
            seq.wrapping_add(reader.i64()?)
        };
        fix_time = fix_time.wrapping_add(reader.i64()?);
        let device_offset = if flags & FLAG_DEVICE_TIME_EQ != 0 {
            0
        } else {
            reader.i64()?
        };
        if flags & FLAG_SAME_LAG == 0 {
            lag = lag.wrapping_add(reader.i64()?);
        }
        if flags & FLAG_SAME_PROTOCOL == 0 {
            protocol = reader.u8()?;
        }
        latitude = latitude.wrapping_add(reader.i64()?);
        longitude = longitude.wrapping_add(reader.i64()?);
        altitude = altitude.wrapping_add(reader.i64()?);
        speed = speed.wrapping_add(reader.i64()?);
        course = course.wrapping_add(reader.i64()?);
        let same = flags & FLAG_SAME_KEYS != 0;
        let previous = records.last().map(|record| &record.position.attributes);
        let mut attributes = Attributes::new();
        if same {
            if let Some(previous) = previous {
                for (key, previous_value) in previous.iter() {
                    let value = read_value(&mut reader, Some(previous_value))?;
                    attributes.push(key.to_key(), value);
                }
            }
        } else {
            let n_attributes = usize::try_from(reader.u64()?).map_err(|_| CodecError::Truncated)?;
            if n_attributes > reader.remaining() / 2 {
                return Err(CodecError::Truncated);
            }
            for _ in 0..n_attributes {
                let key = read_key(&mut reader)?;
                let value = read_value(&mut reader, previous.and_then(|p| p.get(&key)))?;
                attributes.push(key, value);
            }
        }
        let relative = u32::try_from(seq).map_err(|_| CodecError::Invalid("sequence number"))?;
        let absolute = seq_base
            .checked_add(relative)
            .ok_or(CodecError::Invalid("sequence number"))?;
        records.push(Record {
            seq: absolute,
            position: Position {
                protocol: Protocol::from_code(protocol),
                fix_time: Timestamp::from_millis(fix_time),
                device_time: Timestamp::from_millis(fix_time.wrapping_add(device_offset)),
                server_time: Timestamp::from_millis(fix_time.wrapping_add(lag)),
                valid: flags & FLAG_VALID != 0,
                latitude: dq_degrees(latitude),
                longitude: dq_degrees(longitude),
                altitude: dq_altitude(altitude),
                speed: dq_speed(speed),
                course: dq_course(course),
                attributes,
            },
        });
    }
    if reader.remaining() != 0 {
        return Err(CodecError::Trailing);
    }
    Ok(records)
}

/// The bytes that identify a record's content for de-duplication: its
/// standalone encoding without sequence number and server time (a resent
/// frame differs only in when it was received).
pub(crate) fn content_key(position: &Position) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    let mut context = Context::start();
    put_record(
        &mut out,
        &mut context,
        0,
        position,
        position.fix_time.as_millis(),
    );
    out
}

/// FNV-1a, 64 bits: a stable digest (unlike `DefaultHasher`) for PostgreSQL's key.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Sorts by (fix_time, seq) and drops duplicates: records with the same fix
/// time and content as an earlier-arrived one (including the same record
/// seen twice, from a chunk and from the log).
pub(crate) fn merge_dedup(records: &mut Vec<Record>) {
    records.sort_by_key(|record| (record.position.fix_time, record.seq));
    let mut start = 0;
    let mut keep: Vec<bool> = vec![true; records.len()];
    let mut any_dropped = false;
    while start < records.len() {
        let time = records[start].position.fix_time;
        let mut end = start + 1;
        while end < records.len() && records[end].position.fix_time == time {
            end += 1;
        }
        if end - start > 1 {
            let keys: Vec<Vec<u8>> = records[start..end]
                .iter()
                .map(|r| content_key(&r.position))
                .collect();
            for i in 1..keys.len() {
                if (0..i).any(|j| {
                    keep[start + j]
                        && (records[start + j].seq == records[start + i].seq || keys[j] == keys[i])
                }) {
                    keep[start + i] = false;
                    any_dropped = true;
                }
            }
        }
        start = end;
    }
    if any_dropped {
        let mut index = 0;
        records.retain(|_| {
            let kept = keep[index];
            index += 1;
            kept
        });
    }
}
