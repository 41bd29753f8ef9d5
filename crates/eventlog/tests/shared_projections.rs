//! Projections kept in the PostgreSQL database of the log (`SharedProjector`): they commit
//! with the rows they are built from, a refused request is dropped from its batch without
//! touching the others, rows appended without the projector are folded in (at open and by the
//! next append), two handles never fold a row twice, and `after_commit` follows the commits.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{off_runtime, Backend, TestLog};
use eventlog::{
    AppendRequest, EventLog, ExpectedVersion, LogError, LogOptions, NewEvent, RecordedEvent,
    SharedProjector,
};
use serde_json::json;

/// The text in a payload that makes the test projector refuse the row.
const REFUSE: &str = "refuse-me";

/// What the test projector saw, shared with the test.
#[derive(Default, Clone)]
struct Observed {
    /// How many times `after_commit` ran.
    after_commits: Arc<AtomicUsize>,
    /// The projection position another connection saw during each `after_commit`.
    committed_positions: Arc<Mutex<Vec<u64>>>,
    /// For every refusal: how many rows the refused attempt's batch had inserted.
    refused_batch_rows: Arc<Mutex<Vec<u64>>>,
    /// Rows handed to `apply` that did not continue the projection (skipped or repeated).
    violations: Arc<Mutex<Vec<String>>>,
}

/// Counts rows per stream in `stream_counts`, keeps its position in `projection_position`,
/// records every position it folded in `projected_rows` (a row folded twice breaks its key),
/// and refuses rows whose payload carries `REFUSE`.
struct CountingProjector {
    observed: Observed,
    /// With a URL, `after_commit` reads the position on a connection of its own.
    observer_url: Option<String>,
    observer: Option<postgres::Client>,
}

impl CountingProjector {
    fn new(observed: &Observed) -> Self {
        CountingProjector {
            observed: observed.clone(),
            observer_url: None,
            observer: None,
        }
    }

    fn watching(observed: &Observed, url: &str) -> Self {
        CountingProjector {
            observer_url: Some(url.to_string()),
            ..CountingProjector::new(observed)
        }
    }

    fn boxed(self) -> Option<Box<dyn SharedProjector>> {
        Some(Box::new(self))
    }
}

fn projector_error(context: &str, error: postgres::Error) -> LogError {
    LogError::projector(format!("{context}: {error}"))
}

fn read_position(client: &mut impl postgres::GenericClient) -> Result<u64, postgres::Error> {
    let position: i64 = client
        .query_one("SELECT position FROM projection_position WHERE id = 1", &[])?
        .get(0);
    Ok(position as u64)
}

impl SharedProjector for CountingProjector {
    fn migrate(&mut self, client: &mut postgres::Client) -> Result<(), LogError> {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS stream_counts (
                     stream_id TEXT PRIMARY KEY,
                     rows BIGINT NOT NULL,
                     last_position BIGINT NOT NULL);
                 CREATE TABLE IF NOT EXISTS projection_position (
                     id INTEGER PRIMARY KEY CHECK (id = 1),
                     position BIGINT NOT NULL);
                 CREATE TABLE IF NOT EXISTS projected_rows (position BIGINT PRIMARY KEY);
                 INSERT INTO projection_position (id, position) VALUES (1, 0)
                     ON CONFLICT (id) DO NOTHING;",
            )
            .map_err(|error| projector_error("migrate", error))
    }

    fn position(&mut self, transaction: &mut postgres::Transaction<'_>) -> Result<u64, LogError> {
        read_position(transaction).map_err(|error| projector_error("position", error))
    }

    fn apply(
        &mut self,
        transaction: &mut postgres::Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(());
        };
        if events
            .iter()
            .any(|event| event.payload_json.contains(REFUSE))
        {
            // How many rows this attempt's batch inserted in all (they share one recording
            // time): more than the refused request's own rows means the refusal happened
            // inside a batch of several requests.
            let batch_rows: i64 = transaction
                .query_one(
                    "SELECT COUNT(*) FROM events WHERE recorded_at = \
                     (SELECT recorded_at FROM events WHERE position = $1)",
                    &[&(last.position as i64)],
                )
                .map_err(|error| projector_error("count the batch's rows", error))?
                .get(0);
            self.observed
                .refused_batch_rows
                .lock()
                .expect("refusals")
                .push(batch_rows as u64);
            return Err(LogError::projector(format!(
                "refused the rows of stream {}",
                first.stream_id
            )));
        }
        let projected =
            read_position(transaction).map_err(|error| projector_error("position", error))?;
        let contiguous = events
            .iter()
            .enumerate()
            .all(|(offset, event)| event.position == projected + 1 + offset as u64);
        let one_stream = events
            .iter()
            .all(|event| event.stream_id == first.stream_id);
        if !contiguous || !one_stream {
            let violation = format!(
                "projection at {projected} was handed positions {}..={} ({} rows, one stream: \
                 {one_stream})",
                first.position,
                last.position,
                events.len()
            );
            self.observed
                .violations
                .lock()
                .expect("violations")
                .push(violation.clone());
            return Err(LogError::projector(violation));
        }
        let positions: Vec<i64> = events.iter().map(|event| event.position as i64).collect();
        transaction
            .execute(
                "INSERT INTO projected_rows (position) SELECT * FROM UNNEST($1::bigint[])",
                &[&positions],
            )
            .map_err(|error| projector_error("record positions", error))?;
        transaction
            .execute(
                "INSERT INTO stream_counts (stream_id, rows, last_position) VALUES ($1, $2, $3)
                 ON CONFLICT (stream_id) DO UPDATE
                 SET rows = stream_counts.rows + EXCLUDED.rows,
                     last_position = EXCLUDED.last_position",
                &[
                    &first.stream_id,
                    &(events.len() as i64),
                    &(last.position as i64),
                ],
            )
            .map_err(|error| projector_error("count rows", error))?;
        transaction
            .execute(
                "UPDATE projection_position SET position = $1 WHERE id = 1",
                &[&(last.position as i64)],
            )
            .map_err(|error| projector_error("move the position", error))?;
        Ok(())
    }

    fn after_commit(&mut self) {
        self.observed.after_commits.fetch_add(1, Ordering::SeqCst);
        let Some(url) = self.observer_url.as_deref() else {
            return;
        };
        if self.observer.is_none() {
            self.observer = Some(
                postgres::Client::connect(url, postgres::NoTls).expect("connect the observer"),
            );
        }
        let observer = self.observer.as_mut().expect("the observer connection");
        let position = read_position(observer).expect("read the committed position");
        self.observed
            .committed_positions
            .lock()
            .expect("committed positions")
            .push(position);
    }
}

/// What the projection tables hold.
#[derive(Debug, PartialEq, Eq)]
struct Projection {
    position: u64,
    /// Stream → (rows, last position).
    counts: BTreeMap<String, (u64, u64)>,
    /// How many positions `projected_rows` holds.
    projected_rows: u64,
}

fn projection(log: &TestLog) -> Projection {
    log.pg_with(|client| {
        let position = read_position(client).expect("read the projection position");
        let counts = client
            .query(
                "SELECT stream_id, rows, last_position FROM stream_counts",
                &[],
            )
            .expect("read stream_counts")
            .iter()
            .map(|row| {
                let rows: i64 = row.get(1);
                let last: i64 = row.get(2);
                (row.get::<_, String>(0), (rows as u64, last as u64))
            })
            .collect();
        let projected_rows: i64 = client
            .query_one("SELECT COUNT(*) FROM projected_rows", &[])
            .expect("count projected rows")
            .get(0);
        Projection {
            position,
            counts,
            projected_rows: projected_rows as u64,
        }
    })
}

/// Every stored row, read through a plain handle.
fn all_rows(log: &EventLog) -> Vec<RecordedEvent> {
    off_runtime(|| log.read_all_blocking(1, usize::MAX).expect("read all"))
}

/// What the projection must hold for these rows (which must be the whole log).
fn expected_projection(rows: &[RecordedEvent]) -> Projection {
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in rows {
        let entry = counts.entry(row.stream_id.clone()).or_default();
        entry.0 += 1;
        entry.1 = row.position;
    }
    Projection {
        position: rows.last().map_or(0, |row| row.position),
        counts,
        projected_rows: rows.len() as u64,
    }
}

/// Positions 1..=n without gaps, and stream versions 1..=k in every stream.
fn assert_gap_free(rows: &[RecordedEvent]) {
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row.position, index as u64 + 1, "positions are gap-free");
        let version = versions.entry(row.stream_id.as_str()).or_default();
        *version += 1;
        assert_eq!(
            row.stream_version, *version,
            "versions of {} are gap-free",
            row.stream_id
        );
    }
}

fn open_shared(log: &TestLog, options: LogOptions, projector: CountingProjector) -> EventLog {
    EventLog::open_postgres_shared(log.url(), options, None, projector.boxed())
        .expect("open with the shared projector")
}

fn open_plain(log: &TestLog) -> EventLog {
    EventLog::open_postgres(log.url(), LogOptions::default(), None).expect("open a plain handle")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("build a runtime")
}

fn numbered(stream: &str, number: u64, count: u64) -> Vec<NewEvent> {
    (0..count)
        .map(|index| {
            NewEvent::new(
                "counted",
                json!({ "stream": stream, "number": number, "index": index }),
            )
        })
        .collect()
}

/// Appends `requests` requests from concurrent tasks over `streams` streams, `per_request`
/// events each, on the handles in turn; returns how many events went in.
fn append_concurrently(
    handles: &[EventLog],
    tasks: u64,
    requests_per_task: u64,
    streams: u64,
) -> u64 {
    runtime().block_on(async {
        let mut joins = Vec::new();
        for task in 0..tasks {
            let log = handles[(task as usize) % handles.len()].clone();
            joins.push(tokio::spawn(async move {
                let mut appended = 0;
                for number in 0..requests_per_task {
                    let stream = format!("stream-{}", (task + number) % streams);
                    let count = 1 + (task + number) % 3;
                    let outcome = log
                        .append(
                            &stream,
                            ExpectedVersion::Any,
                            numbered(&stream, task * 1000 + number, count),
                        )
                        .await
                        .expect("append");
                    assert_eq!(outcome.last_position - outcome.first_position + 1, count);
                    appended += count;
                }
                appended
            }));
        }
        let mut total = 0;
        for join in joins {
            total += join.await.expect("append task");
        }
        total
    })
}

// ----- 1. Rows commit with the projection -----

#[test]
fn concurrent_appends_commit_with_their_projection() {
    let test = TestLog::new(Backend::Postgres);
    let observed = Observed::default();
    let log = open_shared(
        &test,
        LogOptions::default(),
        CountingProjector::new(&observed),
    );

    let appended = append_concurrently(std::slice::from_ref(&log), 8, 25, 6);

    let rows = all_rows(&log);
    assert_eq!(rows.len() as u64, appended);
    assert_gap_free(&rows);
    let head = test.stored_head();
    assert_eq!(head, appended);
    let projection = projection(&test);
    assert_eq!(projection, expected_projection(&rows));
    assert_eq!(projection.position, head, "the projection is at the head");
    assert_eq!(projection.counts.len(), 6);
    assert!(observed.violations.lock().expect("violations").is_empty());
    assert!(test.verify().ok, "the chain verifies");
}

// ----- 2. A refused request in a batch -----

/// Queues 200 appends at once (the writer waits a little for each batch, so many share one),
/// one of which carries rows the projector refuses.
fn refused_request_in_a_batch(refused: &[u64]) {
    let test = TestLog::new(Backend::Postgres);
    let observed = Observed::default();
    let options = LogOptions {
        max_batch_wait: Duration::from_millis(30),
        ..LogOptions::default()
    };
    let log = open_shared(&test, options, CountingProjector::new(&observed));

    const REQUESTS: u64 = 200;
    let answers = runtime().block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(REQUESTS as usize));
        let mut joins = Vec::new();
        for number in 0..REQUESTS {
            let log = log.clone();
            let barrier = Arc::clone(&barrier);
            let refuse = refused.contains(&number);
            joins.push(tokio::spawn(async move {
                let (stream, events) = if refuse {
                    let stream = format!("refused-{number}");
                    // The second row carries the marker: the whole request must go.
                    let mut events = numbered(&stream, number, 2);
                    events.push(NewEvent::new("counted", json!({ "note": REFUSE })));
                    (stream, events)
                } else {
                    let stream = format!("stream-{}", number % 7);
                    (stream.clone(), numbered(&stream, number, 1 + number % 2))
                };
                barrier.wait().await;
                let answer = log.append(&stream, ExpectedVersion::Any, events).await;
                (number, stream, answer)
            }));
        }
        let mut answers = Vec::new();
        for join in joins {
            answers.push(join.await.expect("append task"));
        }
        answers
    });

    let mut expected_events = 0;
    for (number, stream, answer) in &answers {
        if refused.contains(number) {
            match answer {
                Err(LogError::Projector { reason }) => {
                    assert!(reason.contains(stream.as_str()), "reason {reason}")
                }
                other => panic!("request {number} should be refused, got {other:?}"),
            }
            let stored = off_runtime(|| log.read_stream_blocking(stream, 0).expect("read"));
            assert!(stored.is_empty(), "the refused rows are not stored");
        } else {
            let outcome = answer.as_ref().expect("the other requests succeed");
            assert!(!outcome.duplicate);
            expected_events += 1 + number % 2;
        }
    }

    let rows = all_rows(&log);
    assert_eq!(rows.len() as u64, expected_events);
    assert_gap_free(&rows);
    assert!(
        rows.iter().all(|row| !row.payload_json.contains(REFUSE)),
        "no refused row is stored"
    );
    let projection = projection(&test);
    assert_eq!(projection, expected_projection(&rows));
    assert_eq!(projection.position, test.stored_head());
    assert!(observed.violations.lock().expect("violations").is_empty());

    // Each refusal happened in a batch that held other requests' rows as well (the refused
    // request itself has 3 rows).
    let refusals = observed
        .refused_batch_rows
        .lock()
        .expect("refusals")
        .clone();
    assert_eq!(refusals.len(), refused.len(), "each refusal is met once");
    assert!(
        refusals.iter().all(|rows| *rows > 3),
        "the refused requests shared their batches: {refusals:?}"
    );
    // Several requests were committed per batch: fewer distinct commit times than requests.
    let mut batches: Vec<_> = rows.iter().map(|row| row.recorded_at).collect();
    batches.dedup();
    assert!(
        batches.len() < (REQUESTS as usize) / 4,
        "requests were batched: {} batches",
        batches.len()
    );
    assert!(test.verify().ok, "the chain verifies");
}

#[test]
fn a_refused_request_is_dropped_from_its_batch() {
    refused_request_in_a_batch(&[117]);
}

#[test]
fn several_refused_requests_are_dropped_from_their_batches() {
    refused_request_in_a_batch(&[3, 60, 61, 150, 199]);
}

// ----- 3. Catch-up -----

#[test]
fn rows_appended_without_the_projector_are_folded_in() {
    let test = TestLog::new(Backend::Postgres);
    let plain = open_plain(&test);
    // More rows than one catch-up step reads (2,000), in several streams.
    for round in 0..5u64 {
        let requests = (0..5u64)
            .map(|stream| AppendRequest {
                stream_id: format!("plain-{stream}"),
                expected: ExpectedVersion::Any,
                events: numbered("plain", round * 10 + stream, 90 + stream * 7),
            })
            .collect();
        for answer in plain.append_many_blocking(requests) {
            answer.expect("plain append");
        }
    }
    let before_open = test.stored_head();
    assert!(before_open > 2_000, "{before_open} rows");

    let observed = Observed::default();
    let shared = open_shared(
        &test,
        LogOptions::default(),
        CountingProjector::new(&observed),
    );
    // At open, before any append: every row is folded in.
    let at_open = projection(&test);
    assert_eq!(at_open.position, before_open);
    assert_eq!(at_open, expected_projection(&all_rows(&shared)));
    assert!(observed.after_commits.load(Ordering::SeqCst) >= 1);

    // Rows appended by the plain handle while the shared one is open...
    for number in 0..30 {
        let stream = format!("late-{}", number % 4);
        plain
            .append_blocking(&stream, ExpectedVersion::Any, numbered(&stream, number, 2))
            .expect("plain append");
    }
    let behind = projection(&test);
    assert_eq!(
        behind.position, before_open,
        "the plain handle does not project"
    );
    assert!(test.stored_head() > before_open);

    // ...are folded in by the shared handle's next append.
    let outcome = shared
        .append_blocking("shared-0", ExpectedVersion::Any, numbered("shared-0", 0, 3))
        .expect("shared append");
    assert_eq!(outcome.last_position, test.stored_head());
    let rows = all_rows(&shared);
    assert_gap_free(&rows);
    let after = projection(&test);
    assert_eq!(after.position, outcome.last_position);
    assert_eq!(after, expected_projection(&rows));
    assert!(observed.violations.lock().expect("violations").is_empty());

    // Opening again finds nothing to fold and repeats nothing.
    drop(shared);
    let again = open_shared(
        &test,
        LogOptions::default(),
        CountingProjector::new(&observed),
    );
    assert_eq!(projection(&test), after);
    drop(again);
}

// ----- 4. Two shared handles -----

#[test]
fn two_shared_handles_never_fold_a_row_twice() {
    let test = TestLog::new(Backend::Postgres);
    let first_observed = Observed::default();
    let second_observed = Observed::default();
    let first = open_shared(
        &test,
        LogOptions::default(),
        CountingProjector::new(&first_observed),
    );
    let second = open_shared(
        &test,
        LogOptions::default(),
        CountingProjector::new(&second_observed),
    );
    // A plain handle writes too, so both shared handles meet rows to catch up with.
    let plain = open_plain(&test);

    let appended = std::thread::scope(|scope| {
        let plain_rows = scope.spawn(|| {
            let mut count = 0;
            for number in 0..20 {
                let stream = format!("plain-{}", number % 3);
                plain
                    .append_blocking(&stream, ExpectedVersion::Any, numbered(&stream, number, 1))
                    .expect("plain append");
                count += 1;
            }
            count
        });
        let shared_rows = append_concurrently(&[first.clone(), second.clone()], 10, 20, 5);
        shared_rows + plain_rows.join().expect("plain writer")
    });
    // A last append on each shared handle folds in whatever the plain handle left behind.
    for log in [&first, &second] {
        log.append_blocking("last", ExpectedVersion::Any, numbered("last", 0, 1))
            .expect("last append");
    }

    let rows = all_rows(&first);
    assert_eq!(rows.len() as u64, appended + 2);
    assert_gap_free(&rows);
    let projection = projection(&test);
    assert_eq!(projection, expected_projection(&rows));
    assert_eq!(projection.position, test.stored_head());
    assert!(first_observed
        .violations
        .lock()
        .expect("violations")
        .is_empty());
    assert!(second_observed
        .violations
        .lock()
        .expect("violations")
        .is_empty());
    assert!(
        first_observed.after_commits.load(Ordering::SeqCst) > 0
            && second_observed.after_commits.load(Ordering::SeqCst) > 0,
        "both handles appended"
    );
}

// ----- 5. after_commit -----

#[test]
fn after_commit_follows_every_commit_with_rows() {
    let test = TestLog::new(Backend::Postgres);
    let observed = Observed::default();
    let log = open_shared(
        &test,
        LogOptions::default(),
        CountingProjector::watching(&observed, test.url()),
    );
    assert_eq!(
        observed.after_commits.load(Ordering::SeqCst),
        0,
        "an empty log has nothing to fold at open"
    );

    let mut last_positions = Vec::new();
    let mut repeated = Vec::new();
    for number in 0..5 {
        let events = numbered("s", number, 2);
        repeated = events.clone();
        let outcome = log
            .append_blocking("s", ExpectedVersion::Any, events)
            .expect("append");
        last_positions.push(outcome.last_position);
    }
    assert_eq!(observed.after_commits.load(Ordering::SeqCst), 5);
    // Each call saw, on another connection, the projection of its own commit: it ran after
    // the commit, not before.
    assert_eq!(
        *observed
            .committed_positions
            .lock()
            .expect("committed positions"),
        last_positions
    );

    // A repeat appends nothing, a refused request alone appends nothing: no call.
    let repeat = log
        .append_blocking("s", ExpectedVersion::Any, repeated)
        .expect("repeat");
    assert!(repeat.duplicate);
    let refused = log.append_blocking(
        "r",
        ExpectedVersion::Any,
        vec![NewEvent::new("counted", json!({ "note": REFUSE }))],
    );
    assert!(matches!(refused, Err(LogError::Projector { .. })));
    assert_eq!(observed.after_commits.load(Ordering::SeqCst), 5);
    assert_eq!(projection(&test).position, 10);
}
