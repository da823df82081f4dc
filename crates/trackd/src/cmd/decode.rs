//! `trackd decode`: one frame in (hex), Traccar-shaped JSON lines out.

use std::io::{Read, Write};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use trackd_model::Position;
use trackd_protocols::teltonika::{self, DecodeOptions};
use trackd_server::api::dto::PositionDto;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ProtocolArg {
    Teltonika,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TransportArg {
    Tcp,
    Udp,
}

#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// Device protocol of the frame.
    #[arg(long, value_enum)]
    protocol: ProtocolArg,
    /// Transport the frame came over (TCP frames and UDP datagrams differ).
    #[arg(long, value_enum, default_value = "tcp")]
    transport: TransportArg,
    /// Print every IO element as `io<ID>`, without Traccar's names.
    #[arg(long)]
    raw_io: bool,
    /// The frame as hex (whitespace ignored), or `-` to read it from stdin.
    input: String,
}

pub(crate) fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let text = if args.input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        text
    } else {
        args.input.clone()
    };
    let bytes = parse_hex(&text)?;
    let options = DecodeOptions {
        raw_io: args.raw_io,
    };
    let (unique_id, positions) = match (args.protocol, args.transport) {
        (ProtocolArg::Teltonika, TransportArg::Tcp) => decode_teltonika_tcp(&bytes, &options)?,
        (ProtocolArg::Teltonika, TransportArg::Udp) => {
            let packet = teltonika::decode_udp(&bytes, &options)?;
            (Some(packet.imei), packet.records)
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for position in &positions {
        let dto = PositionDto::decoded(position, unique_id.as_deref());
        serde_json::to_writer(&mut out, &dto)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// A TCP capture may start with the IMEI handshake; positions after it carry
/// that IMEI as their `uniqueId`.
fn decode_teltonika_tcp(
    bytes: &[u8],
    options: &DecodeOptions,
) -> anyhow::Result<(Option<String>, Vec<Position>)> {
    if let Some((imei, rest)) = split_imei_handshake(bytes) {
        if rest.is_empty() {
            eprintln!("imei handshake: {imei}");
            return Ok((Some(imei), Vec::new()));
        }
        let positions = teltonika::decode_tcp_frame(rest, options).with_context(|| {
            format!("after the {}-byte imei handshake", bytes.len() - rest.len())
        })?;
        return Ok((Some(imei), positions));
    }
    Ok((None, teltonika::decode_tcp_frame(bytes, options)?))
}

fn split_imei_handshake(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = usize::from(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]));
    if !(1..=20).contains(&len) {
        return None;
    }
    let imei = bytes.get(2..2 + len)?;
    if !imei.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let imei = String::from_utf8_lossy(imei).into_owned();
    Some((imei, bytes.get(2 + len..).unwrap_or_default()))
}

fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.is_empty() {
        bail!("no input: give the frame as hex");
    }
    if let Some(pos) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        bail!(
            "invalid hex digit {:?} at position {pos}",
            char::from(digits[pos])
        );
    }
    if !digits.len().is_multiple_of(2) {
        bail!("odd number of hex digits ({})", digits.len());
    }
    Ok(hex::decode(&digits)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ignores_whitespace_and_names_bad_digits() {
        assert_eq!(parse_hex("00 0f\n ab").unwrap(), vec![0x00, 0x0f, 0xab]);
        assert!(parse_hex("0g")
            .unwrap_err()
            .to_string()
            .contains("position 1"));
        assert!(parse_hex("abc").unwrap_err().to_string().contains("odd"));
    }

    #[test]
    fn imei_handshake_is_split_off() {
        let bytes = hex::decode("000f33353630303030303030303030303100").unwrap();
        let (imei, rest) = split_imei_handshake(&bytes).unwrap();
        assert_eq!(imei, "356000000000001");
        assert_eq!(rest, &[0u8][..]);
        assert!(split_imei_handshake(&[0, 0, 0, 0, 0, 0, 0, 0x20]).is_none());
    }
}
