//! Rendering of the auditor's offline results and of an erasure, for people and for
//! scripts: the rule audit of a month (`cloop audit rules`), a log verified against kept
//! checkpoints (`cloop log verify --checkpoints`), a checked export (`cloop log
//! verify-export`), an export's summary and the answer of `cloop customer erase`. Pure
//! functions, snapshot-tested on fixed data.

use crate::render::View;
use crate::table::{key_values, truncate, Table};
use audit::{
    ChainStart, CheckpointReport, ExportSummary, ExportVerifyReport, MonthAudit, Rule, Violation,
};
use chrono::{DateTime, Utc};
use eventlog::{BadRow, Problem, VerifyReport};
use proto::v1;
use serde_json::{json, Value};

/// "1 ticket", "2 tickets".
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A problem as people say it.
pub fn problem_text(problem: Problem) -> &'static str {
    match problem {
        Problem::ChangedRow => "changed row",
        Problem::MissingRow => "missing row",
        Problem::BrokenLink => "broken link",
        Problem::CheckpointMismatch => "checkpoint mismatch",
    }
}

/// A problem as scripts see it.
fn problem_key(problem: Problem) -> &'static str {
    match problem {
        Problem::ChangedRow => "changed_row",
        Problem::MissingRow => "missing_row",
        Problem::BrokenLink => "broken_link",
        Problem::CheckpointMismatch => "checkpoint_mismatch",
    }
}

fn bad_row_json(bad: Option<&BadRow>) -> Value {
    bad.map_or(Value::Null, |bad| {
        json!({
            "position": bad.position,
            "problem": problem_key(bad.problem),
            "detail": bad.detail,
        })
    })
}

fn chain_json(chain: &VerifyReport) -> Value {
    json!({
        "ok": chain.ok,
        "events_checked": chain.checked,
        "head_position": chain.head_position,
        "head_hash": hex::encode(chain.head_hash),
        "first_bad": bad_row_json(chain.first_bad.as_ref()),
    })
}

impl View {
    /// An instant in the view's offset, "2026-11-02 10:00 +08:00", or "–".
    pub fn optional_instant(&self, at: Option<DateTime<Utc>>) -> String {
        at.map_or_else(
            || "–".to_owned(),
            |at| {
                at.with_timezone(&self.offset)
                    .format(crate::render::TIME_FORMAT)
                    .to_string()
            },
        )
    }
}

/// A rule as people say it.
pub fn rule_text(rule: Rule) -> &'static str {
    match rule {
        Rule::ClassifiedLate => "classified late",
        Rule::ResponseLate => "response late",
        Rule::ResolutionLate => "resolution late",
        Rule::ArchivedWithoutReview => "archived without review",
        Rule::SolutionWithoutApproval => "solution without approval",
    }
}

fn evidence_text(violation: &Violation) -> String {
    violation
        .evidence
        .iter()
        .map(|evidence| format!("#{} {}", evidence.position, evidence.event_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rule audit of a month: a summary, the count per rule, and one line per finding with
/// its evidence; the sentences follow the table.
pub fn rule_audit_text(audit: &MonthAudit, view: &View) -> String {
    let mut text = key_values(&[
        ("month", audit.month.clone()),
        (
            "received",
            format!(
                "{} – {} (before)",
                view.optional_instant(Some(audit.from)),
                view.optional_instant(Some(audit.to))
            ),
        ),
        ("as of", view.optional_instant(Some(audit.as_of))),
        ("log position", audit.head_position.to_string()),
        ("configuration", audit.policy_version.clone()),
        ("tickets checked", audit.tickets_checked.to_string()),
        (
            "with findings",
            format!(
                "{}, {}",
                counted(audit.tickets_with_violations, "ticket"),
                counted(audit.violations.len() as u64, "finding")
            ),
        ),
    ]);
    if audit.violations.is_empty() {
        text.push_str("\nevery ticket received in the month was handled by the rules\n");
        return text;
    }
    let mut counts = Table::new(&["rule", "findings"]).right(&[1]);
    for rule in Rule::ALL {
        let count = audit
            .violations
            .iter()
            .filter(|violation| violation.rule == *rule)
            .count();
        counts.row(vec![rule_text(*rule).to_owned(), count.to_string()]);
    }
    text.push('\n');
    text.push_str(&counts.render());
    let mut findings =
        Table::new(&["ticket", "rule", "round", "due", "happened", "evidence"]).right(&[2]);
    for violation in &audit.violations {
        findings.row(vec![
            violation.ticket_id.clone(),
            rule_text(violation.rule).to_owned(),
            violation.round.to_string(),
            view.optional_instant(violation.due),
            view.optional_instant(violation.happened_at),
            truncate(&evidence_text(violation), 48),
        ]);
    }
    text.push('\n');
    text.push_str(&findings.render());
    text.push('\n');
    for violation in &audit.violations {
        text.push_str(&format!(
            "{} {}: {}\n",
            violation.ticket_id,
            violation.rule.as_str(),
            violation.detail
        ));
    }
    text
}

/// The rule audit as JSON: the audit crate's own serialisation, instants in UTC.
pub fn rule_audit_json(audit: &MonthAudit) -> Value {
    serde_json::to_value(audit).unwrap_or(Value::Null)
}

/// A log verified against kept checkpoints.
pub fn checkpoint_report_text(report: &CheckpointReport) -> String {
    let mut text = String::new();
    let head = format!(
        "{} events checked, head {} ({})",
        report.chain.checked,
        report.chain.head_position,
        hex::encode(report.chain.head_hash)
    );
    if report.ok {
        text.push_str(&format!("ok: {head}\n"));
    } else {
        text.push_str(&format!("FAILED: {head}\n"));
    }
    match &report.chain.first_bad {
        None => text.push_str("chain: every hash and link is right\n"),
        Some(bad) => text.push_str(&format!(
            "chain: {} at position {}: {}\n",
            problem_text(bad.problem),
            bad.position,
            bad.detail
        )),
    }
    let last = report.last_matching.map_or_else(
        || "none".to_owned(),
        |checkpoint| {
            format!(
                "position {} kept at {}",
                checkpoint.position,
                eventlog::format_timestamp(&checkpoint.recorded_at)
            )
        },
    );
    text.push_str(&format!(
        "checkpoints: {} compared, last matching: {last}\n",
        report.checkpoints_checked
    ));
    if let Some(bad) = &report.first_mismatch {
        text.push_str(&format!(
            "checkpoint mismatch at position {}: {}\n",
            bad.position, bad.detail
        ));
    }
    text
}

/// A log verified against kept checkpoints, as JSON.
pub fn checkpoint_report_json(report: &CheckpointReport) -> Value {
    json!({
        "ok": report.ok,
        "chain": chain_json(&report.chain),
        "checkpoints_checked": report.checkpoints_checked,
        "last_matching_checkpoint": report.last_matching.map(|checkpoint| json!({
            "position": checkpoint.position,
            "hash": hex::encode(checkpoint.hash),
            "recorded_at": eventlog::format_timestamp(&checkpoint.recorded_at),
        })),
        "first_mismatch": bad_row_json(report.first_mismatch.as_ref()),
    })
}

fn chain_start_text(start: ChainStart) -> String {
    match start {
        ChainStart::Genesis => "from position 1 (32 zero bytes)".to_owned(),
        ChainStart::Checkpoint(position) => {
            format!("from the kept checkpoint at position {position}")
        }
        ChainStart::Unanchored(position) => format!(
            "UNANCHORED from the export's own prev_hash at position {position}: the export is only consistent in itself"
        ),
    }
}

/// A checked export.
pub fn export_verify_text(report: &ExportVerifyReport) -> String {
    let mut text = if report.chain.ok {
        format!(
            "ok: {} rows, last position {} ({})\n",
            report.chain.checked,
            report.chain.head_position,
            hex::encode(report.chain.head_hash)
        )
    } else {
        let bad = report.chain.first_bad.as_ref();
        format!(
            "FAILED: {} at position {}: {}\n",
            bad.map_or("problem", |bad| problem_text(bad.problem)),
            bad.map_or(0, |bad| bad.position),
            bad.map_or("", |bad| bad.detail.as_str())
        )
    };
    text.push_str(&format!("chain: {}\n", chain_start_text(report.start)));
    text.push_str(&format!(
        "checkpoints: {} matched inside the export, {} after its last row\n",
        report.checkpoints_matched, report.checkpoints_after_end
    ));
    text
}

/// A checked export, as JSON.
pub fn export_verify_json(report: &ExportVerifyReport) -> Value {
    let (start, start_position) = match report.start {
        ChainStart::Genesis => ("genesis", 0),
        ChainStart::Checkpoint(position) => ("checkpoint", position),
        ChainStart::Unanchored(position) => ("unanchored", position),
    };
    json!({
        "ok": report.chain.ok,
        "chain": chain_json(&report.chain),
        "start": start,
        "start_position": start_position,
        "checkpoints_matched": report.checkpoints_matched,
        "checkpoints_after_end": report.checkpoints_after_end,
    })
}

/// What an export wrote (printed on standard error when the export goes to a file).
pub fn export_summary_text(summary: &ExportSummary, destination: &str) -> String {
    if summary.rows == 0 {
        return format!("exported 0 rows to {destination}\n");
    }
    format!(
        "exported {} rows (positions {}–{}) to {destination}\nchain starts from {}\nlast hash {}\n",
        summary.rows,
        summary.first_position,
        summary.last_position,
        summary.chain_start,
        summary.last_hash
    )
}

/// An export's summary, as JSON.
pub fn export_summary_json(summary: &ExportSummary) -> Value {
    serde_json::to_value(summary).unwrap_or(Value::Null)
}

/// The answer of `cloop customer erase`.
pub fn erasure_text(response: &v1::EraseCustomerResponse) -> String {
    let mut text = if response.ticket_ids.is_empty() {
        "nothing to erase: no ticket of this customer is known (or it was erased before)\n"
            .to_owned()
    } else {
        format!(
            "erased: {} now, {} erased before, {} destroyed\n",
            counted(response.tickets_affected, "ticket"),
            counted(response.tickets_already_erased, "ticket"),
            counted(response.keys, "key")
        )
    };
    for ticket_id in &response.ticket_ids {
        text.push_str(&format!("  {ticket_id}\n"));
    }
    text
}

/// The answer of `cloop customer erase`, as JSON.
pub fn erasure_json(response: &v1::EraseCustomerResponse) -> Value {
    json!({
        "tickets_affected": response.tickets_affected,
        "tickets_already_erased": response.tickets_already_erased,
        "keys": response.keys,
        "ticket_ids": response.ticket_ids,
    })
}
