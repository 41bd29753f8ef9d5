//! Given events, when an assignment command, then events or an error: claiming, assigning by
//! the head, the policy's automatic choice, handing back, and what a transfer does to the
//! assignee. The configured rules are used, with members and a policy per department.

use chrono::{DateTime, Duration, Utc};
use domain::aggregate::{decide, fold};
use domain::command::{Command, Submission};
use domain::event::{AssignmentReason, Event};
use domain::ids::{FeedbackId, TicketIdGenerator};
use domain::rules::assignment::{choose_assignee, members_on_duty, AssignmentPolicy};
use domain::ticket::{Customer, Ticket};
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
    DateTime::parse_from_rfc3339("2026-03-17T02:00:00Z")
        .expect("valid instant")
        .with_timezone(&Utc)
}

fn minutes(count: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(count)
}

fn submission(sequence: u8) -> Submission {
    Submission {
        feedback_id: FeedbackId::new(t0(), [sequence; 10]),
        ticket_id: TicketIdGenerator::new(1).next(t0()),
        channel: "app".to_owned(),
        external_id: None,
        customer: Customer {
            phone: Some("13800138000".to_owned()),
            ..Customer::default()
        },
        content: "APP卡顿，打开很慢".to_owned(),
        occurred_at: None,
        received_at: t0(),
        product: None,
        order_id: None,
        attributes: BTreeMap::new(),
    }
}

struct History {
    rules: Rules,
    events: Vec<Event>,
}

impl History {
    /// A ticket the rules route to technical, where it waits in step handle.
    fn new() -> Self {
        let mut history = Self {
            rules: rules(),
            events: Vec::new(),
        };
        history.run(Command::Receive(Box::new(submission(1))), t0());
        let state = history.state();
        assert_eq!(state.step, Step::Handle);
        assert_eq!(state.department.as_deref(), Some("technical"));
        history
    }

    fn state(&self) -> Ticket {
        fold(&self.events)
    }

    fn when(&self, command: Command, now: DateTime<Utc>) -> Result<Vec<Event>, DomainError> {
        decide(&self.state(), &command, now, &self.rules)
    }

    fn run(&mut self, command: Command, now: DateTime<Utc>) -> Vec<Event> {
        let name = command.name();
        let events = self
            .when(command, now)
            .unwrap_or_else(|error| panic!("{name} failed: {error}"));
        self.events.extend(events.iter().cloned());
        events
    }
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
    let mut history = History::new();
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
    let history = History::new();
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
    let mut history = History {
        rules: Rules::from_toml_str(&format!(
            "{CONFIG}\n[classification]\nconfidence_threshold = 1.0\n"
        ))
        .expect("valid"),
        events: Vec::new(),
    };
    history.run(Command::Receive(Box::new(submission(2))), t0());
    assert_eq!(history.state().step, Step::Classify);
    assert!(matches!(
        history.when(claim("a"), minutes(1)),
        Err(DomainError::WrongStep { .. })
    ));
    assert_eq!(
        history
            .when(auto("technical", "a"), minutes(1))
            .expect("no-op"),
        vec![]
    );
}

#[test]
fn the_policy_assigns_only_a_ticket_that_has_nobody_at_its_department() {
    let mut history = History::new();
    assert_eq!(
        history
            .when(auto("logistics", "li.si"), minutes(1))
            .expect("no-op"),
        vec![]
    );
    let events = history.run(auto("technical", "c"), minutes(1));
    assert_eq!(
        assignments(&events),
        vec![("c".to_owned(), AssignmentReason::Auto, None)]
    );
    // A second, late choice changes nothing.
    assert_eq!(
        history
            .when(auto("technical", "d"), minutes(2))
            .expect("no-op"),
        vec![]
    );
}

#[test]
fn a_transfer_takes_the_ticket_from_its_assignee() {
    let mut history = History::new();
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
    let mut history = History::new();
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
