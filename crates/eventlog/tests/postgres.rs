//! The guarantees of a PostgreSQL log with several writers (handles and processes) on one
//! database: gap-free commit-ordered positions, contiguous stream versions, conflicts
//! reported, a reader that never skips a late commit, `sync`, and `import_blocking`.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{event, events, raw_connection, Backend, PositionProjector, TestLog};
use eventlog::{EventLog, ExpectedVersion, LocalProjections, LogError, LogOptions, NewEvent};
use serde_json::json;

/// A small deterministic generator for sleeps and choices.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

// ----- Several writers on overlapping streams -----

const STREAMS: u64 = 5;
const ATTEMPTS: u64 = 60;
const CHILD_URL_ENV: &str = "EVENTLOG_MULTI_WRITER_URL";
const CHILD_ID_ENV: &str = "EVENTLOG_MULTI_WRITER_ID";

/// What one writer did: events appended and conflicts met.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    events: u64,
    conflicts: u64,
}

impl Tally {
    /// The sum of what the writer threads did.
    fn of_threads(threads: Vec<std::thread::JoinHandle<Tally>>) -> Tally {
        let mut total = Tally::default();
        for thread in threads {
            let tally = thread.join().expect("writer thread");
            total.events += tally.events;
            total.conflicts += tally.conflicts;
        }
        total
    }
}

/// Appends `ATTEMPTS` requests of 1–3 events to the shared streams, each at the version it
/// just read, and counts what went in and what conflicted.
fn contend(log: &EventLog, writer: u64) -> Tally {
    let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ (writer + 1).wrapping_mul(0x2545_f491));
    let mut tally = Tally::default();
    for attempt in 0..ATTEMPTS {
        let stream_id = format!("shared-{}", random.next(STREAMS));
        let version = log
            .read_stream_blocking(&stream_id, 0)
            .expect("read stream")
            .last()
            .map_or(0, |event| event.stream_version);
        let count = 1 + random.next(3);
        let request: Vec<NewEvent> = (0..count)
            .map(|number| {
                NewEvent::new(
                    "contended",
                    json!({ "writer": writer, "attempt": attempt, "number": number }),
                )
            })
            .collect();
        match log.append_blocking(&stream_id, ExpectedVersion::Exact(version), request) {
            Ok(outcome) => {
                assert_eq!(outcome.stream_version, version + count);
                assert_eq!(outcome.last_position - outcome.first_position + 1, count);
                tally.events += count;
            }
            Err(LogError::Conflict { actual, .. }) => {
                assert!(actual > version, "a conflict means someone else moved on");
                tally.conflicts += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    tally
}

/// The child role of the multi-writer test: does nothing unless the parent set the env vars;
/// then contends like the parent's threads and prints its tally.
#[test]
fn multi_writer_child() {
    let (Ok(url), Ok(id)) = (std::env::var(CHILD_URL_ENV), std::env::var(CHILD_ID_ENV)) else {
        return;
    };
    let writer: u64 = id.parse().expect("writer id");
    let log = EventLog::open_postgres(&url, LogOptions::default(), None).expect("child opens");
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let log = log.clone();
            std::thread::spawn(move || contend(&log, writer * 10 + thread))
        })
        .collect();
    let total = Tally::of_threads(threads);
    println!("TALLY {} {}", total.events, total.conflicts);
}

#[test]
fn handles_and_processes_appending_together_keep_positions_and_versions_gap_free() {
    let place = TestLog::new(Backend::Postgres);
    let handles: Vec<EventLog> = (0..3).map(|_| place.open()).collect();
    let children: Vec<_> = (0..2)
        .map(|child| {
            Command::new(std::env::current_exe().expect("test binary path"))
                .args([
                    "--exact",
                    "multi_writer_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_URL_ENV, place.url())
                .env(CHILD_ID_ENV, (100 + child).to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start child")
        })
        .collect();
    let threads: Vec<_> = handles
        .iter()
        .enumerate()
        .flat_map(|(index, log)| {
            (0..2).map(move |thread| {
                let log = log.clone();
                std::thread::spawn(move || contend(&log, index as u64 * 10 + thread))
            })
        })
        .collect();
    let mut total = Tally::of_threads(threads);
    for child in children {
        let output = child.wait_with_output().expect("child finishes");
        assert!(output.status.success(), "the child writer failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|line| line.split("TALLY ").nth(1))
            .unwrap_or_else(|| panic!("the child printed no tally: {stdout}"));
        let numbers: Vec<u64> = line
            .split_whitespace()
            .map(|number| number.parse().expect("a number"))
            .collect();
        total.events += numbers[0];
        total.conflicts += numbers[1];
    }
    assert!(
        total.conflicts > 0,
        "ten writers on five streams must collide: {total:?}"
    );

    let reader = &handles[0];
    let all = reader.read_all_blocking(1, 1_000_000).expect("read all");
    assert_eq!(
        all.len() as u64,
        total.events,
        "every appended event is stored once"
    );
    for (index, event) in all.iter().enumerate() {
        assert_eq!(
            event.position,
            index as u64 + 1,
            "positions 1..N without gaps"
        );
    }
    let mut versions: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for event in &all {
        versions
            .entry(event.stream_id.as_str())
            .or_default()
            .push(event.stream_version);
    }
    for (stream_id, versions) in &versions {
        let contiguous: Vec<u64> = (1..=versions.len() as u64).collect();
        assert_eq!(versions, &contiguous, "stream {stream_id} has a gap");
    }
    let report = place.verify();
    assert!(report.ok && report.checked == total.events, "{report:?}");
    for log in &handles {
        common::wait_until(
            "every handle to see the head",
            Duration::from_secs(10),
            || log.head().position == total.events,
        );
        assert_eq!(log.head().hash, report.head_hash);
    }
}

// ----- A follower never skips a late commit -----

#[test]
fn a_reader_following_positions_sees_every_commit_exactly_once_in_order() {
    let place = TestLog::new(Backend::Postgres);
    let writers: Vec<EventLog> = (0..4).map(|_| place.open()).collect();
    let reader = place.open();
    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen: Vec<u64> = Vec::new();
            let mut last = 0;
            let mut finished_at = None;
            loop {
                let page = reader.read_all_blocking(last + 1, 500).expect("read all");
                for event in &page {
                    assert_eq!(
                        event.position,
                        last + 1,
                        "the reader skipped from {last} to {}",
                        event.position
                    );
                    last = event.position;
                    seen.push(event.position);
                }
                if page.is_empty() {
                    match finished_at {
                        // One more empty look after the writers finished: nothing is left.
                        Some(final_head) if last >= final_head => return seen,
                        _ if done.load(Ordering::SeqCst) => {
                            finished_at = Some(common::stored_head_postgres(reader_url(&reader)));
                        }
                        _ => std::thread::yield_now(),
                    }
                }
            }
        })
    };
    let threads: Vec<_> = writers
        .iter()
        .enumerate()
        .map(|(index, log)| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut random = Random(7 + index as u64 * 1_000_003);
                let mut appended = 0;
                for request in 0..150u64 {
                    let count = 1 + random.next(3);
                    log.append_blocking(
                        &format!("w{index}-{request}"),
                        ExpectedVersion::NoStream,
                        events(count),
                    )
                    .expect("append");
                    appended += count;
                    std::thread::sleep(Duration::from_micros(random.next(3_000)));
                }
                appended
            })
        })
        .collect();
    let appended: u64 = threads
        .into_iter()
        .map(|thread| thread.join().expect("writer"))
        .sum();
    done.store(true, Ordering::SeqCst);
    let seen = follower.join().expect("the reader never skipped");
    assert_eq!(seen.len() as u64, appended);
    assert_eq!(seen, (1..=appended).collect::<Vec<_>>());
    assert!(place.verify().ok);
}

fn reader_url(log: &EventLog) -> &str {
    match log.store() {
        eventlog::StoreUrl::Postgres(url) => url,
        eventlog::StoreUrl::Sqlite(_) => unreachable!("a PostgreSQL log"),
    }
}

// ----- sync -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_returns_once_this_handle_includes_what_another_appended() {
    let place = TestLog::new(Backend::Postgres);
    let a = place.open();
    let b = EventLog::open_postgres(
        place.url(),
        LogOptions::default(),
        Some(LocalProjections {
            path: place.projection_path(),
            projector: Box::new(PositionProjector),
        }),
    )
    .expect("open with projections");
    let projection = place.projection_path();
    for round in 0..30u64 {
        let outcome = a
            .append(
                &format!("s-{round}"),
                ExpectedVersion::NoStream,
                events(1 + round % 3),
            )
            .await
            .expect("append on A");
        let synced = b.sync().await.expect("sync B");
        assert!(synced >= outcome.last_position);
        assert!(
            b.head().position >= outcome.last_position,
            "round {round}: B's head {} is behind A's append at {}",
            b.head().position,
            outcome.last_position
        );
        let projected: u64 = raw_connection(&projection)
            .query_row("SELECT COUNT(*) FROM seen", [], |row| row.get(0))
            .expect("count projected rows");
        assert!(projected >= outcome.last_position, "B's projections lag");
    }
    assert_eq!(a.sync().await.expect("sync A"), b.head().position);
}

// ----- import -----

#[test]
fn rows_of_a_sqlite_log_import_verbatim_once_and_a_wrong_row_is_refused() {
    let source_place = TestLog::new(Backend::Sqlite);
    let source = source_place.open();
    for stream in 0..10 {
        source
            .append_blocking(&format!("s-{stream}"), ExpectedVersion::NoStream, events(5))
            .expect("append to the source");
    }
    let rows = source.read_all_blocking(1, 1_000).expect("read the source");
    assert_eq!(rows.len(), 50);

    let place = TestLog::new(Backend::Postgres);
    let target = place.open();
    let head = target.import_blocking(&rows).expect("import");
    assert_eq!(head, source.head());
    let report = place.verify();
    assert!(report.ok && report.checked == 50, "{report:?}");
    assert_eq!(report.head_hash, source.head().hash);
    assert_eq!(
        target.read_all_blocking(1, 1_000).expect("read the target"),
        rows,
        "rows are stored exactly as recorded"
    );

    // A second import of the same rows adds nothing.
    assert_eq!(target.import_blocking(&rows).expect("import again"), head);
    assert_eq!(common::stored_head_postgres(place.url()), 50);

    // A row whose content does not match its hash is refused by position, with nothing of
    // its import stored.
    source
        .append_blocking("later", ExpectedVersion::NoStream, events(10))
        .expect("append more");
    let more = source.read_all_blocking(51, 1_000).expect("read more");
    let mut changed = more.clone();
    changed[2].payload_json = r#"{"changed":true}"#.to_string();
    let error = target.import_blocking(&changed).expect_err("changed row");
    assert!(
        matches!(&error, LogError::Corrupt { reason } if reason.contains("position 53")),
        "{error:?}"
    );
    let mut wrong_hash = more.clone();
    wrong_hash[1].hash = [9; 32];
    let error = target.import_blocking(&wrong_hash).expect_err("wrong hash");
    assert!(
        matches!(&error, LogError::Corrupt { reason } if reason.contains("position 52")),
        "{error:?}"
    );
    assert_eq!(common::stored_head_postgres(place.url()), 50);

    // The right rows still go in, and appends continue the imported chain.
    assert_eq!(
        target.import_blocking(&more).expect("import the rest"),
        source.head()
    );
    common::wait_until(
        "the handle to see the import",
        Duration::from_secs(10),
        || target.head().position == 60,
    );
    let outcome = target
        .append_blocking("after-import", ExpectedVersion::NoStream, vec![event(1)])
        .expect("append after import");
    assert_eq!(outcome.first_position, 61);
    let report = place.verify();
    assert!(report.ok && report.checked == 61, "{report:?}");

    // A SQLite log takes no imports.
    let error = source.import_blocking(&rows).expect_err("sqlite import");
    assert!(matches!(error, LogError::Invalid { .. }), "{error:?}");
}
