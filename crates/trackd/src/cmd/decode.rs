//! `trackd decode`: one capture in (hex for binary protocols, a query
//! string or JSON for HTTP ones), Traccar-shaped JSON lines out. Every
//! protocol decodes through the same session contract the server uses.

use std::io::{Read, Write};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use trackd_model::{Position, Timestamp};
use trackd_protocols::{HttpRequest, Output, Session, SessionConfig, Transport};
use trackd_server::api::dto::PositionDto;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TransportArg {
    Tcp,
    Udp,
    Http,
}

impl From<TransportArg> for Transport {
    fn from(arg: TransportArg) -> Transport {
        match arg {
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Udp => Transport::Udp,
            TransportArg::Http => Transport::Http,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// Device protocol (teltonika, gt06, osmand, ...).
    #[arg(long)]
    protocol: String,
    /// Transport the capture came over [default: the protocol's first].
    #[arg(long, value_enum)]
    transport: Option<TransportArg>,
    /// Print every IO element as `io<ID>`, without Traccar's names.
    #[arg(long)]
    raw_io: bool,
    /// The capture: hex (whitespace ignored) for TCP/UDP, a query string or
    /// JSON body for HTTP; `-` reads it from stdin.
    input: String,
}

pub(crate) fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let Some(info) = trackd_protocols::protocol(&args.protocol) else {
        let known: Vec<&str> = trackd_protocols::PROTOCOLS.iter().map(|p| p.name).collect();
        bail!(
            "unknown protocol {:?} (known: {})",
            args.protocol,
            known.join(", ")
        );
    };
    let transport = match args.transport {
        Some(transport) => transport.into(),
        None => *info
            .transports
            .first()
            .context("protocol has no transport")?,
    };
    if !info.speaks(transport) {
        bail!("{} does not speak {}", info.name, transport);
    }
    let text = if args.input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        text
    } else {
        args.input.clone()
    };
    let config = SessionConfig {
        raw_io: args.raw_io,
        ..SessionConfig::default()
    };
    let mut session = (info.new_session)(transport, &config);
    // A capture may start mid-conversation, without the device's login:
    // decode as if the device were known.
    session.assume_identified();
    let now = trackd_model::Clock::now(&trackd_model::SystemClock);
    if transport == Transport::Http {
        feed_request(session.as_mut(), now, text.trim());
    } else {
        session.handle_bytes(now, &parse_hex(&text)?);
    }
    session.handle_eof();
    let (unique_id, positions) = drain(session.as_mut())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for position in &positions {
        let mut position = position.clone();
        position.protocol = info.protocol;
        let dto = PositionDto::decoded(&position, unique_id.as_deref());
        serde_json::to_writer(&mut out, &dto)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// A JSON body is POSTed; anything else is a GET query string (a leading
/// URL or path up to `?` is dropped).
fn feed_request(session: &mut dyn Session, now: Timestamp, text: &str) {
    if text.starts_with('{') || text.starts_with('[') {
        session.handle_request(
            now,
            &HttpRequest {
                method: "POST",
                path: "/",
                query: "",
                content_type: Some("application/json"),
                body: text.as_bytes(),
            },
        );
    } else {
        let query = text.split_once('?').map_or(text, |(_, query)| query);
        session.handle_request(
            now,
            &HttpRequest {
                method: "GET",
                path: "/",
                query,
                content_type: None,
                body: &[],
            },
        );
    }
}

/// Runs the session dry, accepting every identification; the first
/// rejection or close is the error.
fn drain(session: &mut dyn Session) -> anyhow::Result<(Option<String>, Vec<Position>)> {
    let mut unique_id = None;
    let mut positions = Vec::new();
    while let Some(output) = session.poll() {
        match output {
            Output::Identified(id) => {
                eprintln!("identified: {id}");
                unique_id = Some(id);
                session.accept(true);
            }
            Output::Records { records, .. } => positions.extend(records),
            Output::Reply(_) => {}
            Output::Notice(text) => eprintln!("{text}"),
            Output::Rejected(reason) | Output::Close(reason) => bail!("{reason}"),
        }
    }
    Ok((
        unique_id.or_else(|| session.unique_id().map(str::to_owned)),
        positions,
    ))
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
}
