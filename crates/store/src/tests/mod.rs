//! The store contract suite, run against every backend by
//! [`store_test_suite!`], plus codec property tests.

mod accounts;
mod append;
mod codec;
mod contract;
mod events;
mod latest;
mod permissions;
mod purge;
mod registry_seam;

use std::sync::atomic::{AtomicU64, Ordering};

use trackd_model::{AttrKey, AttrValue, Attributes, KnownKey, Position, Protocol, Timestamp};

use crate::{Store, StoreConfig};

/// A backend under test: its configuration and whatever keeps it alive.
pub(crate) struct Harness {
    pub(crate) config: StoreConfig,
    _guard: Guard,
}

/// Dropped with the harness: removes the temporary directory or database.
#[allow(dead_code)]
enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

impl Harness {
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.config).await.expect("open store")
    }

    pub(crate) async fn open_read_only(&self) -> Store {
        let config = StoreConfig {
            read_only: true,
            ..self.config.clone()
        };
        Store::open(&config).await.expect("open read-only store")
    }
}

pub(crate) async fn sqlite_harness() -> Option<Harness> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("trackd.db").display());
    Some(Harness {
        config: StoreConfig::new(url),
        _guard: Guard::Sqlite(dir),
    })
}

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A throwaway database, dropped (with its connections) when the test ends,
/// also when it panics.
struct PgDatabase {
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(PG_ADMIN_URL).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) async fn postgres_harness() -> Option<Harness> {
    use sqlx::Connection as _;
    let required = std::env::var_os("TRACKD_REQUIRE_PG").is_some();
    let connect = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::PgConnection::connect(PG_ADMIN_URL),
    );
    let mut conn = match connect.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) if !required => {
            eprintln!("skipped: postgres unreachable ({error})");
            return None;
        }
        Err(_) if !required => {
            eprintln!("skipped: postgres unreachable (timeout)");
            return None;
        }
        Ok(Err(error)) => panic!("postgres required (TRACKD_REQUIRE_PG) but unreachable: {error}"),
        Err(_) => panic!("postgres required (TRACKD_REQUIRE_PG) but connecting timed out"),
    };
    let name = format!("trackd_test_{}", unique_suffix());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    Some(Harness {
        config: StoreConfig::new(url),
        _guard: Guard::Postgres(PgDatabase { name }),
    })
}

/// A typical Teltonika record: about ten IO elements (small ints, the
/// ignition and motion bools, power as a decimal, sat/priority/event).
pub(crate) fn typical_position(fix_ms: i64, k: i64) -> Position {
    let mut attributes = Attributes::new();
    attributes.push(AttrKey::Known(KnownKey::Priority), AttrValue::Int(0));
    attributes.push(AttrKey::Known(KnownKey::Sat), AttrValue::Int(9 + k % 3));
    attributes.push(AttrKey::Known(KnownKey::Event), AttrValue::Int(0));
    attributes.push(AttrKey::Known(KnownKey::Ignition), AttrValue::Bool(true));
    attributes.push(
        AttrKey::Known(KnownKey::Motion),
        AttrValue::Bool(k % 7 != 0),
    );
    attributes.push(
        AttrKey::Known(KnownKey::Power),
        AttrValue::Decimal {
            raw: 12_400 + (k % 5) * 13,
            scale: 3,
        },
    );
    attributes.push(AttrKey::Io(21), AttrValue::Int(3 + k % 2));
    attributes.push(AttrKey::Io(69), AttrValue::Int(1));
    attributes.push(AttrKey::Io(181), AttrValue::Int(7 + k % 4));
    attributes.push(AttrKey::Io(182), AttrValue::Int(5 + k % 3));
    attributes.push(AttrKey::Io(200), AttrValue::Int(0));
    Position {
        protocol: Protocol::Teltonika,
        fix_time: Timestamp::from_millis(fix_ms),
        device_time: Timestamp::from_millis(fix_ms),
        server_time: Timestamp::from_millis(fix_ms + 400 + k % 50),
        valid: true,
        latitude: (546_872_000 + k * 1_337) as f64 / 1e7,
        longitude: (252_796_000 - k * 977) as f64 / 1e7,
        altitude: (1_120 + k % 9) as f64 / 10.0,
        speed: (k % 90) as f64 / 3.6,
        course: ((k * 700) % 36_000) as f64 / 100.0,
        attributes,
    }
}

/// Instantiates every contract test for one backend.
macro_rules! store_test_suite {
    ($backend:ident, $harness:path) => {
        mod $backend {
            store_test_suite!(@tests $harness; contract:
                devices_add_conflict_lookup,
                append_and_range_out_of_order,
                duplicates_stored_once,
                duplicates_within_one_append,
                ids_stable_and_position_by_id,
                append_returns_ids,
                latest_position,
                reopen_keeps_everything,
                concurrent_appenders,
                attribute_values_round_trip,
                read_only_sees_data,
                append_to_unknown_device_fails,
                closed_store_refuses_writes,
                random_history_matches_model,
                reads_during_compaction_see_everything_once,
            );
            store_test_suite!(@tests $harness; accounts:
                users_crud_and_email_conflict,
                devices_crud_with_fields,
                groups_tree_and_cycles,
                geofences_crud,
                tokens_and_sessions,
                server_settings_round_trip,
                read_only_store_writes_registry,
                upgrade_from_v1,
                password_change_ends_other_credentials,
                expired_credentials_are_purged,
            );
            store_test_suite!(@tests $harness; permissions:
                links_idempotent_and_checked,
                permitted_resolves_groups_and_managers,
                managers_of_follows_the_tree_upwards,
            );
            store_test_suite!(@tests $harness; registry_seam:
                registry_schema_written_once,
                parameters_bound_by_number,
            );
            store_test_suite!(@tests $harness; events:
                events_insert_and_range,
                events_paged_and_counted,
                unknown_stored_event_type_is_corrupt,
            );
            store_test_suite!(@tests $harness; append:
                duplicates_flagged_before_commit,
                events_commit_with_positions,
            );
            store_test_suite!(@tests $harness; latest:
                latest_ignores_resends_and_later_arrivals_at_the_same_time,
                latest_skips_implausible_records,
                latest_follows_purges,
                latest_filled_when_upgrading,
            );
            store_test_suite!(@tests $harness; purge:
                purge_before_time_keeps_the_rest,
                purge_one_device_and_ids_not_reused,
                purge_while_appending,
            );
        }
    };
    (@tests $harness:path; $module:ident: $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(harness) = $harness().await else { return };
                $crate::tests::$module::$name(&harness).await;
            }
        )*
    };
}

store_test_suite!(sqlite, crate::tests::sqlite_harness);
store_test_suite!(postgres, crate::tests::postgres_harness);

/// Writes the version-1 schema (before the registry tables) with these
/// devices, as a deployment of the previous release left it.
pub(crate) async fn create_v1_store(harness: &Harness, devices: &[(i64, &str)]) {
    let url = harness.config.url.clone();
    if let Some(path) = url.strip_prefix("sqlite:") {
        let conn = rusqlite::Connection::open(path).expect("open sqlite");
        conn.execute_batch(crate::sqlite::migrations::MIGRATIONS[0].1)
            .expect("v1 schema");
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);",
        )
        .expect("v1 version");
        for (id, unique_id) in devices {
            conn.execute(
                "INSERT INTO devices (id, unique_id, name, disabled, created) VALUES (?1, ?2, ?2, 0, 0)",
                rusqlite::params![id, unique_id],
            )
            .expect("v1 device");
        }
    } else {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::raw_sql(crate::postgres::migrations::MIGRATIONS[0].1)
            .execute(&mut conn)
            .await
            .expect("v1 schema");
        sqlx::raw_sql(
            "CREATE TABLE schema_version (version BIGINT NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);",
        )
        .execute(&mut conn)
        .await
        .expect("v1 version");
        for (id, unique_id) in devices {
            sqlx::query(
                "INSERT INTO devices (id, unique_id, name, disabled, created) VALUES ($1, $2, $2, FALSE, 0)",
            )
            .bind(id)
            .bind(unique_id)
            .execute(&mut conn)
            .await
            .expect("v1 device");
        }
        // Keep the identity ahead of the explicit ids, as real inserts would.
        sqlx::query("SELECT setval(pg_get_serial_sequence('devices', 'id'), 100)")
            .execute(&mut conn)
            .await
            .expect("identity");
    }
}
