//! `trackd simulate`: a fleet of virtual Teltonika trackers against a server.

use std::time::Duration;

use clap::Args;
use trackd_simulator::{Progress, SimConfig};

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Teltonika TCP address of the server, host:port.
    #[arg(long)]
    target: String,
    /// Number of virtual devices.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Records per second per device.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Stop after this many seconds [default: run until interrupted].
    #[arg(long)]
    duration: Option<f64>,
    /// Most records per frame (a device batches what is due).
    #[arg(long, default_value_t = 10)]
    records_per_frame: usize,
    /// IMEI of the first device; device i reports as this + i.
    #[arg(long, default_value_t = 356_000_000_000_000)]
    imei_base: u64,
    /// Seed of the routes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Append `<imei> <fix ms>,...` per acknowledged frame to this file.
    #[arg(long)]
    ack_log: Option<std::path::PathBuf>,
}

pub(crate) async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if args.devices == 0 || args.rate.is_nan() || args.rate <= 0.0 {
        anyhow::bail!("--devices and --rate must be positive");
    }
    let duration = match args.duration {
        Some(secs) if secs > 0.0 && secs.is_finite() => Some(Duration::from_secs_f64(secs)),
        Some(_) => anyhow::bail!("--duration must be a positive number of seconds"),
        None => None,
    };
    let config = SimConfig {
        target: args.target,
        devices: args.devices,
        rate: args.rate,
        duration,
        records_per_frame: args.records_per_frame.max(1),
        imei_base: args.imei_base,
        seed: args.seed,
        ack_log: args.ack_log,
    };
    let report = trackd_simulator::run_until(config, print_progress, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    println!("{report}");
    Ok(())
}

fn print_progress(progress: &Progress) {
    println!("{progress}");
}
