//! Nothing acknowledged is lost: the real `trackd` binary is driven by the
//! simulator — Teltonika, GT06 and OsmAnd devices at once — killed with
//! SIGKILL mid-stream, restarted, and every record the simulator saw
//! acknowledged must then be in the store, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{postgres_or_skip, DevicePorts, TrackdProcess};
use trackd_model::Timestamp;
use trackd_simulator::{Protocol, Report, SimConfig};
use trackd_store::{Store, StoreConfig};

/// One simulated fleet of the scenario.
struct Fleet {
    protocol: Protocol,
    ack_log: PathBuf,
}

/// The fleets: a Teltonika fleet batching frames, GT06 trackers at their
/// whole-second pace with a heartbeat between packets, and OsmAnd phones
/// with one HTTP request per location.
fn fleet_configs(
    ports: &DevicePorts,
    dir: &Path,
    tls_ca: Option<&Path>,
) -> Vec<(Fleet, SimConfig)> {
    let fleet = |protocol: Protocol, port: u16, devices, rate, imei_base| {
        let ack_log = dir.join(format!("acks-{protocol}.log"));
        let config = SimConfig {
            protocol,
            target: format!("127.0.0.1:{port}"),
            devices,
            rate,
            duration: Some(Duration::from_secs(60)),
            records_per_frame: 10,
            imei_base,
            seed: 7,
            ack_log: Some(ack_log.clone()),
            heartbeat: Some(Duration::from_secs(1)),
            tls_ca: tls_ca.map(Path::to_owned),
        };
        (Fleet { protocol, ack_log }, config)
    };
    vec![
        fleet(
            Protocol::Teltonika,
            ports.teltonika,
            20,
            200.0,
            356_000_000_000_000,
        ),
        fleet(Protocol::Gt06, ports.gt06, 30, 0.5, 357_000_000_000_000),
        fleet(
            Protocol::Osmand,
            ports.osmand,
            20,
            10.0,
            358_000_000_000_000,
        ),
    ]
}

async fn kill_mid_stream_then_verify(store_args: Vec<String>, store_url: String) {
    kill_mid_stream_then_verify_over(store_args, store_url, false).await;
}

/// The test CA's and the server's PEM files (certificate for 127.0.0.1),
/// written into `dir`: (CA, certificate, key).
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "trackd durability CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "trackd durability");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// The scenario; with `tls` every device stream (Teltonika and GT06 TCP,
/// OsmAnd HTTP) is TLS.
async fn kill_mid_stream_then_verify_over(store_args: Vec<String>, store_url: String, tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let ports = DevicePorts::free();
    let pki = tls.then(|| test_pki(dir.path()));
    let server_tls = pki
        .as_ref()
        .map(|(_, cert, key)| (cert.as_path(), key.as_path()));
    let tls_ca = pki.as_ref().map(|(ca, _, _)| ca.as_path());

    let server = TrackdProcess::serve_tls(&ports, dir.path(), &store_args, server_tls);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut fleets = Vec::new();
    let mut simulators = Vec::new();
    for (fleet, config) in fleet_configs(&ports, dir.path(), tls_ca) {
        let mut stop = stop_rx.clone();
        simulators.push(tokio::spawn(trackd_simulator::run_until(
            config,
            |_| {},
            async move {
                let _ = stop.wait_for(|stop| *stop).await;
            },
        )));
        fleets.push(fleet);
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill();
    // The simulator flushes its logs every second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let acked_before_kill: Vec<usize> = fleets
        .iter()
        .map(|f| count(&read_ack_log(&f.ack_log)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = TrackdProcess::serve_tls(&ports, dir.path(), &store_args, server_tls);
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill();
    let _ = stop_tx.send(true);
    let mut reports: Vec<Report> = Vec::new();
    for simulator in simulators {
        reports.push(simulator.await.unwrap().unwrap());
    }

    let store = Store::open(&StoreConfig {
        url: store_url,
        read_only: false,
    })
    .await
    .unwrap();
    for ((fleet, report), before_kill) in fleets.iter().zip(&reports).zip(acked_before_kill) {
        let protocol = fleet.protocol;
        let acked = read_ack_log(&fleet.ack_log);
        let total = count(&acked);
        assert!(
            report.records_acked > 0,
            "{protocol}: the simulator got acknowledgements"
        );
        assert!(
            before_kill > 0,
            "{protocol}: records were acknowledged before the kill"
        );
        assert!(
            total > before_kill,
            "{protocol}: records were acknowledged after the restart ({total} vs {before_kill})"
        );
        if protocol == Protocol::Gt06 {
            assert!(
                report.heartbeats > 0,
                "gt06 heartbeats were answered: {report:?}"
            );
        }
        let mut missing = 0usize;
        for (unique_id, times) in &acked {
            let device = store.device_by_unique_id(unique_id).await.unwrap().unwrap();
            let stored = store
                .positions(device.id, Timestamp::MIN, Timestamp::MAX)
                .await
                .unwrap();
            // GT06 heartbeats are stored too, as invalid positions at the last
            // fix's time; the resend check is about the fixes themselves.
            let fix_times: Vec<i64> = stored
                .iter()
                .filter(|p| p.position.valid)
                .map(|p| p.position.fix_time.as_millis())
                .collect();
            let unique: HashSet<i64> = fix_times.iter().copied().collect();
            assert_eq!(
                unique.len(),
                fix_times.len(),
                "{protocol} {unique_id}: resent records stored once"
            );
            missing += times.iter().filter(|t| !unique.contains(t)).count();
        }
        assert_eq!(
            missing, 0,
            "{protocol}: acknowledged records missing after SIGKILL (of {total})"
        );
        eprintln!(
            "durability {protocol} (tls: {tls}): {total} acknowledged records ({} resent), all present after SIGKILL and restart",
            report.frames_resent
        );
    }
    store.close().await.unwrap();
}

fn count(acked: &HashMap<String, Vec<i64>>) -> usize {
    acked.values().map(Vec::len).sum()
}

fn read_ack_log(path: &Path) -> HashMap<String, Vec<i64>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut acked: HashMap<String, Vec<i64>> = HashMap::new();
    for line in text.lines() {
        let Some((unique_id, times)) = line.split_once(' ') else {
            continue;
        };
        let entry = acked.entry(unique_id.to_owned()).or_default();
        entry.extend(
            times
                .split(',')
                .filter_map(|t| t.trim().parse::<i64>().ok()),
        );
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
    let url = format!("sqlite:{}", data_dir.join("trackd.db").display());
    kill_mid_stream_then_verify(args, url).await;
}

/// The same scenario with every device stream over TLS (`trackd simulate
/// --tls-ca` against `tls = true` listeners).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record_over_tls_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
    let url = format!("sqlite:{}", data_dir.join("trackd.db").display());
    kill_mid_stream_then_verify_over(args, url, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record_postgres() {
    let Some(db) = postgres_or_skip().await else {
        return;
    };
    let args = vec!["--database".to_owned(), db.url.clone()];
    kill_mid_stream_then_verify(args, db.url.clone()).await;
    db.drop_database().await;
}

/// Over TLS on PostgreSQL too: the acknowledgement still waits for the
/// commit whatever the transport.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record_over_tls_postgres() {
    let Some(db) = postgres_or_skip().await else {
        return;
    };
    let args = vec!["--database".to_owned(), db.url.clone()];
    kill_mid_stream_then_verify_over(args, db.url.clone(), true).await;
    db.drop_database().await;
}
