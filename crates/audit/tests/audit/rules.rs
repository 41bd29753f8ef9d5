//! The rule audit on hand-built event sequences, one rule at a time, and over a real log.

use audit::{audit_month, rules_check, Month, Rule, RuleOptions, Violation};
use chrono::{TimeDelta, Utc};
use domain::types::{Deadline, Kind, Outcome, Priority};
use domain::Rules;

use super::fixtures::{append_events, base, minutes, open_log, TicketBuilder};

fn check(builder: &TicketBuilder, as_of_minutes: i64) -> Vec<Violation> {
    rules_check(
        &builder.events,
        &Rules::defaults(),
        &RuleOptions::new(minutes(as_of_minutes)),
    )
}

/// The one violation the check at `as_of_minutes` finds, which breaks `rule`.
fn one_finding(builder: &TicketBuilder, as_of_minutes: i64, rule: Rule) -> Violation {
    let found = check(builder, as_of_minutes);
    assert_eq!(found.len(), 1, "{found:#?}");
    let violation = found.into_iter().next().expect("one violation");
    assert_eq!(violation.rule, rule);
    violation
}

fn positions(violation: &Violation) -> Vec<u64> {
    violation
        .evidence
        .iter()
        .map(|cited| cited.position)
        .collect()
}

/// A ticket received at `base()`, classified and dispatched 5 minutes later and
/// acknowledged after 30.
fn acknowledged(kind: Kind, priority: Priority) -> TicketBuilder {
    let mut ticket = TicketBuilder::received(base());
    ticket
        .classify(minutes(5), kind, priority)
        .dispatch(minutes(5))
        .acknowledge(minutes(30));
    ticket
}

/// Received, classified at once, dispatched, answered, fixed, rated 5, archived.
fn clean_ticket() -> TicketBuilder {
    let mut ticket = acknowledged(Kind::Problem, Priority::Medium);
    ticket
        .propose(minutes(300), Outcome::Fixed, false)
        .review(minutes(400), 5)
        .archive(minutes(420));
    ticket
}

#[test]
fn a_ticket_handled_by_the_rules_has_no_violation() {
    assert_eq!(check(&clean_ticket(), 60 * 24 * 60), Vec::new());
}

#[test]
fn classification_after_the_limit_is_found_with_receipt_and_classification() {
    let mut ticket = TicketBuilder::received(base());
    ticket
        .classify(minutes(61), Kind::Problem, Priority::Medium)
        .dispatch(minutes(61))
        .acknowledge(minutes(70));
    let found = one_finding(&ticket, 80, Rule::ClassifiedLate);
    assert_eq!(found.ticket_id, ticket.ticket_id);
    assert_eq!(found.due, Some(minutes(60)));
    assert_eq!(found.happened_at, Some(minutes(61)));
    assert_eq!(positions(&found), vec![1, 2]);

    // Exactly at the limit is on time; the limit is configurable.
    let mut on_time = TicketBuilder::received(base());
    on_time.classify(minutes(60), Kind::Problem, Priority::Medium);
    assert!(check(&on_time, 70).is_empty());
    let strict = RuleOptions {
        classify_within: TimeDelta::minutes(30),
        as_of: minutes(70),
    };
    let found = rules_check(&on_time.events, &Rules::defaults(), &strict);
    assert_eq!(
        found.iter().map(|v| v.rule).collect::<Vec<_>>(),
        vec![Rule::ClassifiedLate]
    );
}

#[test]
fn a_ticket_never_classified_is_late_once_the_limit_has_passed() {
    let ticket = TicketBuilder::received(base());
    assert!(check(&ticket, 59).is_empty());
    let found = one_finding(&ticket, 61, Rule::ClassifiedLate);
    assert_eq!(found.happened_at, None);
    assert_eq!(positions(&found), vec![1]);
}

#[test]
fn a_late_first_response_cites_the_deadline_the_breach_and_the_response() {
    let mut ticket = TicketBuilder::received(base());
    ticket
        .classify(minutes(5), Kind::Problem, Priority::Medium)
        .dispatch(minutes(5))
        .breach(minutes(121), Deadline::Respond, minutes(120))
        .acknowledge(minutes(150));
    let found = one_finding(&ticket, 160, Rule::ResponseLate);
    assert_eq!(found.due, Some(minutes(120)));
    assert_eq!(found.happened_at, Some(minutes(150)));
    // The classification set the deadline in force, the breach mark saw it, the answer came.
    assert_eq!(positions(&found), vec![2, 4, 5]);
}

#[test]
fn a_response_still_missing_after_the_deadline_is_found() {
    let mut ticket = TicketBuilder::received(base());
    ticket
        .classify(minutes(5), Kind::Problem, Priority::Medium)
        .dispatch(minutes(5));
    assert!(check(&ticket, 119).is_empty());
    let found = one_finding(&ticket, 121, Rule::ResponseLate);
    assert_eq!(found.happened_at, None);
}

#[test]
fn a_late_resolution_is_found_for_direct_and_approved_solutions() {
    let mut direct = acknowledged(Kind::Problem, Priority::Medium);
    direct.propose(minutes(72 * 60 + 1), Outcome::Fixed, false);
    let found = one_finding(&direct, 72 * 60 + 2, Rule::ResolutionLate);
    assert_eq!(positions(&found), vec![2, 5]);

    let mut approved = acknowledged(Kind::Suggestion, Priority::Medium);
    approved
        .propose(minutes(60), Outcome::Adopted, true)
        .approve(minutes(72 * 60 + 10));
    let found = one_finding(&approved, 72 * 60 + 20, Rule::ResolutionLate);
    assert_eq!(found.happened_at, Some(minutes(72 * 60 + 10)));
    assert_eq!(positions(&found), vec![2, 5, 6]);
}

#[test]
fn archiving_without_a_review_is_found() {
    let mut ticket = acknowledged(Kind::Problem, Priority::Medium);
    ticket
        .propose(minutes(60), Outcome::Fixed, false)
        .archive(minutes(90));
    let found = one_finding(&ticket, 100, Rule::ArchivedWithoutReview);
    assert_eq!(positions(&found), vec![6]);

    // A review of round 1 does not cover round 2.
    let mut reopened = acknowledged(Kind::Problem, Priority::Medium);
    reopened
        .propose(minutes(60), Outcome::Fixed, false)
        .review(minutes(70), 2)
        .reopen(minutes(70))
        .acknowledge(minutes(80))
        .propose(minutes(100), Outcome::Fixed, false)
        .archive(minutes(110));
    let found = one_finding(&reopened, 120, Rule::ArchivedWithoutReview);
    assert_eq!(found.round, 2);
    assert_eq!(positions(&found), vec![7, 10]);
}

#[test]
fn a_solution_that_needed_approval_but_went_ahead_without_it_is_found() {
    // By default adopted suggestions need the head's approval.
    let mut adopted = acknowledged(Kind::Suggestion, Priority::Medium);
    adopted
        .propose(minutes(60), Outcome::Adopted, false)
        .review(minutes(70), 5)
        .archive(minutes(80));
    let found = one_finding(&adopted, 90, Rule::SolutionWithoutApproval);
    assert_eq!(positions(&found), vec![2, 5]);

    // So does any solution of an urgent ticket.
    let mut urgent = acknowledged(Kind::Problem, Priority::Urgent);
    urgent.propose(minutes(60), Outcome::Fixed, false);
    let rules = check(&urgent, 90)
        .iter()
        .map(|v| v.rule)
        .collect::<Vec<_>>();
    assert_eq!(rules, vec![Rule::SolutionWithoutApproval]);

    // Reviewed while the approval was still pending.
    let mut pending = acknowledged(Kind::Suggestion, Priority::Medium);
    pending
        .propose(minutes(60), Outcome::Adopted, true)
        .review(minutes(70), 5);
    let found = one_finding(&pending, 80, Rule::SolutionWithoutApproval);
    assert_eq!(positions(&found), vec![5, 6]);

    // Asked for and given: nothing to report.
    let mut approved = acknowledged(Kind::Suggestion, Priority::Medium);
    approved
        .propose(minutes(60), Outcome::Adopted, true)
        .approve(minutes(65))
        .review(minutes(70), 5)
        .archive(minutes(80));
    assert_eq!(check(&approved, 90), Vec::new());
}

#[test]
fn a_reopened_round_has_its_own_deadlines() {
    let mut ticket = acknowledged(Kind::Problem, Priority::Medium);
    ticket
        .propose(minutes(60), Outcome::Fixed, false)
        .review(minutes(70), 1)
        .reopen(minutes(1000))
        .acknowledge(minutes(1000 + 121));
    let found = one_finding(&ticket, 1200, Rule::ResponseLate);
    assert_eq!(found.round, 2);
    assert_eq!(found.due, Some(minutes(1000 + 120)));
    assert_eq!(positions(&found), vec![7, 8]);
}

#[test]
fn a_paused_clock_moves_the_deadline() {
    let mut ticket = TicketBuilder::received(base());
    ticket
        .classify(minutes(5), Kind::Problem, Priority::Medium)
        .dispatch(minutes(5))
        .pause(minutes(60))
        .resume(minutes(180), TimeDelta::minutes(120))
        .acknowledge(minutes(200));
    assert_eq!(check(&ticket, 210), Vec::new());

    // Still paused at the audit instant: the open deadline moves by the pause so far.
    let mut paused = TicketBuilder::received(base());
    paused
        .classify(minutes(5), Kind::Problem, Priority::Medium)
        .dispatch(minutes(5))
        .pause(minutes(60));
    assert_eq!(check(&paused, 300), Vec::new());
}

#[test]
fn months_parse_and_have_bounds_in_the_business_offset() {
    let month = Month::parse("2026-11").unwrap();
    assert_eq!(month.to_string(), "2026-11");
    let offset = Rules::defaults().calendar().offset();
    let (from, to) = month.bounds(offset).unwrap();
    assert_eq!(from.to_rfc3339(), "2026-10-31T16:00:00+00:00");
    assert_eq!(to.to_rfc3339(), "2026-11-30T16:00:00+00:00");
    let (_, december_end) = Month::parse("2026-12").unwrap().bounds(offset).unwrap();
    assert_eq!(december_end.to_rfc3339(), "2026-12-31T16:00:00+00:00");
    for bad in ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-00"] {
        assert!(Month::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn a_month_audit_reads_a_real_log_and_lists_only_that_months_tickets() {
    let directory = tempfile::tempdir().unwrap();
    let log = open_log(&directory.path().join("events.db"));
    let mut late = TicketBuilder::received(base());
    late.classify(minutes(90), Kind::Problem, Priority::Medium);
    let clean = clean_ticket();
    // Received on 2026-10-31 at 23:30 in Beijing: October, though November in UTC terms
    // would say otherwise the other way round.
    let mut october = TicketBuilder::received(
        chrono::DateTime::parse_from_rfc3339("2026-10-31T15:30:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    october.classify(
        october.received_at + TimeDelta::hours(5),
        Kind::Problem,
        Priority::Medium,
    );
    for ticket in [&late, &clean, &october] {
        let events: Vec<_> = ticket
            .events
            .iter()
            .map(|event| event.event.clone())
            .collect();
        append_events(&log, &ticket.stream_id, &events);
    }
    // Another stream that is not a ticket is skipped.
    log.append_blocking(
        "config-workflow",
        eventlog::ExpectedVersion::Any,
        vec![eventlog::NewEvent::new(
            "config_changed",
            serde_json::json!({"version": "x"}),
        )],
    )
    .unwrap();
    let rules = Rules::defaults();
    let options = RuleOptions::new(minutes(30 * 24 * 60));
    let audit = audit_month(&log, &rules, Month::parse("2026-11").unwrap(), &options).unwrap();
    assert_eq!(audit.tickets_checked, 2);
    assert_eq!(audit.tickets_with_violations, 1);
    assert_eq!(audit.head_position, log.head().position);
    let found: Vec<_> = audit
        .violations
        .iter()
        .map(|v| (v.ticket_id.clone(), v.rule))
        .collect();
    // The late one was classified late and, never handled, missed both deadlines.
    assert_eq!(
        found,
        vec![
            (late.ticket_id.clone(), Rule::ClassifiedLate),
            (late.ticket_id.clone(), Rule::ResponseLate),
            (late.ticket_id.clone(), Rule::ResolutionLate),
        ]
    );
    // Evidence positions are global log positions.
    let first = &audit.violations[0];
    let stored = log.read_stream_blocking(&late.stream_id, 0).unwrap();
    assert_eq!(
        first
            .evidence
            .iter()
            .map(|e| e.position)
            .collect::<Vec<_>>(),
        vec![stored[0].position, stored[1].position]
    );
    assert_eq!(first.evidence[0].event_id, stored[0].event_id.to_string());
    let october_audit =
        audit_month(&log, &rules, Month::parse("2026-10").unwrap(), &options).unwrap();
    assert_eq!(october_audit.tickets_checked, 1);
    assert_eq!(october_audit.violations[0].rule, Rule::ClassifiedLate);
    // The report serialises for `--json`.
    let json = serde_json::to_value(&audit).unwrap();
    assert_eq!(json["violations"][0]["rule"], "classified_late");
}
