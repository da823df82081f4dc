//! `trackd serve`: the server, optionally with a demo fleet.

use anyhow::Context;
use clap::Args;
use tracing_subscriber::EnvFilter;
use trackd_model::{NewDevice, UserFields};
use trackd_server::Server;
use trackd_store::{Store, StoreError};

use crate::config::{Config, ServeFlags, StoreArgs};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    flags: ServeFlags,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::load(&args.store, &args.flags)?;
    let filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("invalid log filter {:?}", config.log))?;
    crate::logging::init(filter, std::io::IsTerminal::is_terminal(&std::io::stderr()));

    fit_open_files(&mut config.server);
    // The store's errors name the database and what went wrong; a context
    // here would only say it a second time.
    let store = Store::open(&config.store).await?;
    tracing::info!(database = %redact(&config.store.url), "store open");
    if let Some((email, password)) = &config.first_admin {
        create_first_admin(&store, email, password).await?;
    }
    // Bind errors name the listener and the address already.
    let running = Server::new(config.server.clone(), store.clone())
        .start()
        .await?;
    // Only once the listeners are bound: a demo administrator made by a
    // start that then failed would have its password shown nowhere.
    let demo_admin = if config.demo && store.count_users().await? == 0 {
        Some(create_demo_admin(&store).await?)
    } else {
        None
    };
    for listener in &running.listeners {
        tracing::info!(
            protocol = listener.protocol,
            transport = %listener.transport,
            addr = %listener.addr,
            tls = listener.tls,
            "listening for devices"
        );
    }
    match running.http {
        Some(http) => {
            let url = browser_url(http, running.has_tls());
            tracing::info!(
                http = %http,
                https = running.has_tls(),
                http_redirect = %running
                    .http_redirect
                    .map_or_else(|| "off".to_owned(), |addr| addr.to_string()),
                "trackd listening"
            );
            tracing::info!("open {url} (the API is under {url}api)");
            if let Some((email, password)) = &demo_admin {
                let flags = store_flags(&args.store);
                // The one time this password is ever shown: it is random
                // and stored only as a hash.
                tracing::warn!(
                    "demo administrator created: log in at {url} as {email} with password \
                     {password} (shown only this once; change it with `trackd user passwd \
                     --email {email}{flags}`)"
                );
            } else if store.count_users().await? == 0 {
                tracing::warn!("{}", first_user_hint(&args.store));
            }
        }
        None => tracing::info!("trackd listening (HTTP API off)"),
    }

    let demo = config.demo.then(|| {
        use trackd_protocols::Transport;
        use trackd_simulator::Protocol;
        let targets: Vec<(Protocol, std::net::SocketAddr)> = [
            (
                Protocol::Teltonika,
                running.listener("teltonika", Transport::Tcp),
            ),
            (Protocol::Gt06, running.listener("gt06", Transport::Tcp)),
            (
                Protocol::Osmand,
                running.listener("osmand", Transport::Http),
            ),
        ]
        .into_iter()
        .filter_map(|(protocol, addr)| addr.map(|addr| (protocol, addr)))
        .collect();
        tokio::spawn(run_demo(store.clone(), targets, config.demo_devices))
    });

    tokio::select! {
        () = shutdown_signal() => {}
        () = reload_on_hangup(&running) => {}
    }
    tracing::info!("shutting down");
    if let Some(demo) = demo {
        demo.abort();
    }
    running.shutdown().await?;
    Ok(())
}

/// Raises the open-file limit as far as allowed and lowers the connection
/// caps that would not fit under it, saying so.
fn fit_open_files(server: &mut trackd_server::ServerConfig) {
    let Some(limit) = trackd_server::raise_fd_limit() else {
        return;
    };
    match trackd_server::fit_fd_limit(server, limit) {
        None => tracing::info!(
            open_files = limit,
            max_connections = server.max_connections,
            http_max_connections = server.http_max_connections,
            "open-file limit"
        ),
        Some(lowered) => tracing::warn!(
            open_files = limit,
            needed = lowered.needed,
            max_connections = lowered.max_connections.1,
            http_max_connections = lowered.http_max_connections.1,
            "open-file limit is below what the connection caps need: caps lowered to fit \
             (raise the hard limit, e.g. LimitNOFILE= in the service unit, for more)"
        ),
    }
}

/// Creates the configured administrator when the store has no users yet.
async fn create_first_admin(store: &Store, email: &str, password: &str) -> anyhow::Result<()> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    if password.chars().count() < 8 {
        anyhow::bail!("admin_password must be at least 8 characters");
    }
    let hash = super::user::hash(password.to_owned()).await?;
    let fields = UserFields {
        name: "Administrator".to_owned(),
        email: email.trim().to_owned(),
        administrator: true,
        user_limit: -1,
        ..UserFields::default()
    };
    let user = store.create_user(fields, Some(hash)).await?;
    tracing::info!(email = %user.email, "created the first administrator");
    Ok(())
}

/// Login email of the administrator `serve --demo` creates on an empty store.
const DEMO_ADMIN_EMAIL: &str = "admin@demo.local";

/// Creates the demo administrator with a random password; returns its
/// email and that password, which nothing else keeps.
async fn create_demo_admin(store: &Store) -> anyhow::Result<(String, String)> {
    use rand::distributions::{Alphanumeric, DistString};
    let password = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 16);
    let hash = super::user::hash(password.clone()).await?;
    let fields = UserFields {
        name: "Demo administrator".to_owned(),
        email: DEMO_ADMIN_EMAIL.to_owned(),
        administrator: true,
        user_limit: -1,
        ..UserFields::default()
    };
    let user = store.create_user(fields, Some(hash)).await?;
    Ok((user.email, password))
}

/// The address to open in a browser: a wildcard bind is reachable on
/// loopback, and `http://0.0.0.0:8082/` does not work everywhere.
fn browser_url(http: std::net::SocketAddr, tls: bool) -> String {
    let host = match http.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_owned(),
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}:{}/", http.port())
}

/// How to make the first administrator, with the store flags this server
/// was given so the command finds the same database.
fn first_user_hint(store: &StoreArgs) -> String {
    let flags = store_flags(store);
    format!(
        "no users yet: create the first administrator with \
         `TRACKD_PASSWORD='...' cargo run --release -p trackd -- user add --admin --email EMAIL{flags}` \
         from a clone (`trackd user add ...` once installed with `cargo install --path crates/trackd`), \
         or start once with `--admin-email EMAIL` and TRACKD_ADMIN_PASSWORD set"
    )
}

/// The store flags this server was given, for commands shown in the log
/// (never the database URL, which may hold a password).
fn store_flags(store: &StoreArgs) -> String {
    let mut flags = String::new();
    if let Some(config) = &store.config {
        flags.push_str(&format!(" --config {}", config.display()));
    }
    if let Some(dir) = &store.data_dir {
        flags.push_str(&format!(" --data-dir {}", dir.display()));
    }
    if store.database.is_some() {
        flags.push_str(" --database <the same URL>");
    }
    flags
}

/// The first IMEI of the demo fleet; vehicle i reports as DEMO_IMEI_BASE + i.
const DEMO_IMEI_BASE: u64 = 359_000_000_000_000;

/// Registers `devices` demo vehicles and drives them, dealt in consecutive
/// blocks to the protocols that have a listener (`targets`).
async fn run_demo(
    store: Store,
    targets: Vec<(trackd_simulator::Protocol, std::net::SocketAddr)>,
    devices: usize,
) {
    if targets.is_empty() {
        tracing::warn!("demo fleet: no teltonika, gt06 or osmand listener to report to");
        return;
    }
    for i in 0..devices {
        let unique_id = (DEMO_IMEI_BASE + i as u64).to_string();
        let new = NewDevice {
            unique_id,
            name: format!("Demo vehicle {}", i + 1),
        };
        match store.add_device(new).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(err) => {
                tracing::error!(%err, "demo fleet: cannot register devices");
                return;
            }
        }
    }
    let mut fleets = tokio::task::JoinSet::new();
    let mut first = 0;
    for (n, (protocol, target)) in targets.iter().enumerate() {
        // The first `devices % len` protocols take one vehicle more.
        let count = devices / targets.len() + usize::from(n < devices % targets.len());
        if count == 0 {
            continue;
        }
        let target = if target.ip().is_unspecified() {
            std::net::SocketAddr::from(([127, 0, 0, 1], target.port()))
        } else {
            *target
        };
        let config = trackd_simulator::SimConfig {
            protocol: *protocol,
            target: target.to_string(),
            devices: count,
            rate: 0.2,
            duration: None,
            records_per_frame: 1,
            imei_base: DEMO_IMEI_BASE + first as u64,
            seed: 1 + n as u64,
            ..trackd_simulator::SimConfig::default()
        };
        first += count;
        tracing::info!(devices = count, %protocol, %target, "demo fleet driving");
        let protocol = *protocol;
        fleets.spawn(async move {
            if let Err(err) = trackd_simulator::run(config, |_| {}).await {
                tracing::error!(%err, %protocol, "demo fleet stopped");
            }
        });
    }
    while fleets.join_next().await.is_some() {}
}

/// The database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Reloads the TLS certificate and key on every SIGHUP (after a renewal);
/// never returns. A failed reload is one error line; the old certificate
/// stays in force.
async fn reload_on_hangup(running: &trackd_server::RunningServer) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(err) => {
                tracing::warn!(%err, "cannot handle SIGHUP: certificates reload only on restart");
                return std::future::pending().await;
            }
        };
        while hangup.recv().await.is_some() {
            if !running.has_tls() {
                tracing::info!("SIGHUP: no TLS configured, nothing to reload");
                continue;
            }
            match running.reload_tls() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(err) => {
                    tracing::error!(%err, "SIGHUP: TLS reload failed; keeping the old certificate");
                }
            }
        }
    }
    std::future::pending().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::{browser_url, redact};

    #[test]
    fn wildcard_binds_are_opened_on_loopback() {
        assert_eq!(
            browser_url("0.0.0.0:8082".parse().unwrap(), false),
            "http://127.0.0.1:8082/"
        );
        assert_eq!(
            browser_url("[::]:80".parse().unwrap(), false),
            "http://[::1]:80/"
        );
        assert_eq!(
            browser_url("10.0.0.5:8082".parse().unwrap(), true),
            "https://10.0.0.5:8082/"
        );
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact("postgres://trackd:s3cret@db:5432/trackd"),
            "postgres://trackd:***@db:5432/trackd"
        );
        assert_eq!(redact("sqlite:./data/trackd.db"), "sqlite:./data/trackd.db");
    }
}
