//! UDP: one datagram carries the IMEI and one AVL payload, and is answered
//! with its ids and the record count.

use trackd_model::Position;

use super::payload::{decode_data, Decoded};
use super::{DecodeOptions, DeviceProfile, FrameError};
use crate::reader::Reader;

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq)]
pub struct UdpPacket {
    /// The sender's IMEI.
    pub imei: String,
    /// The decoded positions.
    pub records: Vec<Position>,
    /// The acknowledgement to send once they are stored.
    pub ack: UdpAck,
}

/// The acknowledgement of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpAck {
    /// The datagram's packet id, echoed.
    pub packet_id: u16,
    /// The AVL packet id, echoed.
    pub avl_packet_id: u8,
    /// Records accepted.
    pub n_records: u8,
}

impl UdpAck {
    /// `00 05 <packet id> 01 <avl packet id> <count>`.
    pub fn reply(&self) -> Vec<u8> {
        let id = self.packet_id.to_be_bytes();
        vec![
            0x00,
            0x05,
            id[0],
            id[1],
            0x01,
            self.avl_packet_id,
            self.n_records,
        ]
    }
}

/// Decodes one datagram: length, packet id, packet type, AVL packet id,
/// IMEI, then codec id .. N2 (checked).
pub fn decode_udp(datagram: &[u8], options: &DecodeOptions) -> Result<UdpPacket, FrameError> {
    let mut reader = Reader::new(datagram, 0);
    let declared = usize::from(reader.u16()?);
    let actual = datagram.len().saturating_sub(2);
    if declared != actual {
        return Err(FrameError::LengthMismatch { declared, actual });
    }
    let packet_id = reader.u16()?;
    let _packet_type = reader.u8()?;
    let avl_packet_id = reader.u8()?;
    let imei_len = usize::from(reader.u16()?);
    let imei_bytes = reader.take(imei_len)?;
    if imei_bytes.is_empty() || !imei_bytes.iter().all(u8::is_ascii_graphic) {
        return Err(FrameError::InvalidImei);
    }
    let imei = String::from_utf8_lossy(imei_bytes).into_owned();
    let base = reader.offset();
    let rest = datagram.get(base..).unwrap_or_default();
    match decode_data(rest, base, options, &DeviceProfile::default(), true)? {
        Decoded::Records {
            positions,
            n_records,
        } => Ok(UdpPacket {
            imei,
            records: positions,
            ack: UdpAck {
                packet_id,
                avl_packet_id,
                n_records,
            },
        }),
        Decoded::Response(_) => Err(FrameError::Unsupported("command response over udp")),
    }
}
