//! The tokio driver: many virtual devices reporting to one server.
//!
//! Each device is one task. It connects (staggered, retrying with backoff while
//! the server is down), opens a session in its protocol's dialect (Teltonika
//! IMEI, GT06 login; nothing for HTTP), and then loops: generate the fixes
//! that are due by the wall clock, pack as many as one message holds (up to
//! `records_per_frame`), send it, and wait for the reply that acknowledges it.
//! Like a real device it never has more than one message in flight, and a
//! message whose ACK never came is sent again, unchanged, after reconnecting.
//! Idle GT06 devices send a heartbeat now and then.
//!
//! Counters are shared atomics; ACK latencies go into an HdrHistogram that the
//! coordinator ([`run_until`]) drains once per second for the progress
//! callback and merges into the totals of the final [`Report`].

use std::fmt;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant, MissedTickBehavior};

use crate::dialect::{Acked, Conn, Protocol, Wire};
use crate::vehicle::{Fix, Vehicle};

/// How long a device waits for the IMEI reply or a frame ACK.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First reconnect delay; it doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest reconnect delay: a restarted server sees its devices back within a second or two.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Connects of all devices are spread over at most this long.
const MAX_CONNECT_STAGGER: Duration = Duration::from_secs(2);
/// After the stop, devices may finish waiting for an in-flight ACK this long.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Pause before sending again what the server could not store (HTTP 503).
const RETRY_DELAY: Duration = Duration::from_millis(200);
/// Sessions in a row that a GT06 server closes at login before the device
/// takes it as a refusal (a restarting server closes some too).
const CLOSED_AT_LOGIN_IS_REFUSAL: u32 = 3;
/// Largest ACK latency the histograms track, microseconds.
const MAX_LATENCY_US: u64 = 120_000_000;
/// How many distinct error messages a report keeps.
const MAX_ERROR_SAMPLES: usize = 16;

/// Stop levels sent to the device tasks.
const RUNNING: u8 = 0;
/// Send no new frame, but wait for the ACK of the one in flight.
const STOP: u8 = 1;
/// Drop everything now.
const HARD_STOP: u8 = 2;

/// What to simulate and where to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The protocol every device speaks.
    pub protocol: Protocol,
    /// Server address, `host:port`: the listener of `protocol`.
    pub target: String,
    /// Number of virtual devices.
    pub devices: usize,
    /// Records per second per device (of vehicle time, which is wall time), at most 1000.
    pub rate: f64,
    /// Stop after this long; `None` runs until cancelled.
    pub duration: Option<Duration>,
    /// Most records per message (1..=255), default 10; GT06 packets and
    /// OsmAnd requests carry one.
    pub records_per_frame: usize,
    /// IMEI of device 0; device `i` is `imei_base + i`, 15 digits.
    pub imei_base: u64,
    /// Seed of all vehicle models.
    pub seed: u64,
    /// Append one line per acked message, `<unique id> <ts>,<ts>,...`, to this file.
    pub ack_log: Option<PathBuf>,
    /// An idle GT06 device sends a heartbeat this long after its last packet.
    pub heartbeat: Option<Duration>,
    /// Speak TLS to the target, trusting the CA certificates of this PEM file.
    pub tls_ca: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            protocol: Protocol::Teltonika,
            target: "127.0.0.1:5027".to_owned(),
            devices: 1,
            rate: 1.0,
            duration: None,
            records_per_frame: 10,
            imei_base: 356_000_000_000_000,
            seed: 0,
            ack_log: None,
            heartbeat: Some(Duration::from_secs(30)),
            tls_ca: None,
        }
    }
}

impl SimConfig {
    /// Defaults for everything but the target and the number of devices.
    pub fn new(target: impl Into<String>, devices: usize) -> SimConfig {
        SimConfig {
            target: target.into(),
            devices,
            ..SimConfig::default()
        }
    }

    /// The IMEI of device `index`.
    pub fn imei(&self, index: usize) -> String {
        format!("{:015}", self.imei_base + index as u64)
    }

    fn validate(&self) -> Result<(), SimError> {
        let invalid = |message: &str| Err(SimError::InvalidConfig(message.to_owned()));
        if self.devices == 0 {
            return invalid("devices must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1_000.0) {
            return invalid("rate must be above 0 and at most 1000 records per second");
        }
        if !(1..=255).contains(&self.records_per_frame) {
            return invalid("records per frame must be between 1 and 255");
        }
        if self.protocol.time_step_ms() >= 1_000 && self.rate > 1.0 {
            return invalid("gt06 carries whole seconds: rate must be at most 1 record per second");
        }
        if self.heartbeat.is_some_and(|period| period.is_zero()) {
            return invalid("heartbeat period must be above 0");
        }
        let last_imei = self.imei_base.checked_add(self.devices as u64 - 1);
        if self.imei_base < 100_000_000_000_000
            || last_imei.is_none_or(|imei| imei > 999_999_999_999_999)
        {
            return invalid("imei base plus device count must stay within 15 digits");
        }
        Ok(())
    }
}

/// A once-per-second snapshot for the progress callback.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Records written so far, resends included.
    pub records_sent: u64,
    /// Records acknowledged so far.
    pub records_acked: u64,
    /// Records acknowledged during the last second.
    pub records_acked_last_second: u64,
    /// Median ACK latency over the last second, microseconds (0 if no ACK).
    pub ack_latency_p50_us: u64,
    /// 99th percentile ACK latency over the last second, microseconds.
    pub ack_latency_p99_us: u64,
    /// Devices connected and past the IMEI handshake.
    pub connected_devices: usize,
    /// Device errors so far (broken connections, timeouts, bad ACKs).
    pub errors: u64,
}

/// Totals of a finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The protocol the devices spoke.
    pub protocol: Protocol,
    /// How long the run took.
    pub elapsed: Duration,
    /// Number of simulated devices.
    pub devices: usize,
    /// Records written, resends included.
    pub records_sent: u64,
    /// Records acknowledged.
    pub records_acked: u64,
    /// Messages (Teltonika frames, GT06 packets, HTTP requests) written, resends included.
    pub frames_sent: u64,
    /// Messages acknowledged.
    pub frames_acked: u64,
    /// Messages written again after a broken connection or a busy answer.
    pub frames_resent: u64,
    /// GT06 heartbeats answered.
    pub heartbeats: u64,
    /// Acknowledged records per second over the whole run.
    pub records_per_second: f64,
    /// Median ACK latency, microseconds.
    pub ack_latency_p50_us: u64,
    /// 99th percentile ACK latency, microseconds.
    pub ack_latency_p99_us: u64,
    /// Largest ACK latency, microseconds.
    pub ack_latency_max_us: u64,
    /// Device errors (broken connections, timeouts, bad ACKs).
    pub errors: u64,
    /// Connection attempts that failed (refused, timed out).
    pub connect_failures: u64,
    /// Devices whose IMEI the server refused; they stopped.
    pub refused_devices: u64,
    /// The first few error messages, for the user.
    pub error_samples: Vec<String>,
}

impl fmt::Display for Progress {
    /// One status line, e.g. for a terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6.1}s  sent {}  acked {} ({}/s)  ack p50 {} p99 {}  connected {}  errors {}",
            self.elapsed.as_secs_f64(),
            self.records_sent,
            self.records_acked,
            self.records_acked_last_second,
            Micros(self.ack_latency_p50_us),
            Micros(self.ack_latency_p99_us),
            self.connected_devices,
            self.errors,
        )
    }
}

impl fmt::Display for Report {
    /// A short multi-line summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulated {} {} devices for {:.1}s",
            self.devices,
            self.protocol,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "records: {} sent, {} acked ({:.0} records/s acked)",
            self.records_sent, self.records_acked, self.records_per_second
        )?;
        writeln!(
            f,
            "messages: {} sent, {} acked, {} resent, {} heartbeats",
            self.frames_sent, self.frames_acked, self.frames_resent, self.heartbeats
        )?;
        writeln!(
            f,
            "ack latency: p50 {}, p99 {}, max {}",
            Micros(self.ack_latency_p50_us),
            Micros(self.ack_latency_p99_us),
            Micros(self.ack_latency_max_us)
        )?;
        write!(
            f,
            "errors: {}, failed connects: {}, refused devices: {}",
            self.errors, self.connect_failures, self.refused_devices
        )?;
        for sample in &self.error_samples {
            write!(f, "\n  {sample}")?;
        }
        Ok(())
    }
}

/// Microseconds shown in the most readable unit.
struct Micros(u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0..=999 => write!(f, "{} us", self.0),
            1_000..=999_999 => write!(f, "{:.2} ms", self.0 as f64 / 1_000.0),
            _ => write!(f, "{:.2} s", self.0 as f64 / 1_000_000.0),
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting is out of range.
    #[error("invalid simulator config: {0}")]
    InvalidConfig(String),
    /// The target address could not be resolved.
    #[error("cannot resolve target {target}: {source}")]
    Resolve {
        /// The target as configured.
        target: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The target resolved to no address.
    #[error("target {0} resolves to no address")]
    NoAddress(String),
    /// The ack log could not be opened or written.
    #[error("cannot write ack log {path}: {source}")]
    AckLog {
        /// The log's path.
        path: PathBuf,
        /// The file system's error.
        source: std::io::Error,
    },
    /// The latency histogram could not be created.
    #[error("cannot create latency histogram: {0}")]
    Histogram(String),
    /// The TLS trust anchors or server name are unusable.
    #[error("TLS: {0}")]
    Tls(String),
}

/// TLS to the target: the connector (trusting `tls_ca`) and the name the
/// server's certificate must carry (the target's host).
#[derive(Clone)]
struct TlsTarget {
    connector: tokio_rustls::TlsConnector,
    name: rustls_pki_types::ServerName<'static>,
}

fn tls_target(ca: &std::path::Path, target: &str) -> Result<TlsTarget, SimError> {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(ca)
        .map_err(|err| SimError::Tls(format!("cannot read {}: {err}", ca.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| SimError::Tls(format!("{}: {err}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|err| SimError::Tls(format!("{}: {err}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(SimError::Tls(format!(
            "{}: no CA certificate",
            ca.display()
        )));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| SimError::Tls(err.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // `host:port`, `[v6]:port`: the host part names the server.
    let host = target
        .rsplit_once(':')
        .map_or(target, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|err| SimError::Tls(format!("server name {host:?}: {err}")))?;
    Ok(TlsTarget {
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        name,
    })
}

/// Connects to `address`, over TLS when `tls` is given.
async fn connect(address: SocketAddr, tls: Option<&TlsTarget>) -> std::io::Result<Conn> {
    let stream = TcpStream::connect(address).await?;
    match tls {
        None => Conn::new(stream),
        Some(tls) => {
            stream.set_nodelay(true)?;
            let stream = tls.connector.connect(tls.name.clone(), stream).await?;
            Ok(Conn::over(Box::new(stream)))
        }
    }
}

/// Runs the simulation until `config.duration` has passed (forever if `None`).
pub async fn run(config: SimConfig, progress: impl FnMut(&Progress)) -> Result<Report, SimError> {
    run_until(config, progress, std::future::pending()).await
}

/// Runs the simulation until `config.duration` has passed, `shutdown` completes,
/// or every device has stopped (for example because its IMEI was refused).
///
/// On stop, devices send no new frame but wait (a few seconds at most) for the
/// ACK of the frame in flight, so the counts and the ack log stay consistent.
pub async fn run_until(
    config: SimConfig,
    mut progress: impl FnMut(&Progress),
    shutdown: impl Future<Output = ()>,
) -> Result<Report, SimError> {
    config.validate()?;
    let address = resolve(&config.target).await?;
    let tls = match &config.tls_ca {
        Some(ca) => Some(tls_target(ca, &config.target)?),
        None => None,
    };
    let mut ack_log = match &config.ack_log {
        Some(path) => Some(AckLogFile::open(path.clone())?),
        None => None,
    };
    let shared = Arc::new(Shared::new(ack_log.is_some())?);
    let mut total_latency = new_histogram()?;
    let clock = Clock::now();
    let (stop_sender, stop_receiver) = watch::channel(RUNNING);

    let stagger =
        (Duration::from_millis(2) * config.devices.min(1_000_000) as u32).min(MAX_CONNECT_STAGGER);
    let mut tasks = JoinSet::new();
    for index in 0..config.devices {
        let device = Device::new(&config, index);
        let start_delay = stagger.mul_f64(index as f64 / config.devices as f64);
        let task = run_device(
            device,
            Arc::clone(&shared),
            clock,
            address,
            tls.clone(),
            stop_receiver.clone(),
            start_delay,
        );
        tasks.spawn(task);
    }

    let mut ticker = tokio::time::interval_at(
        clock.base_instant + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = config
        .duration
        .map(|duration| clock.base_instant + duration);
    let mut acked_at_last_tick = 0;
    let mut failure = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let last_second = shared.take_latency(&mut total_latency)?;
                let snapshot = shared.progress(clock.base_instant.elapsed(), &last_second, acked_at_last_tick);
                acked_at_last_tick = snapshot.records_acked;
                if let Some(log) = &mut ack_log {
                    if let Err(error) = log.flush_from(&shared) {
                        failure = Some(error);
                        break;
                    }
                }
                progress(&snapshot);
            }
            _ = sleep_until_deadline(deadline) => break,
            _ = &mut shutdown => break,
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Err(error)) if error.is_panic() => tracing::error!(%error, "simulated device task panicked"),
                Some(_) => {}
            },
        }
    }

    // Let devices finish their frame in flight, then drop whatever is left.
    let _ = stop_sender.send(STOP);
    if timeout(STOP_GRACE, drain(&mut tasks)).await.is_err() {
        let _ = stop_sender.send(HARD_STOP);
        if timeout(Duration::from_secs(1), drain(&mut tasks))
            .await
            .is_err()
        {
            tasks.abort_all();
            drain(&mut tasks).await;
        }
    }

    shared.take_latency(&mut total_latency)?;
    if let Some(log) = &mut ack_log {
        log.flush_from(&shared)?;
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let mut report = shared.report(clock.base_instant.elapsed(), config.devices, &total_latency);
    report.protocol = config.protocol;
    Ok(report)
}

async fn resolve(target: &str) -> Result<SocketAddr, SimError> {
    let mut addresses =
        tokio::net::lookup_host(target)
            .await
            .map_err(|source| SimError::Resolve {
                target: target.to_owned(),
                source,
            })?;
    addresses
        .next()
        .ok_or_else(|| SimError::NoAddress(target.to_owned()))
}

async fn sleep_until_deadline(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn drain(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

/// Resolves once the stop level reaches `level` (or the coordinator is gone).
async fn stopped(stop: &mut watch::Receiver<u8>, level: u8) {
    let _ = stop.wait_for(|current| *current >= level).await;
}

fn new_histogram() -> Result<Histogram<u64>, SimError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|error| SimError::Histogram(error.to_string()))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Maps the tokio clock to Unix milliseconds, fixed at the start of the run.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base_instant: Instant,
    base_unix_ms: u64,
}

impl Clock {
    fn now() -> Clock {
        let base_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        Clock {
            base_instant: Instant::now(),
            base_unix_ms,
        }
    }

    /// Milliseconds since the start of the run.
    fn relative_ms(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.base_instant)
            .as_secs_f64()
            * 1_000.0
    }

    fn instant_at(&self, relative_ms: f64) -> Instant {
        self.base_instant + Duration::from_secs_f64(relative_ms.max(0.0) / 1_000.0)
    }

    fn unix_ms(&self, relative_ms: f64) -> u64 {
        self.base_unix_ms + relative_ms.max(0.0) as u64
    }
}

/// State shared by the device tasks and the coordinator.
struct Shared {
    records_sent: AtomicU64,
    records_acked: AtomicU64,
    frames_sent: AtomicU64,
    frames_acked: AtomicU64,
    frames_resent: AtomicU64,
    heartbeats: AtomicU64,
    errors: AtomicU64,
    connect_failures: AtomicU64,
    refused_devices: AtomicU64,
    connected_devices: AtomicUsize,
    /// ACK latencies since the last progress tick.
    latency: Mutex<Histogram<u64>>,
    /// Ack log lines not yet written to the file.
    ack_log: Option<Mutex<Vec<u8>>>,
    error_samples: Mutex<Vec<String>>,
}

impl Shared {
    fn new(with_ack_log: bool) -> Result<Shared, SimError> {
        Ok(Shared {
            records_sent: AtomicU64::new(0),
            records_acked: AtomicU64::new(0),
            frames_sent: AtomicU64::new(0),
            frames_acked: AtomicU64::new(0),
            frames_resent: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            refused_devices: AtomicU64::new(0),
            connected_devices: AtomicUsize::new(0),
            latency: Mutex::new(new_histogram()?),
            ack_log: with_ack_log.then(|| Mutex::new(Vec::with_capacity(1 << 16))),
            error_samples: Mutex::new(Vec::new()),
        })
    }

    fn note_error(&self, imei: &str, error: &DeviceError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(imei, %error, "simulated device error");
        let message = error.to_string();
        let mut samples = lock(&self.error_samples);
        if samples.len() < MAX_ERROR_SAMPLES
            && !samples.iter().any(|sample| sample.ends_with(&message))
        {
            samples.push(format!("device {imei}: {message}"));
        }
    }

    fn note_ack(&self, imei: &str, timestamps: &[u64], latency: Duration) {
        self.records_acked
            .fetch_add(timestamps.len() as u64, Ordering::Relaxed);
        self.frames_acked.fetch_add(1, Ordering::Relaxed);
        lock(&self.latency).saturating_record((latency.as_micros() as u64).max(1));
        if let Some(ack_log) = &self.ack_log {
            let mut buffer = lock(ack_log);
            buffer.extend_from_slice(imei.as_bytes());
            let mut separator = b' ';
            for timestamp in timestamps {
                buffer.push(separator);
                // Writing to a Vec cannot fail.
                let _ = write!(buffer, "{timestamp}");
                separator = b',';
            }
            buffer.push(b'\n');
        }
    }

    /// Moves the latencies of the last interval into `total` and returns them.
    fn take_latency(&self, total: &mut Histogram<u64>) -> Result<Histogram<u64>, SimError> {
        let fresh = new_histogram()?;
        let last = std::mem::replace(&mut *lock(&self.latency), fresh);
        // Same bounds on both sides, so adding cannot fail.
        let _ = total.add(&last);
        Ok(last)
    }

    fn progress(
        &self,
        elapsed: Duration,
        last_second: &Histogram<u64>,
        acked_before: u64,
    ) -> Progress {
        let records_acked = self.records_acked.load(Ordering::Relaxed);
        Progress {
            elapsed,
            records_sent: self.records_sent.load(Ordering::Relaxed),
            records_acked,
            records_acked_last_second: records_acked.saturating_sub(acked_before),
            ack_latency_p50_us: quantile(last_second, 0.5),
            ack_latency_p99_us: quantile(last_second, 0.99),
            connected_devices: self.connected_devices.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    fn report(&self, elapsed: Duration, devices: usize, latency: &Histogram<u64>) -> Report {
        let records_acked = self.records_acked.load(Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        Report {
            elapsed,
            devices,
            records_sent: self.records_sent.load(Ordering::Relaxed),
            records_acked,
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            frames_acked: self.frames_acked.load(Ordering::Relaxed),
            frames_resent: self.frames_resent.load(Ordering::Relaxed),
            heartbeats: self.heartbeats.load(Ordering::Relaxed),
            records_per_second: if seconds > 0.0 {
                records_acked as f64 / seconds
            } else {
                0.0
            },
            ack_latency_p50_us: quantile(latency, 0.5),
            ack_latency_p99_us: quantile(latency, 0.99),
            ack_latency_max_us: if latency.is_empty() { 0 } else { latency.max() },
            errors: self.errors.load(Ordering::Relaxed),
            connect_failures: self.connect_failures.load(Ordering::Relaxed),
            refused_devices: self.refused_devices.load(Ordering::Relaxed),
            error_samples: lock(&self.error_samples).clone(),
            ..Report::default()
        }
    }
}

fn quantile(histogram: &Histogram<u64>, quantile: f64) -> u64 {
    if histogram.is_empty() {
        0
    } else {
        histogram.value_at_quantile(quantile)
    }
}

/// The ack log file; lines are buffered in [`Shared`] and written once a second.
struct AckLogFile {
    path: PathBuf,
    file: File,
    spare: Vec<u8>,
}

impl AckLogFile {
    fn open(path: PathBuf) -> Result<AckLogFile, SimError> {
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(file) => Ok(AckLogFile {
                path,
                file,
                spare: Vec::with_capacity(1 << 16),
            }),
            Err(source) => Err(SimError::AckLog { path, source }),
        }
    }

    fn flush_from(&mut self, shared: &Shared) -> Result<(), SimError> {
        let Some(buffer) = &shared.ack_log else {
            return Ok(());
        };
        std::mem::swap(&mut *lock(buffer), &mut self.spare);
        let written = self
            .file
            .write_all(&self.spare)
            .and_then(|()| self.file.flush());
        self.spare.clear();
        written.map_err(|source| SimError::AckLog {
            path: self.path.clone(),
            source,
        })
    }
}

/// Why a device session ended with an error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeviceError {
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected imei reply {0:#04x}")]
    BadHandshake(u8),
    #[error("no reply within {0:?}")]
    ReplyTimeout(Duration),
    #[error("server acked {acked} records of {sent}")]
    AckMismatch { sent: u32, acked: u32 },
    #[error("server answered serial {echoed} to packet {sent}")]
    SerialMismatch { sent: u16, echoed: u16 },
    #[error("unreadable reply: {0}")]
    BadReply(String),
    #[error("server rejected the request with {status}: {body}")]
    Rejected { status: u16, body: String },
}

/// How a device session ended without an error.
enum SessionEnd {
    /// The run is stopping.
    Stopped,
    /// The server refused the device.
    Refused,
    /// The server closed the session at login (GT06's refusal, or a restart).
    ClosedAtLogin,
    /// The server asked for a new connection.
    Reconnect,
}

/// Counts a device as connected while alive.
struct ConnectedGuard<'a>(&'a AtomicUsize);

impl<'a> ConnectedGuard<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        ConnectedGuard(counter)
    }
}

impl Drop for ConnectedGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One virtual device: its vehicle, its record schedule and its unacked message.
struct Device {
    imei: String,
    seed: u64,
    vehicle: Option<Vehicle>,
    wire: Wire,
    rng: SmallRng,
    /// Milliseconds between records.
    record_interval_ms: f64,
    /// When the next record is due, milliseconds since the start of the run.
    next_record_ms: f64,
    /// Earliest time to send a message that is not full.
    next_send_ms: f64,
    /// Longest wait to fill a message.
    send_period_ms: f64,
    /// The finest time step of the protocol; timestamps are multiples of it.
    time_step_ms: u64,
    last_timestamp_ms: u64,
    records_per_frame: usize,
    /// An idle device sends a heartbeat this long after its last message.
    heartbeat_ms: Option<f64>,
    /// When the last message or heartbeat went out, milliseconds since the start.
    last_sent_ms: f64,
    /// Fixes of `pending_frame`, reused from message to message.
    fixes: Vec<Fix>,
    /// The encoded message waiting for its ACK; empty when none is.
    pending_frame: Vec<u8>,
    /// Timestamps of the records in `pending_frame`.
    pending_timestamps: Vec<u64>,
    /// Whether `pending_frame` was written at least once.
    pending_written: bool,
}

impl Device {
    fn new(config: &SimConfig, index: usize) -> Device {
        let imei = config.imei(index);
        let seed = splitmix64(config.seed ^ splitmix64(index as u64));
        let record_interval_ms = 1_000.0 / config.rate;
        let records_per_frame = config
            .records_per_frame
            .clamp(1, config.protocol.max_records_per_message());
        Device {
            imei,
            seed,
            vehicle: None,
            wire: Wire::new(config.protocol, &config.target),
            rng: SmallRng::seed_from_u64(!seed),
            record_interval_ms,
            next_record_ms: 0.0,
            next_send_ms: 0.0,
            // Fill messages, but keep the map live: wait at most a second (or one record).
            send_period_ms: (record_interval_ms * records_per_frame as f64).min(1_000.0),
            time_step_ms: config.protocol.time_step_ms(),
            last_timestamp_ms: 0,
            records_per_frame,
            heartbeat_ms: config
                .heartbeat
                .filter(|_| config.protocol == Protocol::Gt06)
                .map(|period| period.as_secs_f64() * 1_000.0),
            last_sent_ms: 0.0,
            fixes: Vec::with_capacity(records_per_frame),
            pending_frame: Vec::new(),
            pending_timestamps: Vec::with_capacity(records_per_frame),
            pending_written: false,
        }
    }

    /// Switches the vehicle on; from now on records fall due whether connected or not.
    fn start(&mut self, clock: &Clock) {
        let now_ms = clock.relative_ms(Instant::now());
        self.next_record_ms = now_ms;
        self.next_send_ms = now_ms;
        self.last_sent_ms = now_ms;
        self.vehicle = Some(Vehicle::new(self.seed, clock.unix_ms(now_ms)));
    }

    /// When the next message should be built, milliseconds since the start of the run.
    fn next_frame_due_ms(&self) -> f64 {
        let frame_full_ms =
            self.next_record_ms + (self.records_per_frame - 1) as f64 * self.record_interval_ms;
        frame_full_ms.min(self.next_send_ms.max(self.next_record_ms))
    }

    /// When an idle device owes a heartbeat, if its protocol has them.
    fn next_heartbeat_due_ms(&self) -> Option<f64> {
        self.heartbeat_ms
            .filter(|_| self.wire.has_heartbeat())
            .map(|period| self.last_sent_ms + period)
    }

    /// The timestamp of a record due at `relative_ms`: on the protocol's
    /// time step, and after the previous record.
    fn timestamp_at(&self, clock: &Clock, relative_ms: f64) -> u64 {
        let step = self.time_step_ms.max(1);
        let on_step = clock.unix_ms(relative_ms) / step * step;
        on_step.max(self.last_timestamp_ms + step)
    }

    /// Generates the records due by `now_ms` (at most a message's worth) and encodes them.
    fn build_frame(&mut self, clock: &Clock, now_ms: f64) {
        if self.vehicle.is_none() {
            return;
        }
        self.pending_timestamps.clear();
        self.fixes.clear();
        while self.pending_timestamps.len() < self.records_per_frame
            && self.next_record_ms <= now_ms
        {
            let timestamp_ms = self.timestamp_at(clock, self.next_record_ms);
            let Some(vehicle) = &mut self.vehicle else {
                return;
            };
            vehicle.advance_to(timestamp_ms);
            self.fixes.push(vehicle.fix());
            self.pending_timestamps.push(timestamp_ms);
            self.last_timestamp_ms = timestamp_ms;
            self.next_record_ms += self.record_interval_ms;
        }
        self.wire
            .encode(&self.imei, &self.fixes, &mut self.pending_frame);
        self.pending_written = false;
        self.next_send_ms = now_ms + self.send_period_ms;
    }

    fn backoff_with_jitter(&mut self, backoff: Duration) -> Duration {
        backoff.mul_f64(self.rng.gen_range(0.5..1.5))
    }

    /// One connection: open the session, then messages until an error or the stop.
    async fn session(
        &mut self,
        conn: &mut Conn,
        shared: &Shared,
        clock: &Clock,
        stop: &mut watch::Receiver<u8>,
        acked_any: &mut bool,
    ) -> Result<SessionEnd, DeviceError> {
        let opened = tokio::select! {
            opened = timeout(REPLY_TIMEOUT, self.wire.open(conn, &self.imei)) => {
                opened.map_err(|_| DeviceError::ReplyTimeout(REPLY_TIMEOUT))??
            }
            _ = stopped(stop, STOP) => return Ok(SessionEnd::Stopped),
        };
        if !opened {
            return Ok(if self.wire.has_heartbeat() {
                SessionEnd::ClosedAtLogin
            } else {
                SessionEnd::Refused
            });
        }
        let _connected = ConnectedGuard::new(&shared.connected_devices);

        loop {
            if self.pending_frame.is_empty() {
                let now_ms = loop {
                    let now_ms = clock.relative_ms(Instant::now());
                    let due_ms = self.next_frame_due_ms();
                    if now_ms >= due_ms {
                        break now_ms;
                    }
                    let heartbeat_ms = self.next_heartbeat_due_ms().filter(|at| *at < due_ms);
                    if let Some(at) = heartbeat_ms.filter(|at| now_ms >= *at) {
                        self.send_heartbeat(conn, shared, stop, now_ms.max(at))
                            .await?;
                        continue;
                    }
                    let wake_ms = heartbeat_ms.unwrap_or(due_ms);
                    tokio::select! {
                        _ = sleep_until(clock.instant_at(wake_ms)) => {}
                        _ = stopped(stop, STOP) => return Ok(SessionEnd::Stopped),
                    }
                };
                self.build_frame(clock, now_ms);
                if self.pending_frame.is_empty() {
                    continue;
                }
            } else if *stop.borrow() >= STOP {
                return Ok(SessionEnd::Stopped);
            }

            let n_records = self.pending_timestamps.len();
            if self.pending_written {
                shared.frames_resent.fetch_add(1, Ordering::Relaxed);
            }
            self.pending_written = true;
            shared.frames_sent.fetch_add(1, Ordering::Relaxed);
            shared
                .records_sent
                .fetch_add(n_records as u64, Ordering::Relaxed);
            self.last_sent_ms = clock.relative_ms(Instant::now());
            let wire = &mut self.wire;
            let frame = &self.pending_frame;
            let exchange = async {
                conn.write_all(frame).await?;
                let written_at = Instant::now();
                let acked = wire.await_ack(conn, n_records).await?;
                Ok::<_, DeviceError>((acked, written_at.elapsed()))
            };
            let (acked, latency) = tokio::select! {
                result = timeout(REPLY_TIMEOUT, exchange) => result.map_err(|_| DeviceError::ReplyTimeout(REPLY_TIMEOUT))??,
                _ = stopped(stop, HARD_STOP) => return Ok(SessionEnd::Stopped),
            };
            match acked {
                Acked::Yes => {
                    shared.note_ack(&self.imei, &self.pending_timestamps, latency);
                    self.pending_frame.clear();
                    *acked_any = true;
                }
                Acked::Retry => {
                    let delay = self.backoff_with_jitter(RETRY_DELAY);
                    tokio::select! {
                        _ = sleep(delay) => {}
                        _ = stopped(stop, STOP) => return Ok(SessionEnd::Stopped),
                    }
                }
                Acked::Refused => return Ok(SessionEnd::Refused),
                Acked::Rejected(error) => {
                    shared.note_error(&self.imei, &error);
                    self.pending_frame.clear();
                }
            }
            if self.wire.must_reconnect() {
                return Ok(SessionEnd::Reconnect);
            }
        }
    }

    /// One heartbeat with the vehicle's status as of `at_ms`, and its answer.
    async fn send_heartbeat(
        &mut self,
        conn: &mut Conn,
        shared: &Shared,
        stop: &mut watch::Receiver<u8>,
        at_ms: f64,
    ) -> Result<(), DeviceError> {
        self.last_sent_ms = at_ms;
        let Some(fix) = self.vehicle.as_ref().map(Vehicle::fix) else {
            return Ok(());
        };
        let wire = &mut self.wire;
        tokio::select! {
            result = timeout(REPLY_TIMEOUT, wire.heartbeat(conn, &fix)) => {
                result.map_err(|_| DeviceError::ReplyTimeout(REPLY_TIMEOUT))??;
            }
            _ = stopped(stop, HARD_STOP) => return Ok(()),
        }
        shared.heartbeats.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One device task: connect, run sessions, reconnect with backoff until stopped.
async fn run_device(
    mut device: Device,
    shared: Arc<Shared>,
    clock: Clock,
    address: SocketAddr,
    tls: Option<TlsTarget>,
    mut stop: watch::Receiver<u8>,
    start_delay: Duration,
) {
    tokio::select! {
        _ = sleep(start_delay) => {}
        _ = stopped(&mut stop, STOP) => return,
    }
    device.start(&clock);
    let mut backoff = INITIAL_BACKOFF;
    let mut closed_at_login = 0;
    loop {
        let connect = timeout(CONNECT_TIMEOUT, connect(address, tls.as_ref()));
        let connected = tokio::select! {
            connected = connect => connected,
            _ = stopped(&mut stop, STOP) => return,
        };
        match connected {
            Ok(Ok(mut conn)) => {
                let mut acked_any = false;
                let outcome = device
                    .session(&mut conn, &shared, &clock, &mut stop, &mut acked_any)
                    .await;
                if acked_any {
                    backoff = INITIAL_BACKOFF;
                }
                match outcome {
                    Ok(SessionEnd::Stopped) => return,
                    Ok(SessionEnd::Reconnect) => continue,
                    Ok(SessionEnd::ClosedAtLogin)
                        if closed_at_login + 1 < CLOSED_AT_LOGIN_IS_REFUSAL =>
                    {
                        closed_at_login += 1;
                        tracing::debug!(imei = device.imei, "server closed at login");
                    }
                    Ok(SessionEnd::Refused | SessionEnd::ClosedAtLogin) => {
                        tracing::debug!(imei = device.imei, "server refused the device");
                        shared.refused_devices.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(error) => {
                        closed_at_login = 0;
                        shared.note_error(&device.imei, &error);
                    }
                }
            }
            // The server may be restarting: retry quietly, with backoff.
            Ok(Err(error)) => {
                shared.connect_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(imei = device.imei, %error, "connect failed");
            }
            Err(_) => {
                shared.connect_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(imei = device.imei, "connect timed out");
            }
        }
        let delay = device.backoff_with_jitter(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
        tokio::select! {
            _ = sleep(delay) => {}
            _ = stopped(&mut stop, STOP) => return,
        }
    }
}

/// SplitMix64: spreads nearby seeds (seed, seed + 1) over unrelated streams.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(rate: f64, records_per_frame: usize) -> (Device, Clock) {
        let config = SimConfig {
            rate,
            records_per_frame,
            ..SimConfig::new("127.0.0.1:1", 1)
        };
        let clock = Clock {
            base_instant: Instant::now(),
            base_unix_ms: 1_700_000_000_000,
        };
        let mut device = Device::new(&config, 0);
        device.vehicle = Some(Vehicle::new(device.seed, clock.unix_ms(0.0)));
        (device, clock)
    }

    #[test]
    fn high_rate_fills_frames_before_sending() {
        let (mut device, clock) = device(100.0, 10);
        // The first record goes out at once, so the map shows the device early.
        assert_eq!(device.next_frame_due_ms(), 0.0);
        device.build_frame(&clock, 0.0);
        assert_eq!(device.pending_timestamps, vec![1_700_000_000_000]);
        // Then frames wait until they are full: records at 10..=100 ms.
        assert_eq!(device.next_frame_due_ms(), 100.0);
        device.build_frame(&clock, 100.0);
        let expected: Vec<u64> = (1..=10)
            .map(|index| 1_700_000_000_000 + index * 10)
            .collect();
        assert_eq!(device.pending_timestamps, expected);
        assert_eq!(device.pending_frame[8], 0x8E, "codec 8 extended");
        assert_eq!(device.pending_frame[9], 10, "n1");
        assert_eq!(device.next_frame_due_ms(), 200.0);
    }

    #[test]
    fn low_rate_sends_each_record_within_a_second() {
        let (mut device, clock) = device(1.0, 10);
        assert_eq!(device.next_frame_due_ms(), 0.0);
        device.build_frame(&clock, 0.0);
        assert_eq!(device.pending_timestamps.len(), 1);
        assert_eq!(device.next_frame_due_ms(), 1_000.0);
        device.build_frame(&clock, 1_000.0);
        assert_eq!(device.pending_timestamps, vec![1_700_000_001_000]);
    }

    #[test]
    fn backlog_goes_out_in_full_frames_oldest_first() {
        let (mut device, clock) = device(10.0, 10);
        // The server was away for 5 s: 51 records are due; the last waits for company.
        let mut sent = Vec::new();
        while device.next_frame_due_ms() <= 5_000.0 {
            device.build_frame(&clock, 5_000.0);
            assert!(device.pending_timestamps.len() <= 10);
            sent.extend_from_slice(&device.pending_timestamps);
        }
        assert_eq!(sent.len(), 50);
        assert!(sent.windows(2).all(|pair| pair[1] == pair[0] + 100));
    }

    #[test]
    fn progress_and_report_print_readably() {
        let progress = Progress {
            elapsed: Duration::from_secs(3),
            records_sent: 300,
            records_acked: 290,
            records_acked_last_second: 100,
            ack_latency_p50_us: 150,
            ack_latency_p99_us: 2_500,
            connected_devices: 10,
            errors: 0,
        };
        assert_eq!(
            progress.to_string(),
            "   3.0s  sent 300  acked 290 (100/s)  ack p50 150 us p99 2.50 ms  connected 10  errors 0"
        );
        let report = Report {
            devices: 2,
            error_samples: vec!["device 356000000000001: server acked 3 records of 10".to_owned()],
            ..Report::default()
        };
        let text = report.to_string();
        assert!(
            text.starts_with("simulated 2 teltonika devices for 0.0s\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\n  device 356000000000001: server acked 3 records of 10"),
            "{text}"
        );
    }

    #[test]
    fn gt06_records_fall_on_whole_distinct_seconds_one_per_packet() {
        let config = SimConfig {
            protocol: Protocol::Gt06,
            rate: 1.0,
            records_per_frame: 10,
            ..SimConfig::new("127.0.0.1:1", 1)
        };
        let clock = Clock {
            base_instant: Instant::now(),
            base_unix_ms: 1_700_000_000_400,
        };
        let mut device = Device::new(&config, 0);
        device.vehicle = Some(Vehicle::new(device.seed, clock.unix_ms(0.0)));
        let mut sent = Vec::new();
        // A backlog of ten seconds still goes out one fix per packet.
        while device.next_frame_due_ms() <= 10_000.0 {
            device.build_frame(&clock, 10_000.0);
            assert_eq!(device.pending_timestamps.len(), 1);
            assert_eq!(device.pending_frame[..2], [0x78, 0x78]);
            sent.extend_from_slice(&device.pending_timestamps);
        }
        assert_eq!(sent.len(), 11);
        assert!(sent.iter().all(|t| t % 1_000 == 0), "{sent:?}");
        assert!(sent.windows(2).all(|pair| pair[1] == pair[0] + 1_000));
    }

    #[test]
    fn heartbeats_only_for_gt06() {
        let gt06 = SimConfig {
            protocol: Protocol::Gt06,
            heartbeat: Some(Duration::from_secs(5)),
            ..SimConfig::new("127.0.0.1:1", 1)
        };
        assert_eq!(Device::new(&gt06, 0).next_heartbeat_due_ms(), Some(5_000.0));
        let osmand = SimConfig {
            protocol: Protocol::Osmand,
            ..gt06
        };
        assert_eq!(Device::new(&osmand, 0).next_heartbeat_due_ms(), None);
    }

    #[test]
    fn imeis_have_fifteen_digits() {
        let config = SimConfig::new("127.0.0.1:1", 3);
        assert_eq!(config.imei(2), "356000000000002");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn nearby_seeds_give_unrelated_vehicles() {
        let first = Device::new(
            &SimConfig {
                seed: 1,
                ..SimConfig::default()
            },
            0,
        );
        let second = Device::new(
            &SimConfig {
                seed: 0,
                ..SimConfig::default()
            },
            1,
        );
        assert_ne!(first.seed, second.seed);
    }
}
