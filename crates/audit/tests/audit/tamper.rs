//! Tampering with a real log file by raw SQL (after dropping the append-only triggers), and
//! finding it at the right position: with `eventlog::verify_path`, with the independent
//! verifier over an export, and, for a consistent rewrite or cut-off rows, only with a kept
//! checkpoint.

use std::path::{Path, PathBuf};

use audit::{
    append_checkpoint, export_jsonl, read_checkpoints, take_checkpoint, verify_against,
    verify_jsonl, Checkpoint, ExportVerifyReport, LogFile, PositionRange, RowSource,
};
use chrono::Utc;
use eventlog::{chain_hash, row_digest, CallerFields, Problem, WriterFields};
use rusqlite::Connection;

use super::fixtures::small_log;

const ROWS: u64 = 12;

/// A closed log of `ROWS` rows, and checkpoints kept of it at positions 3 and 12.
struct Fixture {
    _directory: tempfile::TempDir,
    db: PathBuf,
    checkpoints: PathBuf,
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().expect("create a temp dir");
    let db = directory.path().join("events.db");
    let checkpoints = directory.path().join("kept").join("checkpoints.jsonl");
    std::fs::create_dir_all(directory.path().join("kept")).expect("create the checkpoint folder");
    let log = small_log(&db, 0);
    let nothing = take_checkpoint(&log, &checkpoints, Utc::now()).expect("an empty log");
    assert_eq!(nothing, None);
    drop(log);
    let log = small_log(&db, 3);
    take_checkpoint(&log, &checkpoints, Utc::now()).expect("keep a checkpoint");
    drop(log);
    let log = small_log(&db, ROWS - 3);
    assert_eq!(log.head().position, ROWS);
    let kept = take_checkpoint(&log, &checkpoints, Utc::now()).expect("keep a checkpoint");
    assert_eq!(
        kept.map(|checkpoint| checkpoint.hash),
        Some(log.head().hash)
    );
    drop(log);
    Fixture {
        _directory: directory,
        db,
        checkpoints,
    }
}

/// A writable connection with the append-only triggers dropped, as a forger would have.
fn forger(db: &Path) -> Connection {
    let connection = Connection::open(db).expect("open a raw connection");
    connection
        .execute_batch(
            "DROP TRIGGER events_are_never_updated; DROP TRIGGER events_are_never_deleted;",
        )
        .expect("drop the append-only triggers");
    connection
}

/// Runs `sql` on the log as a forger would (see [`forger`]).
fn forge(db: &Path, sql: &str) {
    forger(db).execute_batch(sql).expect("forge the log");
}

/// Exports the whole log and checks the export with the independent verifier.
fn verify_export(db: &Path, checkpoints: &[Checkpoint]) -> ExportVerifyReport {
    let file = LogFile::open(db).expect("open the log file");
    let mut export = Vec::new();
    export_jsonl(&file, PositionRange::all(), &mut export, |_, _| {}).expect("export the log");
    verify_jsonl(export.as_slice(), checkpoints).expect("read the export")
}

/// Asserts the three verifiers agree on (position, problem) or on success.
fn assert_found(fixture: &Fixture, expected: Option<(u64, Problem)>) {
    let chain = eventlog::verify_path(&fixture.db, None, |_, _| {}).expect("verify the log");
    let from_chain = chain
        .first_bad
        .as_ref()
        .map(|bad| (bad.position, bad.problem));
    let export = verify_export(&fixture.db, &[]);
    let from_export = export
        .chain
        .first_bad
        .as_ref()
        .map(|bad| (bad.position, bad.problem));
    assert_eq!(from_chain, expected, "eventlog verify: {chain:?}");
    assert_eq!(from_export, expected, "export verify: {export:?}");
}

#[test]
fn an_untouched_log_verifies_three_ways_with_the_same_head() {
    let fixture = fixture();
    let kept = read_checkpoints(&fixture.checkpoints).unwrap();
    assert_eq!(kept.len(), 2);
    let chain = eventlog::verify_path(&fixture.db, None, |_, _| {}).unwrap();
    assert!(chain.ok);
    let export = verify_export(&fixture.db, &kept);
    assert!(export.chain.ok, "{export:?}");
    assert_eq!(export.chain.checked, chain.checked);
    assert_eq!(export.chain.head_position, chain.head_position);
    assert_eq!(export.chain.head_hash, chain.head_hash);
    assert_eq!(export.checkpoints_matched, 2);
    let against = verify_against(&fixture.db, &kept, |_, _| {}).unwrap();
    assert!(against.ok, "{against:?}");
    assert_eq!(against.last_matching.map(|cp| cp.position), Some(ROWS));
}

#[test]
fn one_changed_payload_byte_is_found_at_its_position() {
    let fixture = fixture();
    let connection = forger(&fixture.db);
    let payload: String = connection
        .query_row("SELECT payload FROM events WHERE position = 5", [], |row| {
            row.get(0)
        })
        .unwrap();
    let changed = payload.replacen("note", "nose", 1);
    assert_ne!(changed, payload);
    assert_eq!(changed.len(), payload.len());
    connection
        .execute(
            "UPDATE events SET payload = ?1 WHERE position = 5",
            [&changed],
        )
        .unwrap();
    drop(connection);
    assert_found(&fixture, Some((5, Problem::ChangedRow)));
    // The kept checkpoints still match (the stored hashes were not touched); the chain
    // check finds the change.
    let kept = read_checkpoints(&fixture.checkpoints).unwrap();
    let against = verify_against(&fixture.db, &kept, |_, _| {}).unwrap();
    assert!(!against.ok);
    assert_eq!(against.first_mismatch, None);
    assert_eq!(against.first_bad().map(|bad| bad.position), Some(5));
}

#[test]
fn a_deleted_row_is_found_at_its_position() {
    let fixture = fixture();
    forge(&fixture.db, "DELETE FROM events WHERE position = 7");
    assert_found(&fixture, Some((7, Problem::MissingRow)));
}

#[test]
fn two_swapped_rows_are_found_at_the_first_of_them() {
    let fixture = fixture();
    forge(
        &fixture.db,
        "UPDATE events SET position = 1000 WHERE position = 4;
         UPDATE events SET position = 4 WHERE position = 5;
         UPDATE events SET position = 5 WHERE position = 1000;",
    );
    assert_found(&fixture, Some((4, Problem::BrokenLink)));
}

/// Changes the payload at `position` and recomputes every hash from there on, as a forger
/// who knows the recipe would.
fn rewrite_consistently(db: &Path, position: u64) {
    let rows = LogFile::open(db)
        .expect("open the log file")
        .read_rows(1, 10_000)
        .expect("read every row");
    let connection = forger(db);
    let mut chain = rows[(position - 2) as usize].hash;
    for row in rows.iter().filter(|row| row.position >= position) {
        let payload = if row.position == position {
            row.payload_json.replacen("note", "NOTE", 1)
        } else {
            row.payload_json.clone()
        };
        let event_id = row.event_id.hyphenated().to_string();
        let occurred_at = eventlog::format_timestamp(&row.occurred_at);
        let recorded_at = eventlog::format_timestamp(&row.recorded_at);
        let caller = CallerFields {
            stream_id: &row.stream_id,
            event_id: &event_id,
            event_type: &row.event_type,
            schema_version: row.schema_version,
            occurred_at: &occurred_at,
            actor_json: &row.actor_json,
            correlation_id: row.correlation_id.as_deref().unwrap_or(""),
            causation_id: row.causation_id.as_deref().unwrap_or(""),
            payload_json: &payload,
        };
        let writer = WriterFields {
            stream_version: row.stream_version,
            position: row.position,
            recorded_at: &recorded_at,
        };
        let hash = chain_hash(&chain, &row_digest(&caller, &writer));
        connection
            .execute(
                "UPDATE events SET payload = ?1, prev_hash = ?2, hash = ?3 WHERE position = ?4",
                rusqlite::params![payload, &chain[..], &hash[..], row.position],
            )
            .expect("rewrite a row");
        chain = hash;
    }
}

#[test]
fn a_consistent_rewrite_passes_the_chain_and_is_found_by_a_kept_checkpoint() {
    let fixture = fixture();
    rewrite_consistently(&fixture.db, 6);
    // The chain alone is fooled, both ways.
    assert_found(&fixture, None);
    // The checkpoint kept at position 3 still matches; the one kept at 12 does not.
    let kept = read_checkpoints(&fixture.checkpoints).unwrap();
    let against = verify_against(&fixture.db, &kept, |_, _| {}).unwrap();
    assert!(!against.ok);
    assert!(against.chain.ok);
    assert_eq!(against.last_matching.map(|cp| cp.position), Some(3));
    let mismatch = against.first_mismatch.as_ref().unwrap();
    assert_eq!(
        (mismatch.position, mismatch.problem),
        (ROWS, Problem::CheckpointMismatch)
    );
    assert!(
        mismatch.detail.contains("after position 3"),
        "{}",
        mismatch.detail
    );
    // The same through an export checked against the kept checkpoints.
    let export = verify_export(&fixture.db, &kept);
    let bad = export.chain.first_bad.unwrap();
    assert_eq!(
        (bad.position, bad.problem),
        (ROWS, Problem::CheckpointMismatch)
    );
    // And through eventlog's own verify from the last checkpoint.
    let from_checkpoint =
        eventlog::verify_path(&fixture.db, Some(kept[1].to_log()), |_, _| {}).unwrap();
    assert_eq!(
        from_checkpoint
            .first_bad
            .map(|bad| (bad.position, bad.problem)),
        Some((ROWS, Problem::CheckpointMismatch))
    );
}

#[test]
fn rows_cut_off_the_end_are_found_only_by_a_kept_checkpoint() {
    let fixture = fixture();
    forge(&fixture.db, "DELETE FROM events WHERE position > 10");
    assert_found(&fixture, None);
    let kept = read_checkpoints(&fixture.checkpoints).unwrap();
    let against = verify_against(&fixture.db, &kept, |_, _| {}).unwrap();
    let mismatch = against.first_mismatch.unwrap();
    assert_eq!(
        (mismatch.position, mismatch.problem),
        (ROWS, Problem::CheckpointMismatch)
    );
    assert!(mismatch.detail.contains("cut off"), "{}", mismatch.detail);
    let export = verify_export(&fixture.db, &kept);
    assert!(export.chain.ok);
    assert_eq!(export.checkpoints_after_end, 1);
}

#[test]
fn checkpoint_files_survive_a_torn_last_line_and_name_bad_lines() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("checkpoints.jsonl");
    let first = Checkpoint {
        position: 7,
        hash: [0xab; 32],
        recorded_at: Utc::now(),
    };
    append_checkpoint(&path, &first).unwrap();
    let read = read_checkpoints(&path).unwrap();
    assert_eq!(read[0].position, 7);
    assert_eq!(read[0].hash, [0xab; 32]);
    assert_eq!(
        eventlog::format_timestamp(&read[0].recorded_at),
        eventlog::format_timestamp(&first.recorded_at)
    );
    // A crash left half a line; the next append starts on a line of its own.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, b"{\"position\":8,\"ha"))
        .unwrap();
    append_checkpoint(&path, &first).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3);
    match read_checkpoints(&path) {
        Err(audit::AuditError::MalformedCheckpoint { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected a malformed line 2, got {other:?}"),
    }
    assert_eq!(
        Checkpoint::parse_line(text.lines().last().unwrap(), 3)
            .unwrap()
            .position,
        7
    );
}
