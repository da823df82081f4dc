//! Nothing acknowledged is lost: the real `trackd` binary is driven by the
//! simulator, killed with SIGKILL mid-stream, restarted, and every record the
//! simulator saw acknowledged must then be in the store — on SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use support::{free_port, postgres_or_skip, TrackdProcess};
use trackd_model::Timestamp;
use trackd_store::{Store, StoreConfig};

async fn kill_mid_stream_then_verify(store_args: Vec<String>, store_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let ack_log = dir.path().join("acks.log");
    let port = free_port();

    let server = TrackdProcess::serve(port, &store_args);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sim_config = trackd_simulator::SimConfig {
        target: format!("127.0.0.1:{port}"),
        devices: 20,
        rate: 200.0,
        duration: Some(Duration::from_secs(60)),
        records_per_frame: 10,
        imei_base: 356_000_000_000_000,
        seed: 7,
        ack_log: Some(ack_log.clone()),
    };
    let simulator = tokio::spawn(trackd_simulator::run_until(sim_config, |_| {}, async {
        let _ = stop_rx.await;
    }));

    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill();
    let acked_before_kill = count_acked(&ack_log).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = TrackdProcess::serve(port, &store_args);
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill();
    let _ = stop_tx.send(());
    let report = simulator.await.unwrap().unwrap();
    assert!(
        report.records_acked > 0,
        "the simulator got acknowledgements"
    );

    let acked = read_ack_log(&ack_log);
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(
        acked_before_kill > 0,
        "records were acknowledged before the kill"
    );
    assert!(
        total > acked_before_kill,
        "records were acknowledged after the restart"
    );

    let store = Store::open(&StoreConfig {
        url: store_url,
        read_only: false,
    })
    .await
    .unwrap();
    let mut missing = 0usize;
    for (imei, times) in &acked {
        let device = store.device_by_unique_id(imei).await.unwrap().unwrap();
        let stored = store
            .positions(device.id, Timestamp::MIN, Timestamp::MAX)
            .await
            .unwrap();
        let fix_times: Vec<i64> = stored
            .iter()
            .map(|p| p.position.fix_time.as_millis())
            .collect();
        let unique: HashSet<i64> = fix_times.iter().copied().collect();
        assert_eq!(
            unique.len(),
            fix_times.len(),
            "{imei}: resent records stored once"
        );
        missing += times.iter().filter(|t| !unique.contains(t)).count();
    }
    store.close().await.unwrap();
    assert_eq!(
        missing, 0,
        "acknowledged records missing after SIGKILL (of {total})"
    );
    eprintln!("durability: {total} acknowledged records, all present after SIGKILL and restart");
}

async fn count_acked(path: &std::path::Path) -> usize {
    // The simulator flushes its log every second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    read_ack_log(path).values().map(Vec::len).sum()
}

fn read_ack_log(path: &std::path::Path) -> HashMap<String, Vec<i64>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut acked: HashMap<String, Vec<i64>> = HashMap::new();
    for line in text.lines() {
        let Some((imei, times)) = line.split_once(' ') else {
            continue;
        };
        let entry = acked.entry(imei.to_owned()).or_default();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record_postgres() {
    let Some(db) = postgres_or_skip().await else {
        return;
    };
    let args = vec!["--database".to_owned(), db.url.clone()];
    kill_mid_stream_then_verify(args, db.url.clone()).await;
    db.drop_database().await;
}
