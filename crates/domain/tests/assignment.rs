//! Given events, when an assignment command, then events or an error: claiming, assigning by
//! the head, the policy's automatic choice, handing back, and what a transfer does to the
//! assignee. The configured rules are used, with members and a policy per department.

mod support;

use chrono::{DateTime, Duration, Utc};
use domain::aggregate::{decide, fold};
use domain::command::{Command, Submission};
use domain::event::{AssignmentReason, Event};
use domain::ids::TicketIdGenerator;
use domain::rules::assignment::{choose_assignee, members_on_duty, AssignmentPolicy};
use domain::ticket::Ticket;
use domain::types::Step;
use domain::{DomainError, Rules};
use std::collections::{BTreeMap, BTreeSet};

const CONFIG: &str = r#"
[departments.technical]
members = ["a", "b", "c", "d"]
assignment = "round_robin"

[departments.logistics]
members = ["li.si"]
"#;

fn rules() -> Rules {
    Rules::from_toml_str(CONFIG).expect("valid configuration")
}

/// Tuesday 2026-03-17 10:00 in China: a working instant of the default calendar.
fn t0() -> DateTime<Utc> {
    support::at("2026-03-17T02:00:00Z")
}

fn minutes(count: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(count)
}

fn submission(sequence: u8) -> Submission {
    Submission {
        ticket_id: TicketIdGenerator::new(1).next(t0()),
        ..support::submission(sequence, t0(), "APP卡顿，打开很慢")
    }
}

type History = support::History<Rules>;

/// A ticket the rules route to technical, where it waits in step handle.
fn history() -> History {
    let history = History::received(rules(), submission(1), t0());
    let state = history.state();
    assert_eq!(state.step, Step::Handle);
    assert_eq!(state.department.as_deref(), Some("technical"));
    history
}

/// The command changes nothing.
fn assert_no_op(history: &History, command: Command, now: DateTime<Utc>) {
    assert_eq!(history.when(command, now).expect("no-op"), vec![]);
}

fn claim(person: &str) -> Command {
    Command::Claim {
        person: person.to_owned(),
    }
}

fn assign(assignee: &str) -> Command {
    Command::Assign {
        assignee: assignee.to_owned(),
        by: "zhao.liu".to_owned(),
    }
}

fn auto(department: &str, assignee: &str) -> Command {
    Command::AutoAssign {
        department: department.to_owned(),
        assignee: assignee.to_owned(),
        by: "cloop-workflow/assign".to_owned(),
    }
}

fn assignments(events: &[Event]) -> Vec<(String, AssignmentReason, Option<String>)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Assigned(assigned) => Some((
                assigned.assignee.clone(),
                assigned.reason,
                assigned.previous.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_claim_then_a_reassignment_keeps_the_history() {
    let mut history = history();
    history.run(claim("a"), minutes(1));
    assert_eq!(history.state().assignee.as_deref(), Some("a"));
    // Claiming again is nothing new; somebody else may not take it over.
    assert_eq!(history.when(claim("a"), minutes(2)).expect("no-op"), vec![]);
    assert!(matches!(
        history.when(claim("b"), minutes(2)),
        Err(DomainError::Invalid { .. })
    ));
    history.run(assign("b"), minutes(3));
    let state = history.state();
    assert_eq!(state.assignee.as_deref(), Some("b"));
    assert_eq!(
        assignments(&history.events),
        vec![
            ("a".to_owned(), AssignmentReason::Claimed, None),
            (
                "b".to_owned(),
                AssignmentReason::Assigned,
                Some("a".to_owned())
            ),
        ]
    );
    let by: Vec<&str> = history
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Assigned(assigned) => Some(assigned.by.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(by, ["a", "zhao.liu"]);
}

#[test]
fn the_head_assigns_only_members_of_the_department() {
    let history = history();
    match history.when(assign("li.si"), minutes(1)) {
        Err(DomainError::Invalid { field, reason }) => {
            assert_eq!(field, "assignee");
            assert!(reason.contains("technical"), "{reason}");
        }
        other => panic!("expected invalid assignee, got {other:?}"),
    }
}

#[test]
fn assignment_waits_for_the_department_to_handle_the_ticket() {
    let rules = Rules::from_toml_str(&format!(
        "{CONFIG}\n[classification]\nconfidence_threshold = 1.0\n"
    ))
    .expect("valid");
    let history = History::received(rules, submission(2), t0());
    assert_eq!(history.state().step, Step::Classify);
    assert!(matches!(
        history.when(claim("a"), minutes(1)),
        Err(DomainError::WrongStep { .. })
    ));
    assert_no_op(&history, auto("technical", "a"), minutes(1));
}

#[test]
fn the_policy_assigns_only_a_ticket_that_has_nobody_at_its_department() {
    let mut history = history();
    assert_no_op(&history, auto("logistics", "li.si"), minutes(1));
    let events = history.run(auto("technical", "c"), minutes(1));
    assert_eq!(
        assignments(&events),
        vec![("c".to_owned(), AssignmentReason::Auto, None)]
    );
    // A second, late choice changes nothing.
    assert_no_op(&history, auto("technical", "d"), minutes(2));
}

#[test]
fn a_transfer_takes_the_ticket_from_its_assignee() {
    let mut history = history();
    history.run(claim("a"), minutes(1));
    let events = history.run(
        Command::Dispatch {
            department: "logistics".to_owned(),
            helpers: Vec::new(),
            reason: "a courier problem after all".to_owned(),
        },
        minutes(2),
    );
    let types: Vec<&str> = events.iter().map(Event::event_type).collect();
    assert_eq!(types, ["dispatched", "unassigned"]);
    match &events[1] {
        Event::Unassigned(unassigned) => {
            assert_eq!(unassigned.previous, "a");
            assert_eq!(unassigned.reason, AssignmentReason::Transferred);
        }
        other => panic!("expected unassigned, got {other:?}"),
    }
    assert_eq!(history.state().assignee, None);
    history.run(claim("li.si"), minutes(3));
    assert_eq!(history.state().assignee.as_deref(), Some("li.si"));
}

#[test]
fn going_away_hands_the_ticket_on_or_back() {
    let mut history = history();
    history.run(claim("a"), minutes(1));
    let hand_back = |assignee: Option<&str>| Command::HandBack {
        person: "a".to_owned(),
        assignee: assignee.map(str::to_owned),
        by: "a".to_owned(),
    };
    let events = history.run(hand_back(Some("b")), minutes(2));
    assert_eq!(
        assignments(&events),
        vec![(
            "b".to_owned(),
            AssignmentReason::HandedBack,
            Some("a".to_owned())
        )]
    );
    // Only the person's own tickets are handed back.
    assert_eq!(
        history.when(hand_back(None), minutes(3)).expect("no-op"),
        vec![]
    );
    history.run(assign("a"), minutes(4));
    let events = history.run(hand_back(None), minutes(5));
    assert!(
        matches!(&events[..], [Event::Unassigned(unassigned)] if unassigned.previous == "a"
            && unassigned.reason == AssignmentReason::HandedBack),
        "{events:?}"
    );
    assert_eq!(history.state().assignee, None);
}

#[test]
fn round_robin_over_a_hundred_tickets_gives_each_of_four_members_twenty_five() {
    let rules = rules();
    let department = &rules.config().departments["technical"];
    assert_eq!(department.assignment, AssignmentPolicy::RoundRobin);
    let on_duty = members_on_duty(
        &department.members,
        &BTreeSet::new(),
        rules.calendar(),
        t0(),
    );
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for index in 0..100u8 {
        let mut submission = submission(index);
        submission.ticket_id =
            TicketIdGenerator::new(1).next(t0() + Duration::seconds(index.into()));
        let mut events = decide(
            &Ticket::default(),
            &Command::Receive(Box::new(submission)),
            t0(),
            &rules,
        )
        .expect("received");
        let chosen = choose_assignee(
            department.assignment,
            &department.members,
            &on_duty,
            &counts,
            u64::from(index),
        )
        .expect("somebody is on duty");
        events.extend(
            decide(&fold(&events), &auto("technical", chosen), t0(), &rules).expect("assigned"),
        );
        let assignee = fold(&events).assignee.expect("assigned");
        *counts.entry(assignee).or_default() += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![25; 4]);
}
