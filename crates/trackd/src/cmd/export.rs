//! `trackd export positions`: stored positions of one device, in time order.

use std::io::Write;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use trackd_model::{StoredPosition, Timestamp};
use trackd_server::api::dto::{iso8601, PositionDto};
use trackd_store::Store;

use crate::config::StoreArgs;
use crate::timearg::parse_time;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Jsonl,
    Csv,
    Gpx,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Positions of one device.
    Positions {
        /// The device's unique id (IMEI).
        #[arg(long)]
        device: String,
        /// Start, inclusive (RFC 3339, a date, or epoch ms) [default: the beginning].
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive [default: now and beyond].
        #[arg(long)]
        to: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) async fn run(command: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Positions {
        device,
        from,
        to,
        format,
        store,
    } = command;
    let from = from
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(Timestamp::MIN);
    let to = to
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(Timestamp::MAX);
    if from > to {
        anyhow::bail!("--from is after --to");
    }
    // Read-only: a running server owns the write side of the store. Its
    // errors name the database already.
    let store = Store::open(&store.store_config(true)?).await?;
    let result = async {
        let device = store
            .device_by_unique_id(&device)
            .await?
            .with_context(|| format!("no device with unique id {device}"))?;
        // The same read path as the API: the operator's viewer sees every
        // device, under the privacy mask and audit that apply to it.
        let access = trackd_server::access::Access::new(store.clone());
        let viewer = trackd_server::access::Viewer::operator();
        let positions = access
            .positions(&viewer, device.id, from, to)
            .await?
            .with_context(|| format!("device {} is not visible", device.unique_id))?;
        anyhow::Ok((device, positions))
    }
    .await;
    store.close().await?;
    let (device, positions) = result?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Jsonl => write_jsonl(&mut out, &positions)?,
        Format::Csv => write_csv(&mut out, &positions)?,
        Format::Gpx => write_gpx(&mut out, &device.name, &positions)?,
    }
    out.flush()?;
    Ok(())
}

fn write_jsonl(out: &mut impl Write, positions: &[StoredPosition]) -> anyhow::Result<()> {
    for position in positions {
        serde_json::to_writer(&mut *out, &PositionDto::stored(position))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, positions: &[StoredPosition]) -> anyhow::Result<()> {
    writeln!(
        out,
        "id,deviceId,fixTime,deviceTime,serverTime,valid,latitude,longitude,altitude,speed,course,attributes"
    )?;
    for stored in positions {
        let dto = PositionDto::stored(stored);
        let attributes = serde_json::to_string(&dto.attributes)?;
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            stored.id,
            stored.device_id,
            dto.fix_time,
            dto.device_time,
            dto.server_time.unwrap_or_default(),
            dto.valid,
            dto.latitude,
            dto.longitude,
            dto.altitude,
            dto.speed,
            dto.course,
            csv_quote(&attributes),
        )?;
    }
    Ok(())
}

fn csv_quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

fn write_gpx(out: &mut impl Write, name: &str, positions: &[StoredPosition]) -> anyhow::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<gpx version="1.1" creator="trackd" xmlns="http://www.topografix.com/GPX/1/1">"#
    )?;
    writeln!(out, "<trk><name>{}</name><trkseg>", xml_escape(name))?;
    for stored in positions {
        let p = &stored.position;
        writeln!(
            out,
            r#"<trkpt lat="{:.7}" lon="{:.7}"><ele>{}</ele><time>{}</time></trkpt>"#,
            p.latitude,
            p.longitude,
            p.altitude,
            iso8601(p.fix_time).replace("+00:00", "Z"),
        )?;
    }
    writeln!(out, "</trkseg></trk>\n</gpx>")?;
    Ok(())
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
