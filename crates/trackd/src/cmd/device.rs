//! `trackd device add|list`: the device registry from the command line.

use clap::Subcommand;
use trackd_model::NewDevice;
use trackd_store::Store;

use crate::config::StoreArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// Register a device so its connections are accepted.
    Add {
        /// The id the device reports (IMEI for Teltonika).
        unique_id: String,
        /// Display name [default: the unique id].
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List registered devices.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) async fn run(command: DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Add {
            unique_id,
            name,
            store,
        } => {
            let unique_id = unique_id.trim().to_owned();
            if unique_id.is_empty() || unique_id.len() > 64 {
                anyhow::bail!("unique id must be 1 to 64 characters");
            }
            let store = Store::open(&store.registry_store_config()?).await?;
            let name = name.unwrap_or_else(|| unique_id.clone());
            let result = store.add_device(NewDevice { unique_id, name }).await;
            store.close().await?;
            let device = result?;
            println!(
                "added device {} ({}) with id {}",
                device.unique_id, device.name, device.id
            );
        }
        DeviceCommand::List { json, store } => {
            let store = Store::open(&store.store_config(true)?).await?;
            let devices = store.devices().await;
            store.close().await?;
            for device in devices? {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": device.id.get(),
                            "uniqueId": device.unique_id,
                            "name": device.name,
                            "disabled": device.disabled,
                        })
                    );
                } else {
                    println!("{}\t{}\t{}", device.id, device.unique_id, device.name);
                }
            }
        }
    }
    Ok(())
}
