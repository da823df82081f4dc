//! `trackd simulate`: a fleet of virtual trackers (Teltonika, GT06 or
//! OsmAnd phones) against a server.

use std::time::Duration;

use clap::Args;
use trackd_model::NewDevice;
use trackd_simulator::{Progress, Protocol, SimConfig};
use trackd_store::{Store, StoreError};

use crate::config::StoreArgs;

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Protocol the devices speak: teltonika (TCP), gt06 (TCP) or osmand (HTTP).
    #[arg(long, default_value = "teltonika", value_parser = parse_protocol)]
    protocol: Protocol,
    /// The server's listener of that protocol, host:port [default: 127.0.0.1 and the protocol's port].
    #[arg(long)]
    target: Option<String>,
    /// Number of virtual devices.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Records per second per device (gt06: at most 1, its wire carries whole seconds).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Stop after this many seconds [default: run until interrupted].
    #[arg(long)]
    duration: Option<f64>,
    /// Most records per frame (teltonika batches what is due; gt06 and osmand send one per message).
    #[arg(long, default_value_t = 10)]
    records_per_frame: usize,
    /// IMEI of the first device; device i reports as this + i.
    #[arg(long, default_value_t = 356_000_000_000_000)]
    imei_base: u64,
    /// Seed of the routes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Append `<unique id> <fix ms>,...` per acknowledged message to this file.
    #[arg(long)]
    ack_log: Option<std::path::PathBuf>,
    /// Seconds an idle gt06 device waits before a heartbeat (0: none).
    #[arg(long, default_value_t = 30.0)]
    heartbeat: f64,
    /// Register the simulated devices in the server's store first (the
    /// store of --data-dir / --database / --config), so a server that
    /// refuses unknown devices accepts them.
    #[arg(long)]
    register: bool,
    #[command(flatten)]
    store: StoreArgs,
    /// Connect over TLS, trusting the CA certificates of this PEM file (the target's host must be in the server's certificate).
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
}

fn parse_protocol(name: &str) -> Result<Protocol, String> {
    Protocol::from_name(name)
        .ok_or_else(|| format!("unknown protocol {name:?} (teltonika, gt06, osmand)"))
}

/// Traccar's default port of each protocol.
fn default_port(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Teltonika => trackd_protocols::teltonika::PROTOCOL.default_port,
        Protocol::Gt06 => trackd_protocols::gt06::PROTOCOL.default_port,
        Protocol::Osmand => trackd_protocols::osmand::PROTOCOL.default_port,
    }
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
    let heartbeat = if args.heartbeat == 0.0 {
        None
    } else if args.heartbeat > 0.0 && args.heartbeat.is_finite() {
        Some(Duration::from_secs_f64(args.heartbeat))
    } else {
        anyhow::bail!("--heartbeat must be a positive number of seconds or 0");
    };
    let target = args
        .target
        .unwrap_or_else(|| format!("127.0.0.1:{}", default_port(args.protocol)));
    let config = SimConfig {
        protocol: args.protocol,
        target,
        devices: args.devices,
        rate: args.rate,
        duration,
        records_per_frame: args.records_per_frame.max(1),
        imei_base: args.imei_base,
        seed: args.seed,
        ack_log: args.ack_log,
        heartbeat,
        tls_ca: args.tls_ca,
    };
    if args.register {
        register(&args.store, &config).await?;
    }
    let report = trackd_simulator::run_until(config, print_progress, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    println!("{report}");
    if report.refused_devices > 0 {
        println!(
            "the server refused {} devices because their IMEIs are not registered: register them \
             (`trackd device add <IMEI>`, or run this again with --register and the server's \
             --data-dir or --database), or set register_unknown = true on the server",
            report.refused_devices
        );
    }
    Ok(())
}

/// Adds every simulated device to the store (already registered ones are
/// left as they are); the store is opened like `trackd device add` does,
/// next to a running server.
async fn register(store: &StoreArgs, config: &SimConfig) -> anyhow::Result<()> {
    let store = Store::open(&store.registry_store_config()?).await?;
    let mut added = 0;
    let mut result = Ok(());
    for index in 0..config.devices {
        let unique_id = config.imei(index);
        let new = NewDevice {
            name: format!("Simulated {unique_id}"),
            unique_id,
        };
        match store.add_device(new).await {
            Ok(_) => added += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    store.close().await?;
    result?;
    println!(
        "registered {added} devices ({} were already registered)",
        config.devices - added
    );
    Ok(())
}

fn print_progress(progress: &Progress) {
    println!("{progress}");
}
