//! Configuration: defaults, then the TOML file (`--config`), then
//! environment variables (`TRACKD_<KEY>`), then flags — each later source
//! overriding the earlier for every key.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use trackd_protocols::Transport;
use trackd_server::auth::parse_trusted_proxy;
use trackd_server::{ListenerConfig, ServerConfig, TlsFiles};
use trackd_store::StoreConfig;

/// Keys of the config file; every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database: Option<String>,
    bind: Option<IpAddr>,
    http_port: Option<u16>,
    teltonika_port: Option<u16>,
    register_unknown: Option<bool>,
    idle_timeout_secs: Option<u64>,
    max_frame_bytes: Option<usize>,
    max_connections: Option<usize>,
    log: Option<String>,
    demo: Option<bool>,
    demo_devices: Option<usize>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    handshake_timeout_secs: Option<u64>,
    status_timeout_secs: Option<u64>,
    login_workers: Option<usize>,
    login_queue: Option<usize>,
    login_queue_timeout_ms: Option<u64>,
    login_concurrency_per_address: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
    token_default_lifetime_days: Option<u64>,
    http_max_connections: Option<usize>,
    http_header_timeout_secs: Option<u64>,
    http_idle_timeout_secs: Option<u64>,
    future_fix_limit_secs: Option<u64>,
    max_speed_knots: Option<f64>,
    websocket_max_per_user: Option<usize>,
    max_read_positions: Option<usize>,
    max_read_events: Option<usize>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    http_redirect_port: Option<u16>,
    teltonika_tls_port: Option<u16>,
    #[serde(default)]
    listeners: Vec<FileListener>,
}

/// One `[[listeners]]` entry: sets the port of a protocol on a transport
/// (or adds it), or turns it off with `enabled = false`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListener {
    protocol: String,
    transport: String,
    port: Option<u16>,
    #[serde(default = "yes")]
    enabled: bool,
    /// TLS on this listener (beside a plain one of the same protocol and
    /// transport, which an entry without `tls` configures).
    #[serde(default)]
    tls: bool,
}

fn yes() -> bool {
    true
}

/// The device listeners: every protocol on its default port, then
/// `teltonika_port` and `teltonika_tls_port`, then the `[[listeners]]` entries.
fn listeners(
    bind: IpAddr,
    teltonika_port: Option<u16>,
    teltonika_tls_port: Option<u16>,
    entries: &[FileListener],
) -> anyhow::Result<Vec<ListenerConfig>> {
    let mut listeners = ListenerConfig::defaults(bind);
    if let Some(port) = teltonika_port {
        for listener in listeners.iter_mut().filter(|l| l.protocol == "teltonika") {
            listener.addr.set_port(port);
        }
    }
    if let Some(port) = teltonika_tls_port {
        listeners.push(ListenerConfig {
            protocol: "teltonika".to_owned(),
            transport: Transport::Tcp,
            addr: SocketAddr::new(bind, port),
            tls: true,
        });
    }
    for entry in entries {
        let info = trackd_protocols::protocol(&entry.protocol).with_context(|| {
            let known: Vec<&str> = trackd_protocols::PROTOCOLS.iter().map(|p| p.name).collect();
            format!(
                "listeners: unknown protocol {:?} (known: {})",
                entry.protocol,
                known.join(", ")
            )
        })?;
        let transport = Transport::from_name(&entry.transport).with_context(|| {
            format!(
                "listeners: transport {:?} is not tcp, udp or http",
                entry.transport
            )
        })?;
        if !info.speaks(transport) {
            anyhow::bail!("listeners: {} does not speak {}", info.name, transport);
        }
        if entry.tls && transport == Transport::Udp {
            anyhow::bail!(
                "listeners: {} over udp cannot use tls (TLS needs a stream transport: tcp or http)",
                info.name
            );
        }
        listeners.retain(|l| {
            !(l.protocol == info.name && l.transport == transport && l.tls == entry.tls)
        });
        if entry.enabled {
            // A TLS entry has no default port of its own.
            let port = match (entry.port, entry.tls) {
                (Some(port), _) => port,
                (None, false) => info.default_port,
                (None, true) => anyhow::bail!(
                    "listeners: the tls listener of {} over {} needs a port",
                    info.name,
                    transport
                ),
            };
            listeners.push(ListenerConfig {
                protocol: info.name.to_owned(),
                transport,
                addr: SocketAddr::new(bind, port),
                tls: entry.tls,
            });
        }
    }
    Ok(listeners)
}

/// Where the data lives: shared by every command that opens the store.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, env = "TRACKD_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Directory of the embedded SQLite database [default: ./data].
    #[arg(long, env = "TRACKD_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL instead of the embedded SQLite.
    #[arg(long, env = "TRACKD_DATABASE")]
    pub(crate) database: Option<String>,
}

/// Server settings; each flag can also be given as `TRACKD_<NAME>`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeFlags {
    /// Address every listener binds to [default: 0.0.0.0].
    #[arg(long, env = "TRACKD_BIND")]
    bind: Option<IpAddr>,
    /// HTTP API port [default: 8082].
    #[arg(long, env = "TRACKD_HTTP_PORT")]
    http_port: Option<u16>,
    /// Teltonika TCP and UDP port [default: 5027].
    #[arg(long, env = "TRACKD_TELTONIKA_PORT")]
    teltonika_port: Option<u16>,
    /// Register devices with unknown IMEIs instead of refusing them [default: false].
    #[arg(long, env = "TRACKD_REGISTER_UNKNOWN", num_args = 0..=1, default_missing_value = "true")]
    register_unknown: Option<bool>,
    /// Close device connections that do not identify within this many seconds [default: 30].
    #[arg(long, env = "TRACKD_HANDSHAKE_TIMEOUT_SECS")]
    handshake_timeout_secs: Option<u64>,
    /// UDP and HTTP devices turn `unknown` this many seconds after their last report [default: 600].
    #[arg(long, env = "TRACKD_STATUS_TIMEOUT_SECS")]
    status_timeout_secs: Option<u64>,
    /// Close device connections silent for this many seconds [default: 600].
    #[arg(long, env = "TRACKD_IDLE_TIMEOUT_SECS")]
    idle_timeout_secs: Option<u64>,
    /// Largest device frame accepted, bytes [default: 65536].
    #[arg(long, env = "TRACKD_MAX_FRAME_BYTES")]
    max_frame_bytes: Option<usize>,
    /// Most simultaneous device connections [default: 100000].
    #[arg(long, env = "TRACKD_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Log filter, e.g. `info` or `trackd_server=debug` [default: info].
    #[arg(long, env = "TRACKD_LOG")]
    log: Option<String>,
    /// Also run a simulated demo fleet against this server [default: false].
    #[arg(long, env = "TRACKD_DEMO", num_args = 0..=1, default_missing_value = "true")]
    demo: Option<bool>,
    /// Vehicles in the demo fleet [default: 50].
    #[arg(long, env = "TRACKD_DEMO_DEVICES")]
    demo_devices: Option<usize>,
    /// First run only: create this administrator if there are no users yet.
    #[arg(long, env = "TRACKD_ADMIN_EMAIL")]
    admin_email: Option<String>,
    /// Password of that first administrator (prefer the environment variable).
    #[arg(long, env = "TRACKD_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Threads that check passwords [default: the number of cores].
    #[arg(long, env = "TRACKD_LOGIN_WORKERS")]
    login_workers: Option<usize>,
    /// Logins that may wait for a password thread; more get 503 [default: 32].
    #[arg(long, env = "TRACKD_LOGIN_QUEUE")]
    login_queue: Option<usize>,
    /// A login waiting longer than this for a password thread gets 503 [default: 2000].
    #[arg(long, env = "TRACKD_LOGIN_QUEUE_TIMEOUT_MS")]
    login_queue_timeout_ms: Option<u64>,
    /// Logins checked at once per client address; more get 429 [default: 8].
    #[arg(long, env = "TRACKD_LOGIN_CONCURRENCY_PER_ADDRESS")]
    login_concurrency_per_address: Option<usize>,
    /// Reverse proxies whose X-Forwarded-For gives the client address,
    /// comma-separated addresses or networks [default: none].
    #[arg(long, env = "TRACKD_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// Days an API token created without an expiration lasts; 0 = forever [default: 365].
    #[arg(long, env = "TRACKD_TOKEN_DEFAULT_LIFETIME_DAYS")]
    token_default_lifetime_days: Option<u64>,
    /// Most simultaneous HTTP API connections, WebSockets included; more get 503 [default: 4096].
    #[arg(long, env = "TRACKD_HTTP_MAX_CONNECTIONS")]
    http_max_connections: Option<usize>,
    /// An HTTP request header must arrive within this many seconds [default: 10].
    #[arg(long, env = "TRACKD_HTTP_HEADER_TIMEOUT_SECS")]
    http_header_timeout_secs: Option<u64>,
    /// Close HTTP keep-alive connections idle this many seconds [default: 60].
    #[arg(long, env = "TRACKD_HTTP_IDLE_TIMEOUT_SECS")]
    http_idle_timeout_secs: Option<u64>,
    /// Fixes dated more than this many seconds after arrival are marked invalid [default: 86400].
    #[arg(long, env = "TRACKD_FUTURE_FIX_LIMIT_SECS")]
    future_fix_limit_secs: Option<u64>,
    /// Fixes faster than this many knots are marked invalid [default: 1000].
    #[arg(long, env = "TRACKD_MAX_SPEED_KNOTS")]
    max_speed_knots: Option<f64>,
    /// Most live sockets (/api/socket) one user may hold; more get 429 [default: 128].
    #[arg(long, env = "TRACKD_WEBSOCKET_MAX_PER_USER")]
    websocket_max_per_user: Option<usize>,
    /// Most positions one API answer may hold; larger ranges get 400 [default: 500000].
    #[arg(long, env = "TRACKD_MAX_READ_POSITIONS")]
    max_read_positions: Option<usize>,
    /// Most events one API answer may hold; larger ranges get 400 [default: 500000].
    #[arg(long, env = "TRACKD_MAX_READ_EVENTS")]
    max_read_events: Option<usize>,
    /// PEM certificate chain: with --tls-key, the API is HTTPS and tls listeners work.
    #[arg(long, env = "TRACKD_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TRACKD_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Plain HTTP port that only redirects to the HTTPS API [default: none].
    #[arg(long, env = "TRACKD_HTTP_REDIRECT_PORT")]
    http_redirect_port: Option<u16>,
    /// A Teltonika TCP listener with TLS on this port, beside the plain one [default: none].
    #[arg(long, env = "TRACKD_TELTONIKA_TLS_PORT")]
    teltonika_tls_port: Option<u16>,
}

/// The merged configuration of `trackd serve`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) store: StoreConfig,
    pub(crate) server: ServerConfig,
    pub(crate) log: String,
    pub(crate) demo: bool,
    pub(crate) demo_devices: usize,
    /// First-run administrator (email, password), if configured.
    pub(crate) first_admin: Option<(String, String)>,
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

/// Creates the data dir if missing and checks it can be written, so the
/// error names the directory and the reason once, instead of SQLite's
/// "unable to open database file" wrapped in layers.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let reason = |err: std::io::Error| match err.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::NotADirectory => {
            "a part of the path is a file, not a directory".to_owned()
        }
        _ => err.to_string(),
    };
    if let Err(err) = std::fs::create_dir_all(dir) {
        anyhow::bail!("cannot create data dir {}: {}", dir.display(), reason(err));
    }
    // SQLite writes its journal next to the database, so the directory
    // itself must be writable, not only the database file.
    let probe = dir.join(format!(".trackd-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => anyhow::bail!(
            "cannot write to data dir {}: {}",
            dir.display(),
            reason(err)
        ),
    }
}

impl StoreArgs {
    /// The store location after merging flags/env over the file.
    pub(crate) fn store_config(&self, read_only: bool) -> anyhow::Result<StoreConfig> {
        let file = read_file(self.config.as_deref())?;
        self.merge(&file, read_only)
    }

    /// The store for a command that changes the registry (users, devices,
    /// tokens) next to a server that may be running: positions read-only,
    /// data dir created if missing.
    pub(crate) fn registry_store_config(&self) -> anyhow::Result<StoreConfig> {
        let file = read_file(self.config.as_deref())?;
        let mut config = self.merge(&file, false)?;
        config.read_only = true;
        Ok(config)
    }

    /// `token_default_lifetime_days` of the configuration file, if set.
    pub(crate) fn file_token_default_lifetime_days(&self) -> anyhow::Result<Option<u64>> {
        Ok(read_file(self.config.as_deref())?.token_default_lifetime_days)
    }

    fn merge(&self, file: &FileConfig, read_only: bool) -> anyhow::Result<StoreConfig> {
        let database = self
            .database
            .clone()
            .or_else(|| file.database.clone())
            .filter(|url| !url.is_empty());
        let url = match database {
            Some(url) => url,
            None => {
                let dir = self
                    .data_dir
                    .clone()
                    .or_else(|| file.data_dir.clone())
                    .unwrap_or_else(|| PathBuf::from("./data"));
                if !read_only {
                    prepare_data_dir(&dir)?;
                } else if !dir.is_dir() {
                    // A reading command would otherwise fail on SQLite's
                    // "unable to open database file".
                    anyhow::bail!(
                        "data dir {} does not exist (start `trackd serve` once, or pass the \
                         server's --data-dir or --database)",
                        dir.display()
                    );
                }
                format!("sqlite:{}", dir.join("trackd.db").display())
            }
        };
        Ok(StoreConfig { url, read_only })
    }
}

impl Config {
    /// Merges defaults, file, env and flags.
    pub(crate) fn load(store: &StoreArgs, flags: &ServeFlags) -> anyhow::Result<Config> {
        let file = read_file(store.config.as_deref())?;
        let bind = flags
            .bind
            .or(file.bind)
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let http_port = flags.http_port.or(file.http_port).unwrap_or(8082);
        let teltonika_port = flags.teltonika_port.or(file.teltonika_port);
        let defaults = ServerConfig::default();
        let trusted_proxies = flags
            .trusted_proxies
            .clone()
            .or_else(|| file.trusted_proxies.clone())
            .unwrap_or_default()
            .iter()
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| parse_trusted_proxy(entry).map_err(|err| anyhow::anyhow!(err)))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("trusted_proxies")?;
        let token_default_lifetime = match flags
            .token_default_lifetime_days
            .or(file.token_default_lifetime_days)
        {
            None => defaults.token_default_lifetime,
            Some(0) => None,
            Some(days) => Some(Duration::from_secs(days.saturating_mul(24 * 3600))),
        };
        let teltonika_tls_port = flags.teltonika_tls_port.or(file.teltonika_tls_port);
        let tls = match (
            flags.tls_cert.clone().or_else(|| file.tls_cert.clone()),
            flags.tls_key.clone().or_else(|| file.tls_key.clone()),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (Some(_), None) => anyhow::bail!("tls_cert is set but tls_key is not"),
            (None, Some(_)) => anyhow::bail!("tls_key is set but tls_cert is not"),
            (None, None) => None,
        };
        let http_redirect = flags
            .http_redirect_port
            .or(file.http_redirect_port)
            .map(|port| SocketAddr::new(bind, port));
        if http_redirect.is_some() && tls.is_none() {
            anyhow::bail!("http_redirect_port needs HTTPS: set tls_cert and tls_key");
        }
        // A flag wins over the file, the file over the built-in default;
        // `key => field, unit` converts a number of seconds or milliseconds.
        macro_rules! pick {
            ($key:ident) => {
                flags.$key.or(file.$key).unwrap_or(defaults.$key)
            };
            ($key:ident => $field:ident, $unit:path) => {
                flags.$key.or(file.$key).map_or(defaults.$field, $unit)
            };
        }
        let server = ServerConfig {
            listeners: listeners(bind, teltonika_port, teltonika_tls_port, &file.listeners)?,
            http: Some(SocketAddr::new(bind, http_port)),
            tls,
            http_redirect,
            handshake_timeout: pick!(handshake_timeout_secs => handshake_timeout, Duration::from_secs),
            status_timeout: pick!(status_timeout_secs => status_timeout, Duration::from_secs),
            shutdown_grace: defaults.shutdown_grace,
            register_unknown: pick!(register_unknown),
            idle_timeout: pick!(idle_timeout_secs => idle_timeout, Duration::from_secs),
            max_frame_bytes: pick!(max_frame_bytes),
            max_connections: pick!(max_connections),
            login_workers: pick!(login_workers),
            login_queue: pick!(login_queue),
            login_queue_timeout: pick!(login_queue_timeout_ms => login_queue_timeout, Duration::from_millis),
            login_concurrency_per_address: pick!(login_concurrency_per_address),
            http_max_connections: pick!(http_max_connections),
            http_header_timeout: pick!(http_header_timeout_secs => http_header_timeout, Duration::from_secs),
            http_idle_timeout: pick!(http_idle_timeout_secs => http_idle_timeout, Duration::from_secs),
            future_fix_limit: pick!(future_fix_limit_secs => future_fix_limit, Duration::from_secs),
            max_speed_knots: pick!(max_speed_knots),
            websocket_max_per_user: pick!(websocket_max_per_user),
            max_read_positions: pick!(max_read_positions),
            max_read_events: pick!(max_read_events),
            trusted_proxies,
            token_default_lifetime,
            credential_purge_interval: defaults.credential_purge_interval,
        };
        Ok(Config {
            store: store.merge(&file, false)?,
            server,
            log: flags
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".to_owned()),
            demo: flags.demo.or(file.demo).unwrap_or(false),
            demo_devices: flags.demo_devices.or(file.demo_devices).unwrap_or(50),
            first_admin: match (
                flags.admin_email.clone().or(file.admin_email),
                flags.admin_password.clone().or(file.admin_password),
            ) {
                (Some(email), Some(password)) => Some((email, password)),
                (Some(_), None) => anyhow::bail!("admin_email is set but admin_password is not"),
                _ => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_flags() -> ServeFlags {
        ServeFlags {
            bind: None,
            http_port: None,
            teltonika_port: None,
            register_unknown: None,
            handshake_timeout_secs: None,
            status_timeout_secs: None,
            idle_timeout_secs: None,
            max_frame_bytes: None,
            max_connections: None,
            log: None,
            demo: None,
            demo_devices: None,
            admin_email: None,
            admin_password: None,
            login_workers: None,
            login_queue: None,
            login_queue_timeout_ms: None,
            login_concurrency_per_address: None,
            trusted_proxies: None,
            token_default_lifetime_days: None,
            http_max_connections: None,
            http_header_timeout_secs: None,
            http_idle_timeout_secs: None,
            future_fix_limit_secs: None,
            max_speed_knots: None,
            websocket_max_per_user: None,
            max_read_positions: None,
            max_read_events: None,
            tls_cert: None,
            tls_key: None,
            http_redirect_port: None,
            teltonika_tls_port: None,
        }
    }

    #[test]
    fn flags_override_file_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trackd.toml");
        std::fs::write(
            &path,
            "http_port = 9000\nteltonika_port = 6000\nregister_unknown = true\n",
        )
        .unwrap();
        let store = StoreArgs {
            config: Some(path),
            data_dir: Some(dir.path().join("data")),
            database: None,
        };
        let mut flags = no_flags();
        flags.http_port = Some(9100);
        let config = Config::load(&store, &flags).unwrap();
        assert_eq!(config.server.http.unwrap().port(), 9100);
        let port = |protocol: &str, transport| {
            config
                .server
                .listeners
                .iter()
                .find(|l| l.protocol == protocol && l.transport == transport)
                .map(|l| l.addr.port())
        };
        assert_eq!(port("teltonika", Transport::Tcp), Some(6000));
        assert_eq!(port("teltonika", Transport::Udp), Some(6000));
        assert!(config.server.register_unknown);
        assert_eq!(config.server.max_frame_bytes, 65536);
        assert!(config.store.url.starts_with("sqlite:"));
    }

    #[test]
    fn listener_entries_set_ports_and_turn_listeners_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trackd.toml");
        std::fs::write(
            &path,
            "[[listeners]]\nprotocol = \"teltonika\"\ntransport = \"tcp\"\nport = 7000\n\n\
             [[listeners]]\nprotocol = \"teltonika\"\ntransport = \"udp\"\nenabled = false\n",
        )
        .unwrap();
        let store = StoreArgs {
            config: Some(path.clone()),
            data_dir: Some(dir.path().join("data")),
            database: None,
        };
        let config = Config::load(&store, &no_flags()).unwrap();
        let teltonika: Vec<_> = config
            .server
            .listeners
            .iter()
            .filter(|l| l.protocol == "teltonika")
            .collect();
        assert_eq!(teltonika.len(), 1);
        assert_eq!(teltonika[0].transport, Transport::Tcp);
        assert_eq!(teltonika[0].addr.port(), 7000);

        std::fs::write(
            &path,
            "[[listeners]]\nprotocol = \"nosuch\"\ntransport = \"tcp\"\n",
        )
        .unwrap();
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(format!("{err:#}").contains("unknown protocol"), "{err:#}");
        std::fs::write(
            &path,
            "[[listeners]]\nprotocol = \"teltonika\"\ntransport = \"http\"\n",
        )
        .unwrap();
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(
            format!("{err:#}").contains("does not speak http"),
            "{err:#}"
        );
    }

    #[test]
    fn login_and_token_keys_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trackd.toml");
        std::fs::write(
            &path,
            "login_workers = 3\nlogin_queue = 7\nlogin_queue_timeout_ms = 1500\n\
             login_concurrency_per_address = 2\n\
             trusted_proxies = [\"127.0.0.1/32\", \"10.0.0.0/8\"]\n\
             token_default_lifetime_days = 30\n",
        )
        .unwrap();
        let store = StoreArgs {
            config: Some(path.clone()),
            data_dir: Some(dir.path().join("data")),
            database: None,
        };
        let config = Config::load(&store, &no_flags()).unwrap();
        assert_eq!(config.server.login_workers, 3);
        assert_eq!(config.server.login_queue, 7);
        assert_eq!(
            config.server.login_queue_timeout,
            Duration::from_millis(1500)
        );
        assert_eq!(config.server.login_concurrency_per_address, 2);
        let proxies: Vec<String> = config
            .server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(
            config.server.token_default_lifetime,
            Some(Duration::from_secs(30 * 24 * 3600))
        );
        // A flag overrides the file; 0 days means tokens never expire.
        let mut flags = no_flags();
        flags.token_default_lifetime_days = Some(0);
        flags.trusted_proxies = Some(vec!["::1".into()]);
        let config = Config::load(&store, &flags).unwrap();
        assert_eq!(config.server.token_default_lifetime, None);
        assert_eq!(config.server.trusted_proxies.len(), 1);
        // Defaults.
        std::fs::write(&path, "").unwrap();
        let config = Config::load(&store, &no_flags()).unwrap();
        assert!(config.server.trusted_proxies.is_empty());
        assert_eq!(
            config.server.token_default_lifetime,
            Some(Duration::from_secs(365 * 24 * 3600))
        );
        assert_eq!(config.server.login_queue, 32);
        // A bad entry is named.
        std::fs::write(&path, "trusted_proxies = [\"proxy.local\"]\n").unwrap();
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(format!("{err:#}").contains("trusted_proxies"), "{err:#}");
    }

    #[test]
    fn tls_keys_are_read_and_udp_tls_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trackd.toml");
        std::fs::write(
            &path,
            "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nhttp_redirect_port = 8080\n\
             teltonika_tls_port = 5028\n\
             [[listeners]]\nprotocol = \"gt06\"\ntransport = \"tcp\"\nport = 5100\ntls = true\n",
        )
        .unwrap();
        let store = StoreArgs {
            config: Some(path.clone()),
            data_dir: Some(dir.path().join("data")),
            database: None,
        };
        let config = Config::load(&store, &no_flags()).unwrap();
        let tls = config.server.tls.clone().unwrap();
        assert_eq!(tls.cert, PathBuf::from("cert.pem"));
        assert_eq!(tls.key, PathBuf::from("key.pem"));
        assert_eq!(config.server.http_redirect.unwrap().port(), 8080);
        let find = |protocol: &str, tls: bool| {
            config
                .server
                .listeners
                .iter()
                .filter(|l| l.protocol == protocol && l.transport == Transport::Tcp && l.tls == tls)
                .map(|l| l.addr.port())
                .collect::<Vec<_>>()
        };
        // Plain and TLS side by side.
        assert_eq!(find("teltonika", false), [5027]);
        assert_eq!(find("teltonika", true), [5028]);
        assert_eq!(find("gt06", false), [5023]);
        assert_eq!(find("gt06", true), [5100]);
        // Flags win over the file.
        let mut flags = no_flags();
        flags.tls_cert = Some(PathBuf::from("other.pem"));
        let config = Config::load(&store, &flags).unwrap();
        assert_eq!(config.server.tls.unwrap().cert, PathBuf::from("other.pem"));

        std::fs::write(
            &path,
            "tls_cert = \"c\"\ntls_key = \"k\"\n\
             [[listeners]]\nprotocol = \"teltonika\"\ntransport = \"udp\"\nport = 5100\ntls = true\n",
        )
        .unwrap();
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(format!("{err:#}").contains("udp cannot use tls"), "{err:#}");
        std::fs::write(&path, "tls_cert = \"c\"\n").unwrap();
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(format!("{err:#}").contains("tls_key is not"), "{err:#}");
        std::fs::write(&path, "http_redirect_port = 80\n").unwrap();
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(format!("{err:#}").contains("needs HTTPS"), "{err:#}");
    }

    #[test]
    fn unknown_keys_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trackd.toml");
        std::fs::write(&path, "htp_port = 1\n").unwrap();
        let store = StoreArgs {
            config: Some(path),
            data_dir: None,
            database: None,
        };
        let err = Config::load(&store, &no_flags()).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"));
    }
}
