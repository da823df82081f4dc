//! Encoding what devices send (for the simulator and round-trip tests) and
//! what servers send (commands).
//!
//! Encoding never fails: elements a codec cannot carry (ids above 255 in
//! Codec 8, variable-length values outside Codec 8 Extended) are left out,
//! and counts are capped at what their field holds (255 records, 255 or
//! 65535 elements per group).

use super::codec12::{TYPE_COMMAND, TYPE_RESPONSE};
use super::codec8::{AvlRecord, Codec, IoElement, IoValue};
use super::frame::crc16_ibm;

/// The IMEI handshake: u16 length + ASCII.
pub fn encode_imei(imei: &str) -> Vec<u8> {
    let bytes = &imei.as_bytes()[..imei.len().min(usize::from(u16::MAX))];
    let mut out = Vec::with_capacity(2 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Wraps a data field in preamble, length and CRC.
fn tcp_frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&u32::from(crc16_ibm(data)).to_be_bytes());
    out
}

/// One AVL data frame (preamble .. CRC) holding `records` (at most 255).
pub fn encode_tcp_frame(codec: Codec, records: &[AvlRecord]) -> Vec<u8> {
    tcp_frame(&avl_data(codec, records))
}

/// One UDP datagram with `records` (at most 255) from `imei`.
pub fn encode_udp_packet(
    packet_id: u16,
    avl_packet_id: u8,
    imei: &str,
    codec: Codec,
    records: &[AvlRecord],
) -> Vec<u8> {
    let imei = encode_imei(imei);
    let data = avl_data(codec, records);
    let mut body = Vec::with_capacity(4 + imei.len() + data.len());
    body.extend_from_slice(&packet_id.to_be_bytes());
    body.push(0x01);
    body.push(avl_packet_id);
    body.extend_from_slice(&imei);
    body.extend_from_slice(&data);
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&(body.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A Codec 12 command frame (server to device).
pub fn encode_codec12_command(command: &str) -> Vec<u8> {
    codec12_frame(TYPE_COMMAND, command.as_bytes())
}

/// A Codec 12 response frame (device to server), for simulators and tests.
pub fn encode_codec12_response(text: &str) -> Vec<u8> {
    codec12_frame(TYPE_RESPONSE, text.as_bytes())
}

fn codec12_frame(message_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(payload.len() + 8);
    data.push(0x0C);
    data.push(1);
    data.push(message_type);
    data.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    data.extend_from_slice(payload);
    data.push(1);
    tcp_frame(&data)
}

/// The data field: codec id, N1, records, N2.
fn avl_data(codec: Codec, records: &[AvlRecord]) -> Vec<u8> {
    let records = &records[..records.len().min(255)];
    let mut out = Vec::with_capacity(2 + records.len() * 64);
    out.push(codec.id());
    out.push(records.len() as u8);
    for record in records {
        encode_record(&mut out, codec, record);
    }
    out.push(records.len() as u8);
    out
}

fn width(value: &IoValue) -> Option<usize> {
    match value {
        IoValue::U8(_) => Some(1),
        IoValue::U16(_) => Some(2),
        IoValue::U32(_) => Some(4),
        IoValue::U64(_) => Some(8),
        IoValue::Var(_) => None,
    }
}

fn put_id(out: &mut Vec<u8>, codec: Codec, id: u16) {
    if codec.wide_ids() {
        out.extend_from_slice(&id.to_be_bytes());
    } else {
        out.push(id as u8);
    }
}

fn put_count(out: &mut Vec<u8>, codec: Codec, count: usize) {
    if codec.wide_counts() {
        out.extend_from_slice(&(count as u16).to_be_bytes());
    } else {
        out.push(count as u8);
    }
}

fn encode_record(out: &mut Vec<u8>, codec: Codec, record: &AvlRecord) {
    let max_count = if codec.wide_counts() {
        usize::from(u16::MAX)
    } else {
        255
    };
    let carried = |element: &&IoElement| codec.wide_ids() || element.id <= 255;
    let groups: Vec<Vec<&IoElement>> = [1, 2, 4, 8]
        .iter()
        .map(|&w| {
            record
                .io
                .iter()
                .filter(carried)
                .filter(|e| width(&e.value) == Some(w))
                .take(max_count)
                .collect()
        })
        .collect();
    let variable: Vec<&IoElement> = if codec == Codec::Codec8Ext {
        record
            .io
            .iter()
            .filter(|e| matches!(&e.value, IoValue::Var(v) if v.len() <= usize::from(u16::MAX)))
            .take(max_count)
            .collect()
    } else {
        Vec::new()
    };
    out.extend_from_slice(&record.timestamp_ms.to_be_bytes());
    out.push(record.priority);
    out.extend_from_slice(&record.longitude.to_be_bytes());
    out.extend_from_slice(&record.latitude.to_be_bytes());
    out.extend_from_slice(&record.altitude.to_be_bytes());
    out.extend_from_slice(&record.angle.to_be_bytes());
    out.push(record.satellites);
    out.extend_from_slice(&record.speed_kmh.to_be_bytes());
    put_id(out, codec, record.event_io_id);
    if codec == Codec::Codec16 {
        out.push(record.generation_type.unwrap_or(0));
    }
    let total: usize = groups.iter().map(Vec::len).sum::<usize>() + variable.len();
    put_count(out, codec, total.min(max_count));
    for group in &groups {
        put_count(out, codec, group.len());
        for element in group {
            put_id(out, codec, element.id);
            match &element.value {
                IoValue::U8(v) => out.push(*v),
                IoValue::U16(v) => out.extend_from_slice(&v.to_be_bytes()),
                IoValue::U32(v) => out.extend_from_slice(&v.to_be_bytes()),
                IoValue::U64(v) => out.extend_from_slice(&v.to_be_bytes()),
                IoValue::Var(_) => {}
            }
        }
    }
    if codec == Codec::Codec8Ext {
        out.extend_from_slice(&(variable.len() as u16).to_be_bytes());
        for element in variable {
            if let IoValue::Var(bytes) = &element.value {
                out.extend_from_slice(&element.id.to_be_bytes());
                out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
}
