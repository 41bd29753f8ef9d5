//! Snapshot tests of the auditor's offline output and of an erasure, rendered from fixed
//! data: the rule audit of a month (table and JSON), a log checked against kept checkpoints
//! (matching and rewritten), a checked export (anchored and not), an export's summary, and
//! the answer of `cloop customer erase`.

// Test helpers outside `#[test]` functions build fixed, valid data.
#![allow(clippy::unwrap_used)]

use audit::{
    ChainStart, Checkpoint, CheckpointReport, Evidence, ExportSummary, ExportVerifyReport,
    MonthAudit, Rule, Violation,
};
use chrono::{DateTime, FixedOffset, Utc};
use cli::render::View;
use cli::render_audit::{
    checkpoint_report_json, checkpoint_report_text, erasure_json, erasure_text,
    export_summary_text, export_verify_json, export_verify_text, rule_audit_json, rule_audit_text,
};
use cli::style::Style;
use eventlog::{BadRow, Problem, VerifyReport};
use expect_test::expect;
use proto::v1;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn view() -> View {
    View {
        offset: FixedOffset::east_opt(8 * 3600).unwrap(),
        style: Style::PLAIN,
        lang: reports::Lang::En,
    }
}

fn evidence(position: u64, event_type: &str, when: &str) -> Evidence {
    Evidence {
        position,
        event_id: format!("0194f0d2-6c1e-7b3a-9f00-00000000{position:04}"),
        event_type: event_type.into(),
        at: at(when),
    }
}

fn month_audit(violations: Vec<Violation>) -> MonthAudit {
    MonthAudit {
        month: "2026-11".into(),
        from: at("2026-10-31T16:00:00Z"),
        to: at("2026-11-30T16:00:00Z"),
        as_of: at("2026-12-01T02:00:00Z"),
        classify_within_seconds: 3600,
        policy_version: "cfg-7c1e".into(),
        head_position: 1_204,
        tickets_checked: 57,
        tickets_with_violations: if violations.is_empty() { 0 } else { 2 },
        violations,
    }
}

fn violations() -> Vec<Violation> {
    vec![
        Violation {
            ticket_id: "261102-0Q8ZK-N1W4TF".into(),
            rule: Rule::ResponseLate,
            round: 1,
            due: Some(at("2026-11-02T04:00:00Z")),
            happened_at: Some(at("2026-11-02T05:30:00Z")),
            detail: "the first response came 1 h 30 min after the respond-by deadline".into(),
            evidence: vec![
                evidence(12, "received", "2026-11-02T02:00:00Z"),
                evidence(40, "acknowledged", "2026-11-02T05:30:00Z"),
            ],
        },
        Violation {
            ticket_id: "261103-0Q9AA-K2M8QX".into(),
            rule: Rule::ArchivedWithoutReview,
            round: 2,
            due: None,
            happened_at: Some(at("2026-11-05T09:00:00Z")),
            detail: "archived in round 2 without the customer's rating".into(),
            evidence: vec![evidence(311, "archived", "2026-11-05T09:00:00Z")],
        },
    ]
}

#[test]
fn the_rule_audit_lists_counts_findings_and_their_evidence() {
    expect![[r#"
        month:           2026-11
        received:        2026-11-01 00:00 +08:00 – 2026-12-01 00:00 +08:00 (before)
        as of:           2026-12-01 10:00 +08:00
        log position:    1204
        configuration:   cfg-7c1e
        tickets checked: 57
        with findings:   2 tickets, 2 findings

        rule                       findings
        ─────────────────────────  ────────
        classified late                   0
        response late                     1
        resolution late                   0
        archived without review           1
        solution without approval         0

        ticket               rule                     round  due                      happened                 evidence
        ───────────────────  ───────────────────────  ─────  ───────────────────────  ───────────────────────  ──────────────────────────────
        261102-0Q8ZK-N1W4TF  response late                1  2026-11-02 12:00 +08:00  2026-11-02 13:30 +08:00  #12 received, #40 acknowledged
        261103-0Q9AA-K2M8QX  archived without review      2  –                        2026-11-05 17:00 +08:00  #311 archived

        261102-0Q8ZK-N1W4TF response_late: the first response came 1 h 30 min after the respond-by deadline
        261103-0Q9AA-K2M8QX archived_without_review: archived in round 2 without the customer's rating
    "#]].assert_eq(&rule_audit_text(&month_audit(violations()), &view()));
}

#[test]
fn a_clean_month_says_so() {
    expect![[r#"
        month:           2026-11
        received:        2026-11-01 00:00 +08:00 – 2026-12-01 00:00 +08:00 (before)
        as of:           2026-12-01 10:00 +08:00
        log position:    1204
        configuration:   cfg-7c1e
        tickets checked: 57
        with findings:   0 tickets, 0 findings

        every ticket received in the month was handled by the rules
    "#]]
    .assert_eq(&rule_audit_text(&month_audit(Vec::new()), &view()));
}

#[test]
fn the_rule_audit_json_names_rules_in_snake_case_and_instants_in_utc() {
    let json = rule_audit_json(&month_audit(violations()));
    assert_eq!(json["violations"][0]["rule"], "response_late");
    assert_eq!(json["violations"][1]["due"], serde_json::Value::Null);
    assert_eq!(json["violations"][0]["evidence"][1]["position"], 40);
    assert_eq!(json["from"], "2026-10-31T16:00:00Z");
    assert_eq!(json["tickets_checked"], 57);
}

fn chain(ok: bool, first_bad: Option<BadRow>) -> VerifyReport {
    VerifyReport {
        checked: 1_204,
        head_position: 1_204,
        head_hash: [0xab; 32],
        ok,
        first_bad,
    }
}

fn checkpoint(position: u64, byte: u8, when: &str) -> Checkpoint {
    Checkpoint {
        position,
        hash: [byte; 32],
        recorded_at: at(when),
    }
}

#[test]
fn checkpoints_that_match_and_one_that_shows_a_rewrite() {
    let matching = CheckpointReport {
        chain: chain(true, None),
        checkpoints_checked: 3,
        last_matching: Some(checkpoint(1_200, 0x11, "2026-11-30T16:00:00.000123Z")),
        first_mismatch: None,
        ok: true,
    };
    expect![[r#"
        ok: 1204 events checked, head 1204 (abababababababababababababababababababababababababababababababab)
        chain: every hash and link is right
        checkpoints: 3 compared, last matching: position 1200 kept at 2026-11-30T16:00:00.000123Z
    "#]].assert_eq(&checkpoint_report_text(&matching));
    let rewritten = CheckpointReport {
        chain: chain(true, None),
        checkpoints_checked: 3,
        last_matching: Some(checkpoint(400, 0x11, "2026-11-10T16:00:00Z")),
        first_mismatch: Some(BadRow {
            position: 800,
            problem: Problem::CheckpointMismatch,
            detail: "the row at position 800 does not have the hash of the checkpoint kept at 2026-11-20T16:00:00.000000Z".into(),
        }),
        ok: false,
    };
    expect![[r#"
        FAILED: 1204 events checked, head 1204 (abababababababababababababababababababababababababababababababab)
        chain: every hash and link is right
        checkpoints: 3 compared, last matching: position 400 kept at 2026-11-10T16:00:00.000000Z
        checkpoint mismatch at position 800: the row at position 800 does not have the hash of the checkpoint kept at 2026-11-20T16:00:00.000000Z
    "#]].assert_eq(&checkpoint_report_text(&rewritten));
    let json = checkpoint_report_json(&rewritten);
    assert_eq!(json["ok"], false);
    assert_eq!(json["first_mismatch"]["problem"], "checkpoint_mismatch");
    assert_eq!(json["last_matching_checkpoint"]["position"], 400);
    assert_eq!(json["chain"]["head_hash"], "ab".repeat(32));
}

#[test]
fn an_export_check_says_where_its_chain_starts() {
    let anchored = ExportVerifyReport {
        chain: chain(true, None),
        start: ChainStart::Checkpoint(1_000),
        checkpoints_matched: 2,
        checkpoints_after_end: 1,
    };
    expect![[r#"
        ok: 1204 rows, last position 1204 (abababababababababababababababababababababababababababababababab)
        chain: from the kept checkpoint at position 1000
        checkpoints: 2 matched inside the export, 1 after its last row
    "#]].assert_eq(&export_verify_text(&anchored));
    let broken = ExportVerifyReport {
        chain: chain(
            false,
            Some(BadRow {
                position: 17,
                problem: Problem::ChangedRow,
                detail: "the row at position 17 does not hash to its stored hash".into(),
            }),
        ),
        start: ChainStart::Unanchored(9),
        checkpoints_matched: 0,
        checkpoints_after_end: 0,
    };
    expect![[r#"
        FAILED: changed row at position 17: the row at position 17 does not hash to its stored hash
        chain: UNANCHORED from the export's own prev_hash at position 9: the export is only consistent in itself
        checkpoints: 0 matched inside the export, 0 after its last row
    "#]].assert_eq(&export_verify_text(&broken));
    let json = export_verify_json(&broken);
    assert_eq!(json["start"], "unanchored");
    assert_eq!(json["start_position"], 9);
    assert_eq!(json["chain"]["first_bad"]["problem"], "changed_row");
}

#[test]
fn an_export_summary_names_its_range_and_hashes() {
    let summary = ExportSummary {
        rows: 3,
        first_position: 10,
        last_position: 12,
        chain_start: "11".repeat(32),
        last_hash: "22".repeat(32),
    };
    expect![[r#"
        exported 3 rows (positions 10–12) to export.jsonl
        chain starts from 1111111111111111111111111111111111111111111111111111111111111111
        last hash 2222222222222222222222222222222222222222222222222222222222222222
    "#]]
    .assert_eq(&export_summary_text(&summary, "export.jsonl"));
}

#[test]
fn an_erasure_lists_the_customers_tickets() {
    let response = v1::EraseCustomerResponse {
        tickets_affected: 1,
        ticket_ids: vec!["261102-0Q8ZK-N1W4TF".into(), "261103-0Q9AA-K2M8QX".into()],
        tickets_already_erased: 1,
        keys: 2,
    };
    expect![[r#"
        erased: 1 ticket now, 1 ticket erased before, 2 keys destroyed
          261102-0Q8ZK-N1W4TF
          261103-0Q9AA-K2M8QX
    "#]]
    .assert_eq(&erasure_text(&response));
    expect![[r#"
        nothing to erase: no ticket of this customer is known (or it was erased before)
    "#]]
    .assert_eq(&erasure_text(&v1::EraseCustomerResponse::default()));
    let json = erasure_json(&response);
    assert_eq!(json["ticket_ids"][1], "261103-0Q9AA-K2M8QX");
    assert_eq!(json["keys"], 2);
}
