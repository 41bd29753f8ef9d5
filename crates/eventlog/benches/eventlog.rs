//! Benchmarks of the event log: the raw SQLite insert limit on this machine, the crate's
//! append rate (1 and 64 appenders, FULL and NORMAL), read-all and verify rates. Prints a
//! markdown table of medians of three runs. `CLOOP_BENCH_EVENTS` (default 1,000,000) sets
//! the size of the log that read-all and verify run over; append runs use a fifth of it.

#[path = "../tests/common/postgres_server.rs"]
mod postgres_server;

use std::path::Path;
use std::time::{Duration, Instant};

use eventlog::rusqlite::{self, Connection};
use eventlog::{
    chain_hash, format_timestamp, row_digest, truncate_to_micros, verify_path, AppendRequest,
    CallerFields, EventLog, ExpectedVersion, LogOptions, NewEvent, Synchronous, WriterFields,
    GENESIS_HASH,
};
use serde_json::json;
use uuid::Uuid;

use postgres_server::{postgres_base_url, recreate_database};

const RUNS: usize = 3;
const EVENTS_PER_TRANSACTION: usize = 1_000;

#[derive(Clone, Copy, PartialEq)]
enum Ids {
    TimeOrdered,
    Random,
}

impl Ids {
    fn next(self) -> Uuid {
        match self {
            Ids::TimeOrdered => Uuid::now_v7(),
            Ids::Random => Uuid::new_v4(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Ids::TimeOrdered => "UUIDv7",
            Ids::Random => "UUIDv4",
        }
    }
}

/// An event shaped like a received ticket: about 400 bytes of JSON payload.
fn sample_event(number: usize, ids: Ids) -> NewEvent {
    NewEvent::new(
        "ticket.received",
        json!({
            "ticket_id": format!("FB-20261123-{number:08}"),
            "feedback_id": format!("{}", Uuid::now_v7()),
            "channel": "app",
            "customer": { "customer_id": format!("c-{}", number % 5000), "phone": "13800000000" },
            "content": "APP卡顿, the order page freezes for several seconds after paying; \
                        售后响应慢 and nobody called back after two days.",
            "product": "mobile app 5.2",
            "order_id": format!("O{number:010}"),
            "attributes": { "os": "android", "version": "14" }
        }),
    )
    .with_event_id(ids.next())
    .with_actor(json!({ "name": "intake", "role": "service" }))
    .with_ids(Some(format!("corr-{number}")), None)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

fn fresh_log(directory: &Path, synchronous: Synchronous) -> EventLog {
    let path = directory.join(format!("log-{}.db", Uuid::new_v4()));
    EventLog::open(
        path,
        LogOptions {
            synchronous,
            ..LogOptions::default()
        },
    )
    .expect("open log")
}

/// One row as the crate would store it, precomputed so that only the inserts are timed.
struct RawRow {
    stream_id: String,
    event_id: Uuid,
    occurred_at: String,
    actor: String,
    correlation_id: String,
    payload: String,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

/// The rows of `events` sample events in streams of 10, serialised and chained by hand as the
/// crate would store them; returns them with their `recorded_at` and the time it took.
fn prepare_raw_rows(ids: Ids, events: usize) -> (Vec<RawRow>, String, Duration) {
    let new_events: Vec<NewEvent> = (0..events)
        .map(|number| sample_event(number, ids))
        .collect();
    let preparation_started = Instant::now();
    let recorded_at = format_timestamp(&truncate_to_micros(chrono::Utc::now()));
    let mut prev_hash = GENESIS_HASH;
    let rows: Vec<RawRow> = new_events
        .into_iter()
        .enumerate()
        .map(|(number, event)| {
            let stream_id = format!("ticket-{}", number / 10);
            let occurred_at = format_timestamp(&truncate_to_micros(event.occurred_at));
            let actor = event.actor.to_string();
            let payload = event.payload.to_string();
            let correlation_id = event.correlation_id.clone().unwrap_or_default();
            let event_id_text = event.event_id.hyphenated().to_string();
            let digest = row_digest(
                &CallerFields {
                    stream_id: &stream_id,
                    event_id: &event_id_text,
                    event_type: &event.event_type,
                    schema_version: 1,
                    occurred_at: &occurred_at,
                    actor_json: &actor,
                    correlation_id: &correlation_id,
                    causation_id: "",
                    payload_json: &payload,
                },
                &WriterFields {
                    stream_version: (number % 10) as u64 + 1,
                    position: number as u64 + 1,
                    recorded_at: &recorded_at,
                },
            );
            let hash = chain_hash(&prev_hash, &digest);
            let row = RawRow {
                stream_id,
                event_id: event.event_id,
                occurred_at,
                actor,
                correlation_id,
                payload,
                prev_hash,
                hash,
            };
            prev_hash = hash;
            row
        })
        .collect();
    let preparation = preparation_started.elapsed();
    (rows, recorded_at, preparation)
}

/// The raw SQLite limit: plain batched INSERTs of the same rows into the same table and
/// indexes (the schema is created by the crate, then the crate is closed).
/// Returns two rates: INSERTs alone (rows prepared beforehand), and the whole append done
/// by hand on one thread (JSON serialisation, SHA-256 chain and INSERTs), which is the same
/// work the crate does.
fn raw_insert_rate(
    directory: &Path,
    synchronous: Synchronous,
    ids: Ids,
    events: usize,
) -> (f64, f64) {
    let log = fresh_log(directory, synchronous);
    let path = log.path().to_path_buf();
    drop(log);
    let (rows, recorded_at, preparation) = prepare_raw_rows(ids, events);
    let mut connection = Connection::open(&path).expect("open raw connection");
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA cache_size = -65536;",
            match synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            }
        ))
        .expect("set pragmas");
    let started = Instant::now();
    for (batch_index, batch) in rows.chunks(EVENTS_PER_TRANSACTION).enumerate() {
        let transaction = connection.transaction().expect("begin");
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO events (position, stream_id, stream_version, event_id, event_type, \
                     schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, \
                     payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .expect("prepare insert");
            for (offset, row) in batch.iter().enumerate() {
                let number = batch_index * EVENTS_PER_TRANSACTION + offset;
                insert
                    .execute(rusqlite::params![
                        number as i64 + 1,
                        row.stream_id,
                        (number % 10) as i64 + 1,
                        &row.event_id.as_bytes()[..],
                        "ticket.received",
                        1,
                        row.occurred_at,
                        recorded_at,
                        row.actor,
                        row.correlation_id,
                        Option::<String>::None,
                        row.payload,
                        &row.prev_hash[..],
                        &row.hash[..],
                    ])
                    .expect("insert");
            }
        }
        transaction.commit().expect("commit");
    }
    let inserting = started.elapsed();
    (
        rate(events, inserting),
        rate(events, preparation + inserting),
    )
}

/// The crate's append rate: `appenders` tasks, each appending requests of
/// `events_per_request` events to streams of its own until `events` are stored.
fn crate_append_rate(
    runtime: &tokio::runtime::Runtime,
    log: EventLog,
    ids: Ids,
    appenders: usize,
    events_per_request: usize,
    events: usize,
) -> f64 {
    let requests_per_appender = (events / appenders / events_per_request).max(1);
    let prepared: Vec<Vec<AppendRequest>> = (0..appenders)
        .map(|appender| {
            (0..requests_per_appender)
                .map(|request| AppendRequest {
                    stream_id: format!("ticket-{appender}-{request}"),
                    expected: ExpectedVersion::NoStream,
                    events: (0..events_per_request)
                        .map(|number| sample_event(request * events_per_request + number, ids))
                        .collect(),
                })
                .collect()
        })
        .collect();
    let total = appenders * requests_per_appender * events_per_request;
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = prepared
            .into_iter()
            .map(|requests| {
                let log = log.clone();
                tokio::spawn(async move {
                    for request in requests {
                        log.append(&request.stream_id, request.expected, request.events)
                            .await
                            .expect("append");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("appender");
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(log.head().position, total as u64);
    rate(total, elapsed)
}

/// Fills a log with `events` events through the crate (NORMAL, 1,000-event requests).
fn build_big_log(directory: &Path, events: usize) -> EventLog {
    let log = fresh_log(directory, Synchronous::Normal);
    let mut appended = 0;
    while appended < events {
        let size = EVENTS_PER_TRANSACTION.min(events - appended);
        let requests: Vec<AppendRequest> = (0..size / 10)
            .map(|stream| AppendRequest {
                stream_id: format!("ticket-{}", (appended / 10) + stream),
                expected: ExpectedVersion::NoStream,
                events: (0..10)
                    .map(|n| sample_event(appended + stream * 10 + n, Ids::TimeOrdered))
                    .collect(),
            })
            .collect();
        for result in log.append_many_blocking(requests) {
            result.expect("fill log");
        }
        appended += size - size % 10;
        if size < 10 {
            break;
        }
    }
    log
}

/// Reads and re-hashes the chain on one thread, the naive way, for comparison.
fn naive_verify_rate(path: &Path) -> (f64, bool) {
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open");
    let mut statement = connection
        .prepare(
            "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, \
             occurred_at, recorded_at, actor, correlation_id, causation_id, payload, prev_hash, hash \
             FROM events ORDER BY position",
        )
        .expect("prepare");
    let started = Instant::now();
    let mut rows = statement.query([]).expect("query");
    let mut chain = GENESIS_HASH;
    let mut count = 0usize;
    let mut ok = true;
    while let Some(row) = rows.next().expect("row") {
        let event_id =
            Uuid::from_slice(row.get_ref(3).expect("id").as_blob().expect("blob")).expect("uuid");
        let text = |index: usize| row.get_ref(index).expect("column").as_str().expect("text");
        let optional = |index: usize| {
            row.get_ref(index)
                .expect("column")
                .as_str_or_null()
                .expect("text")
                .unwrap_or("")
        };
        let event_id_text = event_id.hyphenated().to_string();
        let digest = row_digest(
            &CallerFields {
                stream_id: text(1),
                event_id: &event_id_text,
                event_type: text(4),
                schema_version: row.get(5).expect("schema version"),
                occurred_at: text(6),
                actor_json: text(8),
                correlation_id: optional(9),
                causation_id: optional(10),
                payload_json: text(11),
            },
            &WriterFields {
                stream_version: row.get(2).expect("version"),
                position: row.get(0).expect("position"),
                recorded_at: text(7),
            },
        );
        chain = chain_hash(&chain, &digest);
        ok &= row.get_ref(13).expect("hash").as_blob().expect("blob") == chain;
        count += 1;
    }
    (rate(count, started.elapsed()), ok)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let events: usize = std::env::var("CLOOP_BENCH_EVENTS")
        .ok()
        .and_then(|value| value.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let append_events = (events / 5).max(10_000);
    let directory = tempfile::tempdir_in(
        std::env::var_os("CLOOP_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into),
    )
    .expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let mut lines: Vec<(String, usize, f64)> = Vec::new();
    // `CLOOP_BENCH_ONLY=<text>` runs only the measurements whose label contains the text.
    let only = std::env::var("CLOOP_BENCH_ONLY").unwrap_or_default();
    let mut measure =
        |what: String, events_per_run: usize, run: &mut dyn FnMut() -> f64| -> (usize, f64) {
            if !what.contains(only.as_str()) {
                return (usize::MAX, f64::NAN);
            }
            let rates: Vec<f64> = (0..RUNS).map(|_| run()).collect();
            let value = median(rates.clone());
            eprintln!(
                "{what}: {:.0}/s (runs: {:?})",
                value,
                rates.iter().map(|r| r.round()).collect::<Vec<_>>()
            );
            lines.push((what, events_per_run, value));
            (lines.len() - 1, value)
        };

    // The ratio column compares the crate with the same work done by hand (serialise, hash,
    // INSERT); the INSERT-only line beside it is the bare SQLite limit.
    let mut raw = std::collections::HashMap::new();
    let raw_configurations = [
        (Synchronous::Full, "FULL", Ids::TimeOrdered),
        (Synchronous::Normal, "NORMAL", Ids::TimeOrdered),
        (Synchronous::Full, "FULL", Ids::Random),
    ];
    for (synchronous, label, ids) in raw_configurations {
        let insert_only = std::cell::RefCell::new(Vec::new());
        let (_, value) = measure(
            format!(
                "raw SQLite by hand: serialise + SHA-256 chain + INSERT, {EVENTS_PER_TRANSACTION}/transaction, {}, {label}",
                ids.label()
            ),
            append_events,
            &mut || {
                let (inserts, whole) = raw_insert_rate(directory.path(), synchronous, ids, append_events);
                insert_only.borrow_mut().push(inserts);
                whole
            },
        );
        let (_, inserts_only) = measure(
            format!(
                "raw SQLite INSERT only (rows prepared beforehand), {EVENTS_PER_TRANSACTION}/transaction, {}, {label}",
                ids.label()
            ),
            append_events,
            &mut || insert_only.borrow_mut().pop().unwrap_or(f64::NAN),
        );
        raw.insert((label, ids.label()), (value, inserts_only));
    }

    let mut crate_rows = Vec::new();
    let configurations: Vec<(Synchronous, &str, Ids, usize, usize, usize)> = vec![
        (
            Synchronous::Full,
            "FULL",
            Ids::TimeOrdered,
            1,
            1_000,
            append_events,
        ),
        (
            Synchronous::Full,
            "FULL",
            Ids::TimeOrdered,
            64,
            1_000,
            append_events,
        ),
        (
            Synchronous::Normal,
            "NORMAL",
            Ids::TimeOrdered,
            1,
            1_000,
            append_events,
        ),
        (
            Synchronous::Normal,
            "NORMAL",
            Ids::TimeOrdered,
            64,
            1_000,
            append_events,
        ),
        (
            Synchronous::Full,
            "FULL",
            Ids::Random,
            1,
            1_000,
            append_events,
        ),
        (
            Synchronous::Full,
            "FULL",
            Ids::TimeOrdered,
            1,
            1,
            (append_events / 20).max(1_000),
        ),
        (
            Synchronous::Full,
            "FULL",
            Ids::TimeOrdered,
            64,
            1,
            append_events / 2,
        ),
        (
            Synchronous::Normal,
            "NORMAL",
            Ids::TimeOrdered,
            1,
            1,
            (append_events / 20).max(1_000),
        ),
        (
            Synchronous::Normal,
            "NORMAL",
            Ids::TimeOrdered,
            64,
            1,
            append_events / 2,
        ),
    ];
    for (synchronous, label, ids, appenders, per_request, total) in configurations {
        // Every appender sends at least one request.
        let appended = appenders * (total / appenders / per_request).max(1) * per_request;
        let (index, _) = measure(
            format!(
                "eventlog append, {appenders} appender{}, {per_request}-event requests, {}, {label}",
                if appenders == 1 { "" } else { "s" },
                ids.label()
            ),
            appended,
            &mut || crate_append_rate(&runtime, fresh_log(directory.path(), synchronous), ids, appenders, per_request, total),
        );
        // Only batched requests compare with batched INSERTs.
        if per_request == EVENTS_PER_TRANSACTION {
            crate_rows.push((index, raw.get(&(label, ids.label())).copied()));
        }
    }

    // PostgreSQL: the same rows INSERTed by hand, and the crate's appends, on a fresh
    // database each run (the server's default durability: synchronous_commit on).
    let postgres_available = admin_client().is_some();
    if postgres_available {
        for (how, label) in [
            (PgInsert::Unnest, "multi-row UNNEST INSERT"),
            (PgInsert::Prepared, "prepared single-row INSERTs"),
        ] {
            let insert_only = std::cell::RefCell::new(Vec::new());
            let (_, value) = measure(
                format!(
                    "raw PostgreSQL by hand: serialise + SHA-256 chain + {label}, {EVENTS_PER_TRANSACTION}/transaction, UUIDv7"
                ),
                append_events,
                &mut || {
                    let (inserts, whole) =
                        raw_postgres_insert_rate(Ids::TimeOrdered, append_events, how);
                    insert_only.borrow_mut().push(inserts);
                    whole
                },
            );
            let (_, inserts_only) = measure(
                format!(
                    "raw PostgreSQL {label} only (rows prepared beforehand), {EVENTS_PER_TRANSACTION}/transaction, UUIDv7"
                ),
                append_events,
                &mut || insert_only.borrow_mut().pop().unwrap_or(f64::NAN),
            );
            if how == PgInsert::Unnest {
                raw.insert(
                    ("PostgreSQL", Ids::TimeOrdered.label()),
                    (value, inserts_only),
                );
            }
        }
        let postgres_configurations: [(usize, usize, usize); 4] = [
            (1, 1_000, append_events),
            (64, 1_000, append_events),
            (1, 1, (append_events / 20).max(1_000)),
            (64, 1, append_events / 4),
        ];
        for (appenders, per_request, total) in postgres_configurations {
            let appended = appenders * (total / appenders / per_request).max(1) * per_request;
            let (index, _) = measure(
                format!(
                    "eventlog append on PostgreSQL, {appenders} appender{}, {per_request}-event requests, UUIDv7",
                    if appenders == 1 { "" } else { "s" },
                ),
                appended,
                &mut || {
                    let database = BenchDatabase::create();
                    crate_append_rate(&runtime, database.open(), Ids::TimeOrdered, appenders, per_request, total)
                },
            );
            if per_request == EVENTS_PER_TRANSACTION {
                crate_rows.push((
                    index,
                    raw.get(&("PostgreSQL", Ids::TimeOrdered.label())).copied(),
                ));
            }
        }
    } else {
        eprintln!(
            "skipping the PostgreSQL figures: no server at {}",
            postgres_base_url()
        );
    }

    let only = std::env::var("CLOOP_BENCH_ONLY").unwrap_or_default();
    if !["read_all", "verify", "import", "PostgreSQL"]
        .iter()
        .any(|label| label.contains(only.as_str()) || only.contains(label))
    {
        print_table(&lines, &crate_rows);
        return;
    }
    eprintln!("building a log of {events} events for read-all and verify");
    let big = build_big_log(directory.path(), events);
    let stored = big.head().position as usize;
    measure(
        format!("eventlog read_all, pages of 10,000, {stored} events"),
        stored,
        &mut || read_all_rate(&big, stored),
    );
    measure(
        format!("eventlog verify (parallel digests), {stored} events"),
        stored,
        &mut || {
            let started = Instant::now();
            let report = verify_path(big.path(), None, |_, _| {}).expect("verify");
            assert!(report.ok && report.checked as usize == stored);
            rate(stored, started.elapsed())
        },
    );
    measure(
        format!("naive verify, one thread, {stored} events (comparison)"),
        stored,
        &mut || {
            let (value, ok) = naive_verify_rate(big.path());
            assert!(ok);
            value
        },
    );
    if postgres_available {
        let database = BenchDatabase::create();
        let target = database.open();
        // The SQLite log's rows, imported verbatim (once; the figure is that one run).
        let started = Instant::now();
        let mut from = 1;
        loop {
            let page = big.read_all_blocking(from, 10_000).expect("read all");
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            target.import_blocking(&page).expect("import");
        }
        let imported = rate(stored, started.elapsed());
        // What an operator runs after a bulk import; it also keeps autovacuum from running
        // during the read figures.
        database
            .client()
            .batch_execute("VACUUM ANALYZE events")
            .expect("vacuum");
        measure(
            format!("eventlog import_blocking from SQLite into PostgreSQL, pages of 10,000, {stored} events (one run)"),
            stored,
            &mut || imported,
        );
        measure(
            format!("eventlog read_all on PostgreSQL, pages of 10,000, {stored} events"),
            stored,
            &mut || read_all_rate(&target, stored),
        );
        measure(
            format!("eventlog verify_postgres (parallel digests), {stored} events"),
            stored,
            &mut || {
                let started = Instant::now();
                let report = eventlog::postgres::verify_postgres(&database.url, None, |_, _| {})
                    .expect("verify");
                assert!(report.ok && report.checked as usize == stored);
                assert_eq!(report.head_hash, big.head().hash);
                rate(stored, started.elapsed())
            },
        );
        measure(
            format!("raw PostgreSQL SELECT read as verify_postgres reads it (chunks of 20,000), no hashing, {stored} events (comparison)"),
            stored,
            &mut || raw_postgres_read_rate(&database.url),
        );
        drop(target);
    }
    drop(big);

    print_table(&lines, &crate_rows);
}

/// Prints the measurements as a markdown table, with the crate's rates as a share of the raw
/// SQLite rate of the same durability and ids.
fn print_table(lines: &[(String, usize, f64)], crate_rows: &[(usize, Option<(f64, f64)>)]) {
    println!(
        "| what | events per run | events/s (median of {RUNS}) | share of raw by hand | share of raw INSERT only |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (index, (what, events_per_run, value)) in lines.iter().enumerate() {
        let (by_hand, inserts_only) = crate_rows
            .iter()
            .find(|(row, _)| *row == index)
            .and_then(|(_, raw)| *raw)
            .map(|(by_hand, inserts_only)| {
                (
                    format!("{:.0}%", 100.0 * value / by_hand),
                    format!("{:.0}%", 100.0 * value / inserts_only),
                )
            })
            .unwrap_or_default();
        println!("| {what} | {events_per_run} | {value:.0} | {by_hand} | {inserts_only} |");
    }
}

// ----- PostgreSQL -----

fn admin_client() -> Option<postgres::Client> {
    postgres::Client::connect(
        &format!("{}/postgres", postgres_base_url()),
        postgres::NoTls,
    )
    .ok()
}

static BENCH_DATABASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh database holding the log's schema, dropped again on drop.
struct BenchDatabase {
    name: String,
    url: String,
}

impl BenchDatabase {
    fn create() -> BenchDatabase {
        let name = format!(
            "cloop_bench_{}_{}",
            std::process::id(),
            BENCH_DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        recreate_database(&mut admin_client().expect("connect to PostgreSQL"), &name);
        let url = format!("{}/{name}", postgres_base_url());
        // The crate creates its tables and triggers.
        drop(EventLog::open_postgres(&url, LogOptions::default(), None).expect("create schema"));
        BenchDatabase { name, url }
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect")
    }

    fn open(&self) -> EventLog {
        EventLog::open_postgres(&self.url, LogOptions::default(), None).expect("open log")
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some(mut admin) = admin_client() {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// How the raw PostgreSQL inserts are sent.
#[derive(Clone, Copy, PartialEq)]
enum PgInsert {
    /// One multi-row `INSERT ... SELECT FROM UNNEST(arrays)` per transaction (what the crate
    /// does).
    Unnest,
    /// One prepared single-row INSERT per row, all in one transaction.
    Prepared,
}

const PG_UNNEST_INSERT: &str = "INSERT INTO events (position, stream_id, stream_version, \
     event_id, event_type, schema_version, occurred_at, recorded_at, actor, correlation_id, \
     causation_id, payload, prev_hash, hash) \
     SELECT p, s, v, e, 'ticket.received', 1, o, $7, a, c, NULL, pl, ph, h FROM UNNEST( \
     $1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], \
     $8::text[], $9::text[], $10::bytea[], $11::bytea[]) \
     AS u(p, s, v, e, o, a, c, pl, ph, h)";

/// Inserts prepared rows into the database in transactions of `EVENTS_PER_TRANSACTION`.
fn pg_insert_rows(
    client: &mut postgres::Client,
    rows: &[RawRow],
    recorded_at: &str,
    how: PgInsert,
) {
    let single = client
        .prepare(
            "INSERT INTO events (position, stream_id, stream_version, event_id, event_type, \
             schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, \
             payload, prev_hash, hash) VALUES ($1, $2, $3, $4, 'ticket.received', 1, $5, $6, \
             $7, $8, NULL, $9, $10, $11)",
        )
        .expect("prepare insert");
    let unnest = client.prepare(PG_UNNEST_INSERT).expect("prepare insert");
    for (batch_index, batch) in rows.chunks(EVENTS_PER_TRANSACTION).enumerate() {
        let first = batch_index * EVENTS_PER_TRANSACTION;
        let mut transaction = client.transaction().expect("begin");
        match how {
            PgInsert::Unnest => {
                let positions: Vec<i64> =
                    (0..batch.len()).map(|i| (first + i) as i64 + 1).collect();
                let versions: Vec<i64> = (0..batch.len())
                    .map(|i| ((first + i) % 10) as i64 + 1)
                    .collect();
                let stream_ids: Vec<&str> =
                    batch.iter().map(|row| row.stream_id.as_str()).collect();
                let event_ids: Vec<Uuid> = batch.iter().map(|row| row.event_id).collect();
                let occurred: Vec<&str> =
                    batch.iter().map(|row| row.occurred_at.as_str()).collect();
                let actors: Vec<&str> = batch.iter().map(|row| row.actor.as_str()).collect();
                let correlations: Vec<&str> = batch
                    .iter()
                    .map(|row| row.correlation_id.as_str())
                    .collect();
                let payloads: Vec<&str> = batch.iter().map(|row| row.payload.as_str()).collect();
                let prev: Vec<&[u8]> = batch.iter().map(|row| &row.prev_hash[..]).collect();
                let hashes: Vec<&[u8]> = batch.iter().map(|row| &row.hash[..]).collect();
                transaction
                    .execute(
                        &unnest,
                        &[
                            &positions,
                            &stream_ids,
                            &versions,
                            &event_ids,
                            &occurred,
                            &actors,
                            &recorded_at,
                            &correlations,
                            &payloads,
                            &prev,
                            &hashes,
                        ],
                    )
                    .expect("insert");
            }
            PgInsert::Prepared => {
                for (offset, row) in batch.iter().enumerate() {
                    let number = first + offset;
                    transaction
                        .execute(
                            &single,
                            &[
                                &(number as i64 + 1),
                                &row.stream_id,
                                &((number % 10) as i64 + 1),
                                &row.event_id,
                                &row.occurred_at,
                                &recorded_at,
                                &row.actor,
                                &row.correlation_id,
                                &row.payload,
                                &&row.prev_hash[..],
                                &&row.hash[..],
                            ],
                        )
                        .expect("insert");
                }
            }
        }
        transaction.commit().expect("commit");
    }
}

/// The raw PostgreSQL limit: the same rows INSERTed by hand into the crate's table. Returns
/// the INSERT-only rate and the rate of the whole append done by hand.
fn raw_postgres_insert_rate(ids: Ids, events: usize, how: PgInsert) -> (f64, f64) {
    let database = BenchDatabase::create();
    let (rows, recorded_at, preparation) = prepare_raw_rows(ids, events);
    let mut client = database.client();
    let started = Instant::now();
    pg_insert_rows(&mut client, &rows, &recorded_at, how);
    let inserting = started.elapsed();
    (
        rate(events, inserting),
        rate(events, preparation + inserting),
    )
}

/// Reads every row in position order in chunks of 20,000 (as `verify_postgres` does), without
/// hashing: the read limit verify compares with.
fn raw_postgres_read_rate(url: &str) -> f64 {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let statement = client
        .prepare(
            "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, \
             occurred_at, recorded_at, actor, correlation_id, causation_id, payload, prev_hash, \
             hash FROM events WHERE position > $1 ORDER BY position LIMIT 20000",
        )
        .expect("prepare");
    let started = Instant::now();
    let mut after = 0i64;
    let mut count = 0usize;
    let mut bytes = 0usize;
    loop {
        let rows = client.query(&statement, &[&after]).expect("read");
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        count += rows.len();
        for row in &rows {
            bytes += row.get::<_, &str>(11).len();
        }
    }
    assert!(bytes > 0);
    rate(count, started.elapsed())
}

/// Reads the whole log in pages of 10,000 rows: how many rows it holds.
/// The read-all rate of `log`, checking that all of its `stored` events come back.
fn read_all_rate(log: &EventLog, stored: usize) -> f64 {
    let started = Instant::now();
    let count = read_everything(log);
    assert_eq!(count, stored);
    rate(count, started.elapsed())
}

fn read_everything(log: &EventLog) -> usize {
    let mut from = 1;
    let mut count = 0;
    loop {
        let page = log.read_all_blocking(from, 10_000).expect("read all");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        count += page.len();
    }
    count
}
