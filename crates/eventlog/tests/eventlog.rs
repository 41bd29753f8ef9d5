//! Behaviour tests of the event log on both backends (a SQLite file and a PostgreSQL
//! database): appends, conflicts, idempotency, reads, projectors, tamper detection by
//! `verify`, and a writer killed with SIGKILL mid-append. The tests of the PostgreSQL
//! multi-writer guarantees are in `tests/postgres.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{
    event, events, projector_error, raw_connection, wait_until, Backend, PositionProjector,
    TestDatabase, TestLog,
};
use eventlog::rusqlite::{self, Connection};
use eventlog::{
    verify_path, verify_store, AppendOutcome, AppendRequest, Checkpoint, EventLog, ExpectedVersion,
    LocalProjections, LogError, LogOptions, NewEvent, Problem, Projector, RecordedEvent,
    Synchronous, GENESIS_HASH,
};
use serde_json::json;
use uuid::Uuid;

async fn appended_events_read_back_with_every_envelope_field(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    let first = log
        .append("ticket-a", ExpectedVersion::NoStream, events(3))
        .await
        .expect("append to a new stream");
    assert_eq!(
        first,
        AppendOutcome {
            first_position: 1,
            last_position: 3,
            stream_version: 3,
            duplicate: false
        }
    );
    let second = log
        .append("ticket-b", ExpectedVersion::Any, events(2))
        .await
        .expect("append to another stream");
    assert_eq!(
        (
            second.first_position,
            second.last_position,
            second.stream_version
        ),
        (4, 5, 2)
    );
    let third = log
        .append("ticket-a", ExpectedVersion::Exact(3), events(1))
        .await
        .expect("append at the right version");
    assert_eq!((third.first_position, third.stream_version), (6, 4));

    let stream = log.read_stream("ticket-a", 0).await.expect("read stream");
    assert_eq!(
        stream.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        stream.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3, 6]
    );
    let tail = log
        .read_stream("ticket-a", 3)
        .await
        .expect("read stream tail");
    assert_eq!(tail.len(), 2);

    let all = log.read_all(1, 100).await.expect("read all");
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].prev_hash, GENESIS_HASH);
    for pair in all.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "rows chain in position order"
        );
        assert_eq!(
            pair[1].position,
            pair[0].position + 1,
            "positions have no gaps"
        );
    }
    let limited = log.read_all(5, 1).await.expect("read all with a limit");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].position, 5);

    let row = &all[0];
    assert_eq!(row.stream_id, "ticket-a");
    assert_eq!(row.event_type, "thing.happened");
    assert_eq!(row.schema_version, 1);
    assert_eq!(row.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!(row.causation_id, None);
    assert_eq!(
        row.payload_value().expect("payload is JSON")["text"],
        "反馈 APP卡顿"
    );
    assert_eq!(row.actor_value().expect("actor is JSON")["role"], "agent");
    assert_eq!(
        row.occurred_at.timestamp_subsec_nanos() % 1_000,
        0,
        "microsecond precision"
    );
    assert!(row.recorded_at >= row.occurred_at);

    let head = log.head();
    assert_eq!(head.position, 6);
    assert_eq!(head.hash, all[5].hash);
    let by_id = log.read_event(all[2].event_id).await.expect("read by id");
    assert_eq!(by_id.as_ref(), Some(&all[2]));
    assert_eq!(
        log.read_event(Uuid::now_v7())
            .await
            .expect("read unknown id"),
        None
    );
}

async fn a_stale_expected_version_is_a_conflict_that_appends_nothing(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    log.append("s", ExpectedVersion::NoStream, events(2))
        .await
        .expect("first append");
    let error = log
        .append("s", ExpectedVersion::NoStream, events(1))
        .await
        .expect_err("the stream exists");
    match error {
        LogError::Conflict {
            stream_id,
            expected,
            actual,
        } => {
            assert_eq!(stream_id, "s");
            assert_eq!(expected, ExpectedVersion::NoStream);
            assert_eq!(actual, 2);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let error = log
        .append("s", ExpectedVersion::Exact(1), events(1))
        .await
        .expect_err("version 1 is stale");
    assert!(
        matches!(error, LogError::Conflict { actual: 2, .. }),
        "{error:?}"
    );
    let error = log
        .append("new", ExpectedVersion::Exact(4), events(1))
        .await
        .expect_err("the stream does not exist");
    assert!(
        matches!(error, LogError::Conflict { actual: 0, .. }),
        "{error:?}"
    );
    assert_eq!(log.head().position, 2);
    assert_eq!(log.read_all(1, 10).await.expect("read all").len(), 2);
}

async fn concurrent_appenders_to_one_stream_never_share_a_version(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    let appenders = 16;
    let attempts_each = 40;
    let mut tasks = Vec::new();
    for appender in 0..appenders {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let (mut successes, mut conflicts) = (0u64, 0u64);
            for attempt in 0..attempts_each {
                let version = log
                    .read_stream("contended", 0)
                    .await
                    .expect("read stream")
                    .last()
                    .map_or(0, |event| event.stream_version);
                let request = vec![event(appender * 1000 + attempt), event(1)];
                match log
                    .append("contended", ExpectedVersion::Exact(version), request)
                    .await
                {
                    Ok(outcome) => {
                        assert_eq!(outcome.stream_version, version + 2);
                        successes += 1;
                    }
                    Err(LogError::Conflict { actual, .. }) => {
                        assert!(actual > version, "a conflict means someone else moved on");
                        conflicts += 1;
                    }
                    Err(other) => panic!("unexpected error {other:?}"),
                }
            }
            (successes, conflicts)
        }));
    }
    let mut successes = 0;
    let mut conflicts = 0;
    for task in tasks {
        let (task_successes, task_conflicts) = task.await.expect("appender task");
        successes += task_successes;
        conflicts += task_conflicts;
    }
    assert_eq!(successes + conflicts, appenders * attempts_each);
    assert!(
        conflicts > 0,
        "16 appenders racing on one stream must collide at least once"
    );
    let stream = log.read_stream("contended", 0).await.expect("read stream");
    assert_eq!(stream.len() as u64, successes * 2);
    for (index, event) in stream.iter().enumerate() {
        assert_eq!(event.stream_version, index as u64 + 1);
    }
    let report = log.verify(None, |_, _| {}).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checked, successes * 2);
}

async fn repeating_a_request_returns_the_original_positions(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    log.append("other", ExpectedVersion::Any, events(2))
        .await
        .expect("append");
    let request = events(3);
    let original = log
        .append("s", ExpectedVersion::NoStream, request.clone())
        .await
        .expect("append");
    log.append("s", ExpectedVersion::Exact(3), events(1))
        .await
        .expect("append more");
    // The repeat carries a stale expected version: idempotency wins over the check.
    let repeat = log
        .append("s", ExpectedVersion::NoStream, request.clone())
        .await
        .expect("repeat");
    assert_eq!(
        repeat,
        AppendOutcome {
            duplicate: true,
            ..original
        }
    );
    let repeat_blocking = {
        let log = log.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || log.append_blocking("s", ExpectedVersion::Any, request))
            .await
            .expect("blocking task")
            .expect("blocking repeat")
    };
    assert_eq!(repeat_blocking, repeat);
    assert_eq!(log.head().position, 6, "repeats append nothing");

    // The same first event id in another stream is not a repeat.
    let error = log
        .append("elsewhere", ExpectedVersion::Any, request[..1].to_vec())
        .await
        .expect_err("event id taken by another stream");
    assert!(
        matches!(&error, LogError::DuplicateEventId { stored_stream_id, .. } if stored_stream_id == "s"),
        "{error:?}"
    );
    // A later event id already stored fails the request and appends none of it.
    let mixed = vec![event(9), request[1].clone()];
    let error = log
        .append("s", ExpectedVersion::Any, mixed)
        .await
        .expect_err("second event id taken");
    assert!(
        matches!(error, LogError::DuplicateEventId { .. }),
        "{error:?}"
    );
    assert_eq!(log.head().position, 6);
    assert_eq!(log.read_stream("s", 0).await.expect("read").len(), 4);
}

async fn one_failing_request_does_not_fail_the_others_of_a_batch(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    log.append("taken", ExpectedVersion::Any, events(1))
        .await
        .expect("append");
    let requests = vec![
        AppendRequest {
            stream_id: "a".into(),
            expected: ExpectedVersion::NoStream,
            events: events(2),
        },
        AppendRequest {
            stream_id: "taken".into(),
            expected: ExpectedVersion::NoStream,
            events: events(1),
        },
        AppendRequest {
            stream_id: "".into(),
            expected: ExpectedVersion::Any,
            events: events(1),
        },
        AppendRequest {
            stream_id: "b".into(),
            expected: ExpectedVersion::NoStream,
            events: events(1),
        },
    ];
    let results = log.append_many(requests).await;
    assert_eq!(results.len(), 4);
    let first = results[0].as_ref().expect("first request succeeds");
    assert_eq!((first.first_position, first.last_position), (2, 3));
    assert!(
        matches!(results[1], Err(LogError::Conflict { .. })),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(&results[2], Err(LogError::Invalid { field, .. }) if field == "stream_id"),
        "{:?}",
        results[2]
    );
    let last = results[3].as_ref().expect("last request succeeds");
    assert_eq!(
        last.first_position, 4,
        "positions stay gapless around a failed request"
    );
    let report = log.verify(None, |_, _| {}).expect("verify");
    assert!(report.ok && report.checked == 4, "{report:?}");
}

async fn malformed_requests_name_the_field(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    let cases: Vec<(Vec<NewEvent>, &str)> = vec![
        (Vec::new(), "events"),
        (
            vec![event(1).with_event_id(Uuid::nil())],
            "events[0].event_id",
        ),
        (vec![NewEvent::new("", json!({}))], "events[0].event_type"),
        (
            vec![event(1), event(2).with_ids(Some(String::new()), None)],
            "events[1].correlation_id",
        ),
    ];
    for (request, expected_field) in cases {
        let error = log
            .append("s", ExpectedVersion::Any, request)
            .await
            .expect_err("malformed request");
        assert!(
            matches!(&error, LogError::Invalid { field, .. } if field == expected_field),
            "expected {expected_field}, got {error:?}"
        );
    }
    let twice = event(1);
    let error = log
        .append("s", ExpectedVersion::Any, vec![twice.clone(), twice])
        .await
        .expect_err("the same id twice");
    assert!(matches!(&error, LogError::Invalid { field, .. } if field == "events[1].event_id"));
    assert_eq!(log.head().position, 0);
}

async fn wait_for_returns_once_the_head_passes_the_position(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    let mut subscription = log.subscribe();
    assert_eq!(*subscription.borrow(), 0);
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move { log.wait_for(2).await })
    };
    log.append("s", ExpectedVersion::Any, events(2))
        .await
        .expect("append");
    assert!(!waiter.is_finished() || log.head().position > 2);
    subscription.changed().await.expect("head published");
    assert_eq!(*subscription.borrow_and_update(), 2);
    log.append("s", ExpectedVersion::Any, events(1))
        .await
        .expect("append");
    let position = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("wait_for returns")
        .expect("waiter task");
    assert_eq!(position, 3);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), log.wait_for(0))
            .await
            .expect("at once"),
        3
    );
}

fn the_log_reopens_where_it_stopped_and_keeps_the_chain(backend: Backend) {
    let place = TestLog::new(backend);
    let options = LogOptions {
        synchronous: Synchronous::Normal,
        ..LogOptions::default()
    };
    let log = place.open_with(options.clone());
    log.append_blocking("s", ExpectedVersion::NoStream, events(5))
        .expect("append");
    let head = log.head();
    drop(log);
    let log = place.open_with(options);
    assert_eq!(log.head(), head);
    let outcome = log
        .append_blocking("s", ExpectedVersion::Exact(5), events(2))
        .expect("append after reopen");
    assert_eq!(outcome.first_position, 6);
    let report = log.verify(None, |_, _| {}).expect("verify");
    assert!(report.ok && report.checked == 7, "{report:?}");
    let checked_from_checkpoint = log
        .verify(Some(head.checkpoint()), |_, _| {})
        .expect("verify");
    assert!(checked_from_checkpoint.ok);
    assert_eq!(checked_from_checkpoint.checked, 2);
    drop(log);
    match backend {
        Backend::Sqlite => {
            let connection = raw_connection(&place.path());
            let (version, journal): (u32, String) = connection
                .query_row(
                    "SELECT (SELECT MAX(version) FROM schema_migrations), (SELECT journal_mode FROM pragma_journal_mode)",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .expect("read schema version");
            assert_eq!(version, eventlog::LATEST_SCHEMA_VERSION);
            assert_eq!(journal, "wal");
        }
        Backend::Postgres => {
            let migrations: i64 = place
                .pg_with(|client| {
                    client
                        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
                        .and_then(|row| row.try_get(0))
                })
                .expect("read schema version");
            assert!(migrations >= 1, "the migrations are recorded once");
        }
    }
}

// ----- Tampering behind the crate's back -----

/// A log with `count` events in streams of 7, closed again.
fn closed_log_with(backend: Backend, count: u64) -> TestLog {
    let place = TestLog::new(backend);
    let log = place.open();
    let mut appended = 0;
    let mut stream = 0;
    while appended < count {
        let size = 7.min(count - appended);
        log.append_blocking(
            &format!("stream-{stream}"),
            ExpectedVersion::NoStream,
            events(size),
        )
        .expect("append");
        appended += size;
        stream += 1;
    }
    drop(log);
    place
}

fn updates_and_deletes_are_refused_by_the_database(backend: Backend) {
    let place = closed_log_with(backend, 3);
    let message = place
        .execute("UPDATE events SET payload = '{}' WHERE position = 2")
        .expect_err("update refused");
    assert!(message.contains("append-only"), "{message}");
    let message = place
        .execute("DELETE FROM events WHERE position = 3")
        .expect_err("delete refused");
    assert!(message.contains("append-only"), "{message}");
    if backend == Backend::Postgres {
        let message = place
            .execute("TRUNCATE events")
            .expect_err("truncate refused");
        assert!(message.contains("append-only"), "{message}");
    }
    let report = place.verify();
    assert!(report.ok && report.checked == 3, "{report:?}");
}

fn first_bad(place: &TestLog) -> (u64, Problem) {
    let report = place.verify();
    assert!(!report.ok, "tampering must be found: {report:?}");
    let bad = report.first_bad.expect("a bad row is named");
    assert_eq!(
        report.checked,
        bad.position - 1,
        "rows before the bad one were checked"
    );
    (bad.position, bad.problem)
}

fn verify_names_a_changed_payload_at_its_position(backend: Backend) {
    let place = closed_log_with(backend, 100);
    place.disable_triggers();
    place
        .execute(
            r#"UPDATE events SET payload = '{"number":36,"text":"changed"}' WHERE position = 37"#,
        )
        .expect("tamper");
    assert_eq!(first_bad(&place), (37, Problem::ChangedRow));
}

fn verify_names_every_kind_of_changed_field(backend: Backend) {
    let tampers: &[&str] = match backend {
        Backend::Sqlite => &[
            "UPDATE events SET actor = '{}' WHERE position = 11",
            "UPDATE events SET occurred_at = '2020-01-01T00:00:00.000000Z' WHERE position = 11",
            "UPDATE events SET stream_version = 99 WHERE position = 11",
            "UPDATE events SET event_type = 'other' WHERE position = 11",
            "UPDATE events SET correlation_id = NULL WHERE position = 11",
            "UPDATE events SET event_id = randomblob(16) WHERE position = 11",
            "UPDATE events SET payload = x'00' WHERE position = 11",
            "UPDATE events SET hash = randomblob(32) WHERE position = 11",
        ],
        Backend::Postgres => &[
            "UPDATE events SET actor = '{}' WHERE position = 11",
            "UPDATE events SET occurred_at = '2020-01-01T00:00:00.000000Z' WHERE position = 11",
            "UPDATE events SET stream_version = 99 WHERE position = 11",
            "UPDATE events SET event_type = 'other' WHERE position = 11",
            "UPDATE events SET correlation_id = NULL WHERE position = 11",
            "UPDATE events SET event_id = gen_random_uuid() WHERE position = 11",
            "UPDATE events SET payload = '' WHERE position = 11",
            "UPDATE events SET recorded_at = '2020-01-01T00:00:00.000000Z' WHERE position = 11",
            "UPDATE events SET hash = sha256('forged'::bytea) WHERE position = 11",
        ],
    };
    for tamper in tampers {
        let place = closed_log_with(backend, 20);
        place.disable_triggers();
        place.execute(tamper).expect("tamper");
        assert_eq!(first_bad(&place), (11, Problem::ChangedRow), "{tamper}");
    }
}

fn verify_names_a_deleted_row_as_missing(backend: Backend) {
    let place = closed_log_with(backend, 60);
    place.disable_triggers();
    place
        .execute("DELETE FROM events WHERE position = 50")
        .expect("tamper");
    assert_eq!(first_bad(&place), (50, Problem::MissingRow));
}

fn verify_names_swapped_rows_as_a_broken_link(backend: Backend) {
    let place = closed_log_with(backend, 30);
    place.disable_triggers();
    // Move rows 12 and 13 out of the way and back in swapped order, hashes and all.
    place
        .execute(
            "UPDATE events SET position = 1000012 WHERE position = 12;
             UPDATE events SET position = 12 WHERE position = 13;
             UPDATE events SET position = 13 WHERE position = 1000012;",
        )
        .expect("swap rows");
    assert_eq!(first_bad(&place), (12, Problem::BrokenLink));
}

fn verify_finds_a_row_rewritten_with_a_recomputed_hash_at_the_next_link(backend: Backend) {
    let place = closed_log_with(backend, 30);
    let row = {
        let log = place.open();
        log.read_all_blocking(20, 1).expect("read").remove(0)
    };
    // A forger who changes row 20 and recomputes its hash correctly breaks row 21's link.
    let forged_payload = r#"{"forged":true}"#;
    let caller = eventlog::CallerFields {
        stream_id: &row.stream_id,
        event_id: &row.event_id.hyphenated().to_string(),
        event_type: &row.event_type,
        schema_version: row.schema_version,
        occurred_at: &eventlog::format_timestamp(&row.occurred_at),
        actor_json: &row.actor_json,
        correlation_id: row.correlation_id.as_deref().unwrap_or(""),
        causation_id: row.causation_id.as_deref().unwrap_or(""),
        payload_json: forged_payload,
    };
    let writer = eventlog::WriterFields {
        stream_version: row.stream_version,
        position: row.position,
        recorded_at: &eventlog::format_timestamp(&row.recorded_at),
    };
    let forged_hash = eventlog::chain_hash(&row.prev_hash, &eventlog::row_digest(&caller, &writer));
    place.disable_triggers();
    match backend {
        Backend::Sqlite => {
            raw_connection(&place.path())
                .execute(
                    "UPDATE events SET payload = ?1, hash = ?2 WHERE position = 20",
                    rusqlite::params![forged_payload, &forged_hash[..]],
                )
                .expect("forge");
        }
        Backend::Postgres => {
            place
                .pg_with(|client| {
                    client.execute(
                        "UPDATE events SET payload = $1, hash = $2 WHERE position = 20",
                        &[&forged_payload, &&forged_hash[..]],
                    )
                })
                .expect("forge");
        }
    }
    assert_eq!(first_bad(&place), (21, Problem::BrokenLink));
}

fn verify_from_a_checkpoint_checks_only_later_rows_and_rejects_a_wrong_one(backend: Backend) {
    let place = closed_log_with(backend, 40);
    let store = place.store();
    let full = place.verify();
    assert!(full.ok && full.checked == 40 && full.head_position == 40);
    let row_25 = {
        let log = place.open();
        log.read_all_blocking(25, 1).expect("read").remove(0)
    };
    let checkpoint = Checkpoint {
        position: 25,
        hash: row_25.hash,
    };
    let mut progress_calls = Vec::new();
    let partial = verify_store(&store, Some(checkpoint), |checked, total| {
        progress_calls.push((checked, total))
    })
    .expect("verify from checkpoint");
    assert!(partial.ok && partial.checked == 15, "{partial:?}");
    assert_eq!(progress_calls.last(), Some(&(15, 15)));
    assert_eq!(partial.head_hash, full.head_hash);

    let wrong = Checkpoint {
        position: 25,
        hash: [7; 32],
    };
    let report = verify_store(&store, Some(wrong), |_, _| {}).expect("verify");
    let bad = report.first_bad.expect("mismatch reported");
    assert_eq!(
        (bad.position, bad.problem),
        (25, Problem::CheckpointMismatch)
    );
    let beyond = Checkpoint {
        position: 41,
        hash: [0; 32],
    };
    let report = verify_store(&store, Some(beyond), |_, _| {}).expect("verify");
    assert_eq!(
        report.first_bad.map(|bad| bad.problem),
        Some(Problem::CheckpointMismatch)
    );
}

fn verify_reports_a_store_that_is_not_a_log(backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let directory = tempfile::tempdir().expect("temp dir");
            let path = directory.path().join("empty.db");
            raw_connection(&path)
                .execute_batch("CREATE TABLE t (x)")
                .expect("create");
            let error = verify_path(&path, None, |_, _| {}).expect_err("not a log");
            assert!(matches!(error, LogError::Corrupt { .. }), "{error:?}");
        }
        Backend::Postgres => {
            let database = TestDatabase::create();
            database
                .with_client(|client| client.batch_execute("CREATE TABLE t (x INTEGER)"))
                .expect("create");
            let error = eventlog::postgres::verify_postgres(&database.url, None, |_, _| {})
                .expect_err("not a log");
            assert!(matches!(error, LogError::Corrupt { .. }), "{error:?}");
        }
    }
}

// ----- Projectors -----

/// Counts events per stream in a table of its own; refuses payloads with `"fail": true`.
struct CountingProjector;

impl Projector for CountingProjector {
    fn migrate(&mut self, connection: &Connection) -> Result<(), LogError> {
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS stream_counts (stream_id TEXT PRIMARY KEY, events INTEGER NOT NULL)",
            )
            .map_err(projector_error)
    }

    fn apply(
        &mut self,
        transaction: &rusqlite::Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError> {
        for event in events {
            if event.payload_value()?["fail"] == json!(true) {
                return Err(LogError::Projector {
                    reason: format!("refusing event at position {}", event.position),
                });
            }
            transaction
                .execute(
                    "INSERT INTO stream_counts (stream_id, events) VALUES (?1, 1)
                     ON CONFLICT (stream_id) DO UPDATE SET events = events + 1",
                    [&event.stream_id],
                )
                .map_err(projector_error)?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn sqlite_projections_commit_with_their_events_and_a_refusal_rolls_back_one_request() {
    let place = TestLog::new(Backend::Sqlite);
    let path = place.path();
    let log = place.open_with_projector(Box::new(CountingProjector));
    let bad_event = NewEvent::new("thing.happened", json!({ "fail": true }));
    let results = log
        .append_many(vec![
            AppendRequest {
                stream_id: "a".into(),
                expected: ExpectedVersion::Any,
                events: events(3),
            },
            AppendRequest {
                stream_id: "b".into(),
                expected: ExpectedVersion::Any,
                events: vec![event(1), bad_event],
            },
            AppendRequest {
                stream_id: "c".into(),
                expected: ExpectedVersion::Any,
                events: events(1),
            },
        ])
        .await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(LogError::Projector { .. })),
        "{:?}",
        results[1]
    );
    // A repeat of an appended request must not be projected twice.
    let repeat = log
        .append(
            "a",
            ExpectedVersion::Any,
            results_events_of_stream(&log, "a").await,
        )
        .await
        .expect("repeat");
    assert!(repeat.duplicate);
    drop(log);

    let connection = raw_connection(&path);
    assert_eq!(
        stream_counts(&connection),
        BTreeMap::from([("a".to_string(), 3), ("c".to_string(), 1)])
    );
    let stored: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM events WHERE stream_id = 'b'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(stored, 0, "the refused request's events are rolled back");
    let report = verify_path(&path, None, |_, _| {}).expect("verify");
    assert!(report.ok && report.checked == 4, "{report:?}");
}

fn stream_counts(connection: &Connection) -> BTreeMap<String, i64> {
    connection
        .prepare("SELECT stream_id, events FROM stream_counts")
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The positions a projection saw, in the order it saw them.
fn projected_positions(connection: &Connection) -> Vec<u64> {
    connection
        .prepare("SELECT position FROM seen ORDER BY seq")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Records every position it is given, in order, and counts events per stream.
struct OrderProjector;

impl Projector for OrderProjector {
    fn migrate(&mut self, connection: &Connection) -> Result<(), LogError> {
        CountingProjector.migrate(connection)?;
        PositionProjector.migrate(connection)
    }

    fn apply(
        &mut self,
        transaction: &rusqlite::Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError> {
        CountingProjector.apply(transaction, events)?;
        PositionProjector.apply(transaction, events)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projections_follow_every_writer_in_order_and_resume_after_reopen() {
    let place = TestLog::new(Backend::Postgres);
    let log = place.open_with_projector(Box::new(OrderProjector));
    let other = place.open();
    let projection = place.projection_path();
    for round in 0..5u64 {
        let theirs = other
            .append(
                &format!("other-{round}"),
                ExpectedVersion::NoStream,
                events(3),
            )
            .await
            .expect("append on the other handle");
        let ours = log
            .append(
                &format!("ours-{round}"),
                ExpectedVersion::NoStream,
                events(2),
            )
            .await
            .expect("append on the projecting handle");
        assert!(ours.first_position > theirs.last_position);
        // An answered append is in the local projections already.
        let positions = projected_positions(&raw_connection(&projection));
        assert!(
            positions.contains(&ours.last_position),
            "position {} answered before it was projected",
            ours.last_position
        );
    }
    assert_eq!(log.sync().await.expect("sync"), 25);
    drop(log);
    let connection = raw_connection(&projection);
    assert_eq!(
        projected_positions(&connection),
        (1..=25).collect::<Vec<_>>()
    );
    assert_eq!(stream_counts(&connection).len(), 10);
    drop(connection);

    // Rows appended while the projections are closed are projected on reopen, once.
    other
        .append("while-closed", ExpectedVersion::NoStream, events(4))
        .await
        .expect("append");
    let log = place.open_with_projector(Box::new(OrderProjector));
    assert_eq!(
        log.head().position,
        29,
        "a reopened handle catches up first"
    );
    drop(log);
    let connection = raw_connection(&projection);
    assert_eq!(
        projected_positions(&connection),
        (1..=29).collect::<Vec<_>>()
    );
    assert_eq!(stream_counts(&connection).get("while-closed"), Some(&4));
    drop(connection);

    // A projection file built from another database is refused.
    let elsewhere = common::off_runtime(|| closed_log_with(Backend::Postgres, 40));
    let error = EventLog::open_postgres(
        elsewhere.url(),
        LogOptions::default(),
        Some(LocalProjections {
            path: projection.clone(),
            projector: Box::new(OrderProjector),
        }),
    )
    .expect_err("projections of another log");
    assert!(matches!(error, LogError::Corrupt { .. }), "{error:?}");
    let shorter = common::off_runtime(|| closed_log_with(Backend::Postgres, 5));
    let error = EventLog::open_postgres(
        shorter.url(),
        LogOptions::default(),
        Some(LocalProjections {
            path: projection,
            projector: Box::new(OrderProjector),
        }),
    )
    .expect_err("projections ahead of the log");
    assert!(matches!(error, LogError::Corrupt { .. }), "{error:?}");
}

/// The stored events of a stream turned back into a request (same ids), for repeats.
async fn results_events_of_stream(log: &EventLog, stream_id: &str) -> Vec<NewEvent> {
    log.read_stream(stream_id, 0)
        .await
        .expect("read stream")
        .into_iter()
        .map(|recorded| {
            NewEvent::new(
                recorded.event_type.clone(),
                recorded.payload_value().expect("payload"),
            )
            .with_event_id(recorded.event_id)
        })
        .collect()
}

// ----- A writer killed with SIGKILL -----

const CRASH_CHILD_ENV: &str = "EVENTLOG_CRASH_CHILD_DB";
const CRASH_CHILD_URL_ENV: &str = "EVENTLOG_CRASH_CHILD_URL";
const CRASH_ROUND_ENV: &str = "EVENTLOG_CRASH_ROUND";
const CRASH_EVENTS_PER_REQUEST: u64 = 25;

/// The child role of the crash tests: does nothing unless the parent set one of the env
/// vars; then appends from four threads until it is killed.
#[test]
fn crash_child_appends_until_killed() {
    let log = if let Some(path) = std::env::var_os(CRASH_CHILD_ENV) {
        EventLog::open(PathBuf::from(path), LogOptions::default()).expect("child opens log")
    } else if let Ok(url) = std::env::var(CRASH_CHILD_URL_ENV) {
        EventLog::open_postgres(&url, LogOptions::default(), None).expect("child opens log")
    } else {
        return;
    };
    let round = std::env::var(CRASH_ROUND_ENV).unwrap_or_default();
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let log = log.clone();
            let round = round.clone();
            std::thread::spawn(move || {
                for request in 0u64.. {
                    let stream_id = format!("crash-{round}-{thread}-{request}");
                    let events = (0..CRASH_EVENTS_PER_REQUEST)
                        .map(|number| {
                            NewEvent::new(
                                "marker",
                                json!({ "stream": stream_id, "number": number }),
                            )
                        })
                        .collect();
                    log.append_blocking(&stream_id, ExpectedVersion::NoStream, events)
                        .expect("child append");
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

fn a_writer_killed_mid_append_leaves_only_whole_requests(backend: Backend) {
    let place = TestLog::new(backend);
    // Three rounds on the same log: each child recovers what the last one left behind.
    for round in 0..3 {
        let start = place.stored_head();
        let mut command = Command::new(std::env::current_exe().expect("test binary path"));
        command
            .args([
                "--exact",
                "crash_child_appends_until_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_ROUND_ENV, round.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match backend {
            Backend::Sqlite => command.env(CRASH_CHILD_ENV, place.path()),
            Backend::Postgres => command.env(CRASH_CHILD_URL_ENV, place.url()),
        };
        let mut child = command.spawn().expect("start child");
        wait_until(
            "the child to append 10,000 events",
            Duration::from_secs(120),
            || place.stored_head() >= start + 10_000,
        );
        // `Child::kill` sends SIGKILL on Unix: no destructor, no final commit.
        child.kill().expect("kill child");
        let status = child.wait().expect("reap child");
        assert!(!status.success(), "the child was killed, not finished");
    }

    let log = place.open();
    let report = log.verify(None, |_, _| {}).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checked, report.head_position);
    assert!(report.head_position >= 30_000);
    let mut per_stream: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut from = 1;
    loop {
        let page = log.read_all_blocking(from, 10_000).expect("read all");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in page {
            per_stream
                .entry(event.stream_id)
                .or_default()
                .push(event.stream_version);
        }
    }
    for (stream_id, versions) in &per_stream {
        let whole: Vec<u64> = (1..=CRASH_EVENTS_PER_REQUEST).collect();
        assert_eq!(
            versions, &whole,
            "stream {stream_id} holds a partial request"
        );
    }
    assert_eq!(
        per_stream.len() as u64 * CRASH_EVENTS_PER_REQUEST,
        report.head_position
    );
    // The log keeps working after the crash.
    let outcome = log
        .append_blocking("after-crash", ExpectedVersion::NoStream, events(1))
        .expect("append after crash");
    assert_eq!(outcome.first_position, report.head_position + 1);
}

// ----- The audit recipe in docs/audit.md -----

fn the_python_verifier_in_the_audit_doc_accepts_an_export_and_names_a_changed_line(
    backend: Backend,
) {
    let python = ["python3", "python"].into_iter().find(|candidate| {
        Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    });
    let Some(python) = python else {
        eprintln!("skipping: no python on this machine");
        return;
    };
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.md");
    let doc = std::fs::read_to_string(&doc_path).expect("read docs/audit.md");
    let script = doc
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/audit.md has a python block");
    let place = TestLog::new(backend);
    let directory = place.directory.path();
    let script_path = directory.join("verify_export.py");
    std::fs::write(&script_path, script).expect("write script");

    let log = place.open();
    log.append_blocking("ticket-x", ExpectedVersion::NoStream, events(4))
        .expect("append");
    let with_causation = event(5).with_ids(None, Some("command-7".to_string()));
    log.append_blocking("ticket-y", ExpectedVersion::Any, vec![with_causation])
        .expect("append");
    let lines: Vec<String> = log
        .read_all_blocking(1, 100)
        .expect("read")
        .iter()
        .map(RecordedEvent::to_export_line)
        .collect();
    let export = directory.join("export.jsonl");
    std::fs::write(&export, lines.join("\n") + "\n").expect("write export");
    let run = |file: &Path| {
        Command::new(python)
            .arg(&script_path)
            .arg(file)
            .output()
            .expect("run python")
    };
    let good = run(&export);
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(stdout.contains("ok 5"), "{stdout}");
    assert!(stdout.contains(&hex::encode(log.head().hash)), "{stdout}");

    let mut tampered = lines.clone();
    tampered[2] = tampered[2].replace("APP卡顿", "APP fine");
    let tampered_path = directory.join("tampered.jsonl");
    std::fs::write(&tampered_path, tampered.join("\n") + "\n").expect("write export");
    let bad = run(&tampered_path);
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success(), "{stdout}");
    assert!(stdout.contains("position 3"), "{stdout}");
}

fn handles_are_cheap_to_clone_and_the_writer_stops_with_the_last_one(backend: Backend) {
    let place = TestLog::new(backend);
    let log = place.open();
    let clones: Vec<EventLog> = (0..8).map(|_| log.clone()).collect();
    let shared = Arc::new(clones);
    let threads: Vec<_> = (0..8)
        .map(|index| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                shared[index]
                    .append_blocking(&format!("s-{index}"), ExpectedVersion::NoStream, events(2))
                    .expect("append from a clone")
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    drop(shared);
    drop(log);
    // Every handle is gone, so the writer has stopped and the log is free for another one.
    let reopened = place.open();
    assert_eq!(reopened.head().position, 16);
}

async fn concurrent_appends_share_transactions(backend: Backend) {
    let place = TestLog::new(backend);
    // A batch window makes the grouping certain even on a busy machine; without it, requests
    // that arrive during a commit form the next batch.
    let options = LogOptions {
        max_batch_wait: Duration::from_millis(200),
        ..LogOptions::default()
    };
    let log = place.open_with(options);
    let tasks: Vec<_> = (0..64)
        .map(|index| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(&format!("s-{index}"), ExpectedVersion::NoStream, events(1))
                    .await
                    .expect("append")
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let all = log.read_all(1, 100).await.expect("read all");
    assert_eq!(all.len(), 64);
    // Every row of one transaction carries that transaction's recorded_at.
    let transactions: std::collections::BTreeSet<_> =
        all.iter().map(|event| event.recorded_at).collect();
    assert!(
        transactions.len() < 32,
        "64 concurrent appends took {} transactions",
        transactions.len()
    );
}

#[test]
fn sqlite_the_checkpointer_copies_the_wal_into_the_database_while_the_log_is_open() {
    let place = TestLog::new(Backend::Sqlite);
    let path = place.path();
    let log = place.open();
    let database_size = || std::fs::metadata(&path).map_or(0, |metadata| metadata.len());
    let empty_size = database_size();
    // About 8 MB of rows: well past the 1,000-page WAL that wakes the checkpointer.
    for request in 0..40 {
        log.append_blocking(
            &format!("s-{request}"),
            ExpectedVersion::NoStream,
            events(500),
        )
        .expect("append");
    }
    // Only a checkpoint writes pages into the database file itself.
    wait_until("a checkpoint", Duration::from_secs(30), || {
        database_size() > empty_size + 2_000_000
    });
    let report = log.verify(None, |_, _| {}).expect("verify");
    assert!(report.ok && report.checked == 20_000, "{report:?}");
}

// ----- Every behavioural test on both backends -----

/// Generates, in the invoking module, one test per listed body, run on `$backend`.
macro_rules! on_backend {
    ($backend:expr; async: $($async_name:ident),* ; multi: $($multi_name:ident),* ; sync: $($sync_name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $async_name() {
                super::$async_name($backend).await
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $multi_name() {
                super::$multi_name($backend).await
            }
        )*
        $(
            #[test]
            fn $sync_name() {
                super::$sync_name($backend)
            }
        )*
    };
}

macro_rules! behaviour_tests {
    ($backend:expr) => {
        on_backend!(
            $backend;
            async: appended_events_read_back_with_every_envelope_field,
                a_stale_expected_version_is_a_conflict_that_appends_nothing,
                repeating_a_request_returns_the_original_positions,
                one_failing_request_does_not_fail_the_others_of_a_batch,
                malformed_requests_name_the_field,
                wait_for_returns_once_the_head_passes_the_position;
            multi: concurrent_appenders_to_one_stream_never_share_a_version,
                concurrent_appends_share_transactions;
            sync: the_log_reopens_where_it_stopped_and_keeps_the_chain,
                updates_and_deletes_are_refused_by_the_database,
                verify_names_a_changed_payload_at_its_position,
                verify_names_every_kind_of_changed_field,
                verify_names_a_deleted_row_as_missing,
                verify_names_swapped_rows_as_a_broken_link,
                verify_finds_a_row_rewritten_with_a_recomputed_hash_at_the_next_link,
                verify_from_a_checkpoint_checks_only_later_rows_and_rejects_a_wrong_one,
                verify_reports_a_store_that_is_not_a_log,
                a_writer_killed_mid_append_leaves_only_whole_requests,
                the_python_verifier_in_the_audit_doc_accepts_an_export_and_names_a_changed_line,
                handles_are_cheap_to_clone_and_the_writer_stops_with_the_last_one,
        );
    };
}

mod sqlite {
    use super::Backend;
    behaviour_tests!(Backend::Sqlite);
}

mod postgres {
    use super::Backend;
    behaviour_tests!(Backend::Postgres);
}

mod properties {
    //! Property tests of the chain: any history verifies, and any changed payload is found at
    //! its own position.

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn any_history_verifies_and_any_changed_payload_is_found_where_it_is(
            requests in proptest::collection::vec((0usize..4, 1u64..5), 1..12),
            target in any::<prop::sample::Index>(),
        ) {
            let directory = tempfile::tempdir().expect("temp dir");
            let path = directory.path().join("log.db");
            let options = LogOptions { synchronous: Synchronous::Normal, ..LogOptions::default() };
            let log = EventLog::open(&path, options).expect("open");
            let mut total = 0;
            for (stream, count) in &requests {
                log.append_blocking(&format!("s-{stream}"), ExpectedVersion::Any, events(*count))
                    .expect("append");
                total += count;
            }
            drop(log);
            let report = verify_path(&path, None, |_, _| {}).expect("verify");
            prop_assert!(report.ok);
            prop_assert_eq!(report.checked, total);

            let position = target.index(total as usize) as u64 + 1;
            let connection = raw_connection(&path);
            connection
                .execute_batch("DROP TRIGGER events_are_never_updated; DROP TRIGGER events_are_never_deleted;")
                .expect("drop triggers");
            connection
                .execute(
                    "UPDATE events SET payload = '{\"changed\":true}' WHERE position = ?1",
                    [position],
                )
                .expect("tamper");
            drop(connection);
            let report = verify_path(&path, None, |_, _| {}).expect("verify");
            let bad = report.first_bad.expect("found");
            prop_assert_eq!((bad.position, bad.problem), (position, Problem::ChangedRow));
        }
    }
}
