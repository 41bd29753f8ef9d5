//! End-to-end submissions/s of the workflow on its two log stores: SQLite with one
//! `cloop-workflow` (the default store, `workflow.db`), and PostgreSQL (`--store
//! postgres://...`, a database of the benchmark's own) with one, two and three replicas sharing
//! the log and the JetStream durable consumer on FEEDBACK. nats-server, `cloop-intake` and the
//! replicas are real processes (the release binaries, found by the e2e harness); the benchmark
//! is a gRPC client. Prints a markdown table for `docs/benchmarks.md`.
//!
//! Run with `cargo build --release --bins -p intake -p workflow && cargo bench -p workflow
//! --bench replicas`.
//!
//! Each run starts everything afresh (nats-server, intake, an empty log), submits a fixed number
//! of tickets through `Intake.Submit` with 64 concurrent clients and polls the log until every
//! ticket is recorded: the count of `received` events (`workflow.db` opened read-only for
//! SQLite; `SELECT count(*) FROM events WHERE event_type = 'received'` for PostgreSQL). The
//! sustained rate is tickets recorded / time from the first submission to the last recorded.
//! The configurations take turns within each round, so that a change in the machine's load
//! falls on all of them alike; the figure is the median of the rounds.
//!
//! In each round the machine's own limits are measured too: 20,000 rows shaped like the log's
//! `events` rows inserted into a scratch table, 500 rows per transaction (one multi-row
//! statement each), in PostgreSQL (a scratch database) and in SQLite (WAL, `synchronous =
//! FULL`, like the log). The service's figures can then be read as ratios to them.
//!
//! Environment: `CLOOP_BENCH_QUICK=1` (2,000 submissions, one round), `CLOOP_BENCH_RUNS`
//! (rounds, default 3), `CLOOP_BENCH_SUBMISSIONS` (default 20,000), `CLOOP_TEST_POSTGRES` (the
//! server, default `postgres://postgres@127.0.0.1:5432`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{authorized, channel, submission};
use e2e::{free_port, NatsServer, PgDatabase, ServiceProcess};
use proto::v1::intake_client::IntakeClient;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADAPTER: &str = "bench-adapter";
const CLIENTS: usize = 64;
/// Rows per transaction of the raw insert figures.
const RAW_BATCH: usize = 500;
/// Rows of the raw insert figures.
const RAW_ROWS: usize = 20_000;
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Which log store, and how many workflow replicas.
#[derive(Clone, Copy)]
enum Config {
    Sqlite,
    Postgres(usize),
}

impl Config {
    fn name(self) -> String {
        match self {
            Config::Sqlite => "SQLite, 1 workflow (default store)".to_owned(),
            Config::Postgres(1) => "PostgreSQL, 1 workflow replica".to_owned(),
            Config::Postgres(replicas) => format!("PostgreSQL, {replicas} workflow replicas"),
        }
    }
}

/// One run's figures.
struct Run {
    /// Tickets recorded / time from the first submission to the last recorded.
    recorded_per_second: f64,
    /// Submissions answered by intake / time from the first submission to the last answer.
    answered_per_second: f64,
    /// Events in the log per ticket at the end of the run.
    events_per_ticket: f64,
}

fn tokens_file() -> String {
    format!(
        "[[principal]]\nname = \"{ADAPTER}\"\nrole = \"adapter\"\nrate_per_sec = 0\ntoken_sha256 = \"{}\"\n",
        service::tokens::token_sha256(ADAPTER)
    )
}

/// Submits `count` tickets with [`CLIENTS`] concurrent callers.
async fn submit_many(intake_address: String, count: usize) {
    let channel = channel(&intake_address).await;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = IntakeClient::new(channel.clone());
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return;
                }
                client
                    .submit(authorized(submission("replicas-bench", index), ADAPTER))
                    .await
                    .expect("submit");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Counts the log's events as they are recorded: (`received`, all). Each poll reads only the
/// rows past the last position seen (positions are gap-free in commit order on both stores), so
/// polling costs little next to the service.
struct Counter {
    store: Store,
    position: i64,
    received: u64,
    all: u64,
}

enum Store {
    Sqlite(PathBuf, Option<rusqlite::Connection>),
    Postgres(postgres::Client),
}

impl Counter {
    fn new(store: Store) -> Self {
        Counter {
            store,
            position: 0,
            received: 0,
            all: 0,
        }
    }

    fn counts(&mut self) -> (u64, u64) {
        const SQLITE: &str = "SELECT count(*) FILTER (WHERE event_type = 'received'), count(*), \
                              coalesce(max(position), 0) FROM events WHERE position > ?1";
        const POSTGRES: &str = "SELECT count(*) FILTER (WHERE event_type = 'received'), \
                                count(*), coalesce(max(position), 0) FROM events \
                                WHERE position > $1";
        let position = self.position;
        let read = match &mut self.store {
            Store::Sqlite(path, connection) => {
                if connection.is_none() {
                    // The service creates the file; until then nothing is recorded.
                    *connection = rusqlite::Connection::open_with_flags(
                        &*path,
                        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                    )
                    .ok();
                }
                connection.as_ref().and_then(|connection| {
                    connection
                        .query_row(SQLITE, [position], |row| {
                            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
                        })
                        .ok()
                })
            }
            Store::Postgres(client) => client
                .query_one(POSTGRES, &[&position])
                .map(|row| (row.get::<_, i64>(0), row.get::<_, i64>(1), row.get(2)))
                .ok(),
        };
        if let Some((received, all, last)) = read {
            self.received += received as u64;
            self.all += all as u64;
            self.position = self.position.max(last);
        }
        (self.received, self.all)
    }
}

fn spawn_service(
    binary: &str,
    address: &str,
    nats: &NatsServer,
    dir: &Path,
    data: &str,
    extra: &[String],
) -> ServiceProcess {
    let mut args = vec![
        "--listen".to_owned(),
        address.to_owned(),
        "--nats-url".to_owned(),
        nats.url(),
        "--data-dir".to_owned(),
        dir.join(data).to_string_lossy().into_owned(),
        "--tokens".to_owned(),
        dir.join("tokens.toml").to_string_lossy().into_owned(),
        "--config".to_owned(),
        dir.join("config.toml").to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().cloned());
    ServiceProcess::spawn(
        binary,
        &args,
        &[("CLOOP_LOG".to_owned(), "warn".to_owned())],
        dir.join(format!("{data}.log")),
    )
}

/// One run of `config` with `count` submissions, everything started afresh.
fn run(runtime: &tokio::runtime::Runtime, config: Config, count: usize) -> Run {
    let nats = NatsServer::start();
    let dir = tempfile::Builder::new()
        .prefix("cloop-replicas-bench-")
        .tempdir()
        .unwrap();
    std::fs::write(dir.path().join("tokens.toml"), tokens_file()).unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[intake_service]\nnode_id = 5\n",
    )
    .unwrap();
    let database = match config {
        Config::Sqlite => None,
        Config::Postgres(_) => Some(PgDatabase::create("bench_replicas")),
    };
    let intake_address = format!("127.0.0.1:{}", free_port());
    let mut intake = spawn_service(
        "cloop-intake",
        &intake_address,
        &nats,
        dir.path(),
        "intake",
        &[],
    );
    let replicas = match config {
        Config::Sqlite => 1,
        Config::Postgres(replicas) => replicas,
    };
    let mut workflows: Vec<(ServiceProcess, String)> = (0..replicas)
        .map(|index| {
            let address = format!("127.0.0.1:{}", free_port());
            let extra = database
                .as_ref()
                .map(|database| vec!["--store".to_owned(), database.url().to_owned()])
                .unwrap_or_default();
            let process = spawn_service(
                "cloop-workflow",
                &address,
                &nats,
                dir.path(),
                &format!("workflow-{index}"),
                &extra,
            );
            (process, address)
        })
        .collect();
    intake.wait_listening(&intake_address, START_TIMEOUT);
    for (process, address) in &mut workflows {
        process.wait_listening(address, START_TIMEOUT);
    }
    let mut counter = match &database {
        None => Counter::new(Store::Sqlite(
            dir.path().join("workflow-0").join(workflow::DATABASE_FILE),
            None,
        )),
        // The blocking client, on this thread (outside the runtime).
        Some(database) => Counter::new(Store::Postgres(
            postgres::Client::connect(database.url(), postgres::NoTls).unwrap(),
        )),
    };
    assert_eq!(counter.counts().0, 0, "a fresh log");

    let started = Instant::now();
    let handle = runtime.handle().clone();
    let submitter = std::thread::spawn(move || {
        handle.block_on(submit_many(intake_address, count));
        Instant::now()
    });
    let expected = count as u64;
    let (recorded_at, all) = loop {
        let (received, all) = counter.counts();
        if received >= expected {
            break (Instant::now(), all);
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "{} of {count} tickets recorded after 15 minutes",
            received
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let answered_at = submitter.join().expect("submissions");
    let recorded = recorded_at.duration_since(started).as_secs_f64();
    let answered = answered_at.duration_since(started).as_secs_f64();
    drop(counter);
    drop(workflows);
    drop(intake);
    drop(nats);
    drop(database);
    Run {
        recorded_per_second: count as f64 / recorded,
        answered_per_second: count as f64 / answered,
        events_per_ticket: all as f64 / count as f64,
    }
}

/// A payload of the size of a `received` event's.
fn payload(index: usize) -> String {
    format!(
        "{{\"feedback_id\":\"{index:020}\",\"channel\":\"app\",\"external_id\":\"bench-{index}\",\
         \"content\":\"APP卡顿，打开很慢，第{index}次\",\"customer_ref\":\"{:064x}\",\
         \"received_at\":\"2026-11-24T01:00:00.000Z\",\"attachments\":[],\"meta\":{{}}}}",
        index
    )
}

/// Raw PostgreSQL insert rate, rows/s: [`RAW_ROWS`] rows into a scratch table shaped like
/// `events`, [`RAW_BATCH`] rows per transaction, one `UNNEST` statement each.
fn raw_postgres() -> f64 {
    let database = PgDatabase::create("bench_raw");
    let rate = database.with_client(|client| {
        client
            .batch_execute(
                "CREATE TABLE scratch (
                    position BIGINT PRIMARY KEY, stream_id TEXT NOT NULL,
                    stream_version BIGINT NOT NULL, event_id UUID NOT NULL,
                    event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
                    occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL,
                    payload TEXT NOT NULL, prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL,
                    UNIQUE (stream_id, stream_version), UNIQUE (event_id))",
            )
            .unwrap();
        let statement = client
            .prepare(
                "INSERT INTO scratch SELECT * FROM UNNEST($1::bigint[], $2::text[], \
                 $3::bigint[], $4::uuid[], $5::text[], $6::integer[], $7::text[], $8::text[], \
                 $9::text[], $10::text[], $11::bytea[], $12::bytea[])",
            )
            .unwrap();
        let started = Instant::now();
        for batch in 0..RAW_ROWS / RAW_BATCH {
            let rows: Vec<usize> = (batch * RAW_BATCH..(batch + 1) * RAW_BATCH).collect();
            let positions: Vec<i64> = rows.iter().map(|row| *row as i64 + 1).collect();
            let streams: Vec<String> = rows.iter().map(|row| format!("ticket-{row:020}")).collect();
            let versions: Vec<i64> = vec![1; rows.len()];
            let ids: Vec<uuid::Uuid> = rows
                .iter()
                .map(|row| {
                    uuid::Uuid::from_u128((0x0190_0000_0000_7000_8000_u128 << 40) + *row as u128)
                })
                .collect();
            let types: Vec<&str> = vec!["received"; rows.len()];
            let schema: Vec<i32> = vec![1; rows.len()];
            let instants: Vec<&str> = vec!["2026-11-24T01:00:00.000000Z"; rows.len()];
            let actors: Vec<&str> = vec!["consumer"; rows.len()];
            let payloads: Vec<String> = rows.iter().map(|row| payload(*row)).collect();
            let hashes: Vec<Vec<u8>> = rows
                .iter()
                .map(|row| {
                    let mut hash = vec![0u8; 32];
                    hash[..8].copy_from_slice(&(*row as u64).to_le_bytes());
                    hash
                })
                .collect();
            let mut transaction = client.transaction().unwrap();
            transaction
                .execute(
                    &statement,
                    &[
                        &positions, &streams, &versions, &ids, &types, &schema, &instants,
                        &instants, &actors, &payloads, &hashes, &hashes,
                    ],
                )
                .unwrap();
            transaction.commit().unwrap();
        }
        RAW_ROWS as f64 / started.elapsed().as_secs_f64()
    });
    drop(database);
    rate
}

/// Raw SQLite insert rate, rows/s: [`RAW_ROWS`] rows into a scratch table shaped like
/// `events` (WAL, `synchronous = FULL`), [`RAW_BATCH`] rows per transaction.
fn raw_sqlite() -> f64 {
    let dir = tempfile::Builder::new()
        .prefix("cloop-replicas-bench-raw-")
        .tempdir()
        .unwrap();
    let mut connection = rusqlite::Connection::open(dir.path().join("scratch.db")).unwrap();
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE scratch (
                position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL,
                stream_version INTEGER NOT NULL, event_id BLOB NOT NULL,
                event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
                occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL,
                payload TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
                UNIQUE (stream_id, stream_version), UNIQUE (event_id));",
        )
        .unwrap();
    let started = Instant::now();
    for batch in 0..RAW_ROWS / RAW_BATCH {
        let transaction = connection.transaction().unwrap();
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO scratch VALUES (?1, ?2, 1, ?3, 'received', 1, ?4, ?4, \
                     'consumer', ?5, ?6, ?6)",
                )
                .unwrap();
            for row in batch * RAW_BATCH..(batch + 1) * RAW_BATCH {
                let id = ((0x0190_0000_0000_7000_8000_u128 << 40) + row as u128).to_be_bytes();
                let mut hash = vec![0u8; 32];
                hash[..8].copy_from_slice(&(row as u64).to_le_bytes());
                insert
                    .execute(rusqlite::params![
                        row as i64 + 1,
                        format!("ticket-{row:020}"),
                        &id[..],
                        "2026-11-24T01:00:00.000000Z",
                        payload(row),
                        hash,
                    ])
                    .unwrap();
            }
        }
        transaction.commit().unwrap();
    }
    RAW_ROWS as f64 / started.elapsed().as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|value| format!("{value:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let quick = std::env::var("CLOOP_BENCH_QUICK").is_ok();
    let count: usize = std::env::var("CLOOP_BENCH_SUBMISSIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 20_000 });
    let rounds: usize = std::env::var("CLOOP_BENCH_RUNS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick { 1 } else { 3 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let configs = [
        Config::Sqlite,
        Config::Postgres(1),
        Config::Postgres(2),
        Config::Postgres(3),
    ];
    let mut runs: Vec<Vec<Run>> = configs.iter().map(|_| Vec::new()).collect();
    let mut loads: Vec<Vec<String>> = configs.iter().map(|_| Vec::new()).collect();
    let mut raw_pg = Vec::new();
    let mut raw_lite = Vec::new();
    let mut raw_loads = Vec::new();
    eprintln!("load average at start: {}", common::load_average(" / "));
    for round in 0..rounds {
        raw_pg.push(raw_postgres());
        raw_lite.push(raw_sqlite());
        raw_loads.push(common::load_average(" / "));
        eprintln!(
            "round {}: raw PostgreSQL {:.0} rows/s, raw SQLite {:.0} rows/s, load {}",
            round + 1,
            raw_pg[round],
            raw_lite[round],
            raw_loads[round]
        );
        for (index, config) in configs.iter().enumerate() {
            let figures = run(&runtime, *config, count);
            let load = common::load_average(" / ");
            eprintln!(
                "round {}: {}: recorded {:.0}/s, intake answered {:.0}/s, {:.2} events/ticket, load {load}",
                round + 1,
                config.name(),
                figures.recorded_per_second,
                figures.answered_per_second,
                figures.events_per_ticket
            );
            runs[index].push(figures);
            loads[index].push(load);
        }
    }
    let pg = median(&raw_pg);
    let lite = median(&raw_lite);
    println!();
    println!(
        "{count} submissions per run, {CLIENTS} clients, {rounds} round(s); medians, each run in brackets"
    );
    println!();
    println!("| config | submissions/s recorded | intake answered/s | events per ticket | ratio to raw insert rate of its store (rows/s) | load average after each run (1 / 5 / 15 min) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (index, config) in configs.iter().enumerate() {
        let recorded: Vec<f64> = runs[index]
            .iter()
            .map(|run| run.recorded_per_second)
            .collect();
        let answered: Vec<f64> = runs[index]
            .iter()
            .map(|run| run.answered_per_second)
            .collect();
        let events: Vec<f64> = runs[index]
            .iter()
            .map(|run| run.events_per_ticket)
            .collect();
        let raw = match config {
            Config::Sqlite => lite,
            Config::Postgres(_) => pg,
        };
        let rate = median(&recorded);
        let per_ticket = median(&events);
        println!(
            "| {} | **{rate:.0}** ({}) | {:.0} ({}) | {per_ticket:.1} | tickets {:.1} %, event rows {:.1} % | {} |",
            config.name(),
            list(&recorded),
            median(&answered),
            list(&answered),
            100.0 * rate / raw,
            100.0 * rate * per_ticket / raw,
            loads[index].join("; ")
        );
    }
    println!(
        "| raw PostgreSQL insert, {RAW_ROWS} event-shaped rows, {RAW_BATCH} per transaction | **{pg:.0} rows/s** ({}) | | | 100 % | {} |",
        list(&raw_pg),
        raw_loads.join("; ")
    );
    println!(
        "| raw SQLite insert (WAL, `synchronous = FULL`), {RAW_ROWS} event-shaped rows, {RAW_BATCH} per transaction | **{lite:.0} rows/s** ({}) | | | 100 % | {} |",
        list(&raw_lite),
        raw_loads.join("; ")
    );
}
