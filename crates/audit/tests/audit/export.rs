//! The JSON Lines export: its lines are those of `RecordedEvent::to_export_line`, ranges
//! start from kept checkpoints, and the recipe of `docs/audit.md` (the Python verifier
//! printed there too) accepts what the export writes.

use audit::{
    export_jsonl, verify_jsonl, ChainStart, Checkpoint, ExportLine, LogFile, PositionRange,
    RowSource,
};
use chrono::Utc;
use eventlog::Problem;

use super::fixtures::small_log;

#[test]
fn export_lines_carry_the_same_fields_as_the_logs_own_export_line() {
    let directory = tempfile::tempdir().expect("create a temp dir");
    let log = small_log(&directory.path().join("events.db"), 5);
    let rows = log.read_all_blocking(1, 100).expect("read the rows");
    let file = LogFile::open(log.path()).expect("open the log file");
    let raw = file.read_export_lines(1, 100).expect("read raw lines");
    for (row, raw) in rows.iter().zip(&raw) {
        let from_log: ExportLine =
            serde_json::from_str(&row.to_export_line()).expect("parse the log's export line");
        assert_eq!(from_log, ExportLine::from_recorded(row));
        assert_eq!(
            &from_log, raw,
            "the stored text differs from the log's reading"
        );
        assert_eq!(raw.to_recorded().expect("convert back"), *row);
    }
}

#[test]
fn a_range_export_starts_from_a_kept_checkpoint() {
    let directory = tempfile::tempdir().expect("create a temp dir");
    let log = small_log(&directory.path().join("events.db"), 10);
    let rows = log.read_all_blocking(1, 100).expect("read the rows");
    let kept_at_4 = Checkpoint {
        position: 4,
        hash: rows[3].hash,
        recorded_at: Utc::now(),
    };
    let mut export = Vec::new();
    let mut reported = Vec::new();
    let summary = export_jsonl(
        &log,
        PositionRange {
            from: 5,
            to: Some(8),
        },
        &mut export,
        |written, total| reported.push((written, total)),
    )
    .expect("export a range");
    assert_eq!(
        (summary.rows, summary.first_position, summary.last_position),
        (4, 5, 8)
    );
    assert_eq!(summary.chain_start, hex::encode(rows[3].hash));
    assert_eq!(summary.last_hash, hex::encode(rows[7].hash));
    assert_eq!(reported.last(), Some(&(4, 4)));
    assert_eq!(String::from_utf8_lossy(&export).lines().count(), 4);

    let anchored = verify_jsonl(export.as_slice(), &[kept_at_4]).expect("verify");
    assert!(anchored.chain.ok, "{anchored:?}");
    assert_eq!(anchored.start, ChainStart::Checkpoint(4));
    assert_eq!(anchored.chain.head_position, 8);
    assert_eq!(anchored.chain.head_hash, rows[7].hash);

    let unanchored = verify_jsonl(export.as_slice(), &[]).expect("verify");
    assert!(unanchored.chain.ok);
    assert_eq!(unanchored.start, ChainStart::Unanchored(4));

    let mut wrong = kept_at_4;
    wrong.hash[0] ^= 1;
    let contradicted = verify_jsonl(export.as_slice(), &[wrong]).expect("verify");
    let bad = contradicted.chain.first_bad.expect("a broken link");
    assert_eq!((bad.position, bad.problem), (5, Problem::BrokenLink));

    assert!(export_jsonl(
        &log,
        PositionRange { from: 0, to: None },
        &mut Vec::new(),
        |_, _| {}
    )
    .is_err());
    assert!(export_jsonl(
        &log,
        PositionRange {
            from: 6,
            to: Some(5)
        },
        &mut Vec::new(),
        |_, _| {}
    )
    .is_err());
}

#[test]
fn malformed_and_reordered_lines_are_named() {
    let directory = tempfile::tempdir().expect("create a temp dir");
    let log = small_log(&directory.path().join("events.db"), 4);
    let mut export = Vec::new();
    export_jsonl(&log, PositionRange::all(), &mut export, |_, _| {}).expect("export");
    let text = String::from_utf8(export).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();

    let garbled = format!("{}\n{}\nnot json\n{}\n", lines[0], lines[1], lines[3]);
    let report = verify_jsonl(garbled.as_bytes(), &[]).expect("verify");
    let bad = report.chain.first_bad.expect("a bad line");
    assert_eq!((bad.position, bad.problem), (3, Problem::ChangedRow));
    assert!(bad.detail.contains("line 3"), "{}", bad.detail);

    let reordered = format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3]);
    let report = verify_jsonl(reordered.as_bytes(), &[]).expect("verify");
    let bad = report.chain.first_bad.expect("a gap");
    assert_eq!((bad.position, bad.problem), (2, Problem::MissingRow));

    let backwards = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[0]);
    let report = verify_jsonl(backwards.as_bytes(), &[]).expect("verify");
    let bad = report.chain.first_bad.expect("out of order");
    assert_eq!((bad.position, bad.problem), (3, Problem::BrokenLink));

    let empty = verify_jsonl(&b""[..], &[]).expect("verify");
    assert!(empty.chain.ok);
    assert_eq!(empty.chain.checked, 0);
}

/// The Python verifier printed in `docs/audit.md`, as an auditor would copy it.
fn python_verifier() -> Option<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/audit.md"))
        .expect("read docs/audit.md");
    let start = doc.find("```python\n")? + "```python\n".len();
    let end = start + doc[start..].find("```")?;
    Some(doc[start..end].to_string())
}

#[test]
fn the_python_verifier_of_the_docs_accepts_an_export_and_finds_a_change() {
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output();
    if !python.is_ok_and(|output| output.status.success()) {
        eprintln!("python3 is not installed: skipping the docs' verifier");
        return;
    }
    let script = python_verifier().expect("docs/audit.md prints a python verifier");
    let directory = tempfile::tempdir().expect("create a temp dir");
    let log = small_log(&directory.path().join("events.db"), 6);
    let script_path = directory.path().join("verify_export.py");
    std::fs::write(&script_path, script).expect("write the script");
    let export_path = directory.path().join("export.jsonl");
    let mut file = std::fs::File::create(&export_path).expect("create the export");
    export_jsonl(&log, PositionRange::all(), &mut file, |_, _| {}).expect("export");
    drop(file);
    let run = |path: &std::path::Path| {
        std::process::Command::new("python3")
            .arg(&script_path)
            .arg(path)
            .output()
            .expect("run python3")
    };
    let output = run(&export_path);
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{printed}");
    assert_eq!(
        printed.trim(),
        format!("ok 6 {}", hex::encode(log.head().hash))
    );

    let text = std::fs::read_to_string(&export_path).expect("read the export");
    let tampered = text.replacen("note 3", "note 9", 1);
    let tampered_path = directory.path().join("tampered.jsonl");
    std::fs::write(&tampered_path, tampered).expect("write the tampered export");
    let output = run(&tampered_path);
    assert!(!output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    let position = log
        .read_all_blocking(1, 100)
        .expect("read the rows")
        .iter()
        .find(|row| row.payload_json.contains("note 3"))
        .map(|row| row.position)
        .expect("a row with note 3");
    assert_eq!(
        printed.trim(),
        format!("changed row at position {position}")
    );
}
