//! The VIP row of the SLA policy: a VIP customer's ticket takes, for each deadline, the
//! stricter of the `[sla.vip]` row and what applies otherwise; the flag set at receipt or
//! changed while the ticket runs (`RecomputeSla`, event `sla_recomputed`) moves the deadlines
//! still open, taking the flag off restores them, and replaying the events gives the same.

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::aggregate::fold;
use domain::command::{Command, Submission};
use domain::config::Allowance;
use domain::event::Event;
use domain::ids::TicketIdGenerator;
use domain::rules::sla::RowUsed;
use domain::rules::sla_explain::explain;
use domain::rules::Rules;
use domain::ticket::Ticket;
use domain::types::{
    Classification, ContentType, Deadline, Deadlines, Kind, Policy, Priority, Scope, Step,
};
use proptest::prelude::*;
use proptest::sample::select;
use support::{minutes, t0};

type History = support::History<Rules>;

fn submission(sequence: u8) -> Submission {
    Submission {
        ticket_id: TicketIdGenerator::new(1).next(t0()),
        ..support::submission(sequence, t0(), "APP卡顿，打开很慢")
    }
}

/// A ticket the default rules classify and route at once (to technical, step handle).
fn history() -> History {
    let history = History::received(Rules::defaults(), submission(1), t0());
    assert_eq!(history.state().step, Step::Handle);
    history
}

fn classification_of(ticket: &Ticket) -> Classification {
    Classification {
        kind: ticket.kind.expect("classified"),
        content_type: ticket.content_type.expect("classified"),
        priority: ticket.priority.expect("classified"),
        scope: ticket.scope.expect("classified"),
        keywords: ticket.keywords.clone(),
        confidence: 1.0,
        confident: true,
        complex: ticket.complex,
        terms: Vec::new(),
    }
}

fn deadlines_of(ticket: &Ticket) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    (
        ticket.respond_by.expect("respond_by"),
        ticket.resolve_by.expect("resolve_by"),
        ticket.warn_respond_at.expect("warn_respond_at"),
        ticket.warn_resolve_at.expect("warn_resolve_at"),
    )
}

fn tuple(deadlines: &Deadlines) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    (
        deadlines.respond_by,
        deadlines.resolve_by,
        deadlines.warn_respond_at,
        deadlines.warn_resolve_at,
    )
}

fn recompute(vip: bool) -> Command {
    Command::RecomputeSla {
        vip,
        reason: if vip {
            "the customer was tagged vip"
        } else {
            "the vip tag was taken off the customer"
        }
        .to_owned(),
    }
}

/// Where a deadline of the VIP row alone falls for a clock started at `start`.
fn vip_row_due(rules: &Rules, start: DateTime<Utc>, which: Deadline) -> DateTime<Utc> {
    let row = &rules.config().sla.vip;
    let allowance: &Allowance = match which {
        Deadline::Respond => &row.respond,
        Deadline::Resolve => &row.resolve,
    };
    rules.sla().due(rules.calendar(), start, allowance)
}

#[test]
fn the_default_vip_row_is_12_hours_and_36_hours_around_the_clock() {
    let rules = Rules::defaults();
    assert_eq!(
        vip_row_due(&rules, t0(), Deadline::Respond),
        t0() + Duration::hours(12)
    );
    assert_eq!(
        vip_row_due(&rules, t0(), Deadline::Resolve),
        t0() + Duration::hours(36)
    );
    // A medium problem of a VIP: both deadlines from the VIP row, named as such.
    let medium = Classification {
        kind: Kind::Problem,
        content_type: ContentType::Product,
        priority: Priority::Medium,
        scope: Scope::Local,
        keywords: Vec::new(),
        confidence: 1.0,
        confident: true,
        complex: false,
        terms: Vec::new(),
    };
    let [respond, resolve] = rules.sla().details(rules.calendar(), t0(), &medium, true);
    assert_eq!((respond.row, resolve.row), (RowUsed::Vip, RowUsed::Vip));
    assert_eq!(respond.due, t0() + Duration::hours(12));
    assert_eq!(resolve.due, t0() + Duration::hours(36));
    // An urgent one keeps the urgent row's 1 hour and 24 hours.
    let urgent = Classification {
        priority: Priority::Urgent,
        ..medium
    };
    let [respond, resolve] = rules.sla().details(rules.calendar(), t0(), &urgent, true);
    assert_eq!(
        (respond.row, resolve.row),
        (
            RowUsed::Priority(Priority::Urgent),
            RowUsed::Priority(Priority::Urgent)
        )
    );
    assert_eq!(respond.due, t0() + Duration::hours(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the classification and the start, a VIP's deadline is the earlier of the
    /// VIP row's and the one the ticket would have otherwise, and its warning is on the clock
    /// of the row it came from.
    #[test]
    fn a_vip_deadline_is_the_earlier_of_the_vip_row_and_the_rest(
        priority in select(Priority::ALL.to_vec()),
        kind in select(vec![Kind::Complaint, Kind::Problem, Kind::Inquiry, Kind::Suggestion, Kind::Praise]),
        complex in any::<bool>(),
        offset_minutes in 0i64..(60 * 24 * 30),
    ) {
        let rules = Rules::defaults();
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).single().expect("instant")
            + Duration::minutes(offset_minutes);
        let classification = Classification {
            kind,
            content_type: ContentType::Service,
            priority,
            scope: Scope::Local,
            keywords: Vec::new(),
            confidence: 1.0,
            confident: true,
            complex,
            terms: Vec::new(),
        };
        let plain = rules.deadlines_for(start, &classification, false);
        let vip = rules.deadlines_for(start, &classification, true);
        prop_assert_eq!(plain.clone(), rules.deadlines(start, &classification));
        prop_assert_eq!(
            vip.respond_by,
            plain.respond_by.min(vip_row_due(&rules, start, Deadline::Respond))
        );
        prop_assert_eq!(
            vip.resolve_by,
            plain.resolve_by.min(vip_row_due(&rules, start, Deadline::Resolve))
        );
        prop_assert!(vip.warn_respond_at <= vip.respond_by);
        prop_assert!(vip.warn_resolve_at <= vip.resolve_by);
        let details = rules.sla().details(rules.calendar(), start, &classification, true);
        for detail in details {
            let vip_due = vip_row_due(&rules, start, detail.which);
            prop_assert_eq!(detail.row == RowUsed::Vip, vip_due < match detail.which {
                Deadline::Respond => plain.respond_by,
                Deadline::Resolve => plain.resolve_by,
            });
        }
    }

    /// Tagging at any moment of the first round and untagging later: the open deadlines are
    /// the VIP ones in between and the original ones after, and a replay of the events (read
    /// back from their stored form) folds to the same ticket.
    #[test]
    fn tagging_and_untagging_mid_flight_recompute_and_replay_the_same(
        tag_at in 1i64..(60 * 30),
        untag_after in 1i64..(60 * 30),
        pause in proptest::option::of((1i64..120, 1i64..600)),
    ) {
        let mut history = history();
        let original = history.state();
        let mut now = 0;
        let mut paused_ms = 0;
        if let Some((pause_at, pause_for)) = pause {
            history.run(Command::PauseSla { reason: "waiting for photos".to_owned() }, minutes(pause_at));
            history.run(Command::ResumeSla, minutes(pause_at + pause_for));
            now = pause_at + pause_for;
            paused_ms = pause_for * 60_000;
        }
        let before = history.state();
        let events = history.run(recompute(true), minutes(now + tag_at));
        prop_assert_eq!(events.len(), 1);
        let tagged = history.state();
        prop_assert!(tagged.vip);
        let classification = classification_of(&tagged);
        let expected = rules_shifted(&history.policy, t0(), &classification, true, paused_ms);
        prop_assert_eq!(deadlines_of(&tagged), tuple(&expected));
        prop_assert!(tagged.respond_by <= before.respond_by);
        prop_assert!(tagged.resolve_by <= before.resolve_by);
        // Telling it again changes nothing.
        prop_assert_eq!(history.when(recompute(true), minutes(now + tag_at + 1)).expect("no-op"), vec![]);
        history.run(recompute(false), minutes(now + tag_at + untag_after));
        let untagged = history.state();
        prop_assert!(!untagged.vip);
        prop_assert_eq!(deadlines_of(&untagged), deadlines_of(&before));
        if pause.is_none() {
            prop_assert_eq!(deadlines_of(&untagged), deadlines_of(&original));
        }
        let replayed: Vec<Event> = history
            .events
            .iter()
            .map(|event| {
                Event::from_parts(event.event_type(), event.schema_version(), &event.to_payload())
                    .expect("stored form reads back")
            })
            .collect();
        prop_assert_eq!(fold(&replayed), untagged);
    }
}

/// The deadlines the policy gives from `start`, moved by `paused_ms`.
fn rules_shifted(
    rules: &Rules,
    start: DateTime<Utc>,
    classification: &Classification,
    vip: bool,
    paused_ms: i64,
) -> Deadlines {
    let mut deadlines = rules.deadlines_for(start, classification, vip);
    let shift = Duration::milliseconds(paused_ms);
    deadlines.respond_by += shift;
    deadlines.resolve_by += shift;
    deadlines.warn_respond_at += shift;
    deadlines.warn_resolve_at += shift;
    deadlines
}

#[test]
fn a_vip_receipt_takes_the_vip_row_and_keeps_it_through_a_reclassification() {
    let rules = Rules::defaults();
    let events = domain::decide_receipt(&Ticket::default(), &submission(1), true, t0(), &rules)
        .expect("received");
    let Event::Received(received) = &events[0] else {
        panic!("the first event is received");
    };
    assert!(received.vip);
    let mut history = History {
        policy: rules,
        events,
    };
    let state = history.state();
    assert!(state.vip);
    let classification = classification_of(&state);
    assert_eq!(
        deadlines_of(&state),
        tuple(&history.policy.deadlines_for(t0(), &classification, true))
    );
    // The same submission of a customer who is no VIP: what `decide` gives.
    let plain = support::History::received(Rules::defaults(), submission(1), t0()).state();
    assert!(!plain.vip);
    assert!(state.respond_by <= plain.respond_by && state.resolve_by <= plain.resolve_by);
    assert_ne!(deadlines_of(&state), deadlines_of(&plain));
    // A person's reclassification keeps the VIP row.
    history.run(
        Command::Classify(domain::command::ClassifyCommand {
            kind: Kind::Inquiry,
            content_type: ContentType::Service,
            priority: Priority::Low,
            scope: Scope::Local,
            keywords: Vec::new(),
            complex: false,
            department: None,
            reason: String::new(),
        }),
        minutes(5),
    );
    let reclassified = history.state();
    assert_eq!(reclassified.respond_by, Some(t0() + Duration::hours(12)));
    assert_eq!(reclassified.resolve_by, Some(t0() + Duration::hours(36)));
}

#[test]
fn a_met_deadline_keeps_its_instant_and_a_reopened_round_counts_from_the_reopening() {
    let mut history = history();
    history.run(
        Command::Acknowledge {
            message: "looking into it".to_owned(),
        },
        minutes(10),
    );
    let acknowledged = history.state();
    history.run(recompute(true), minutes(20));
    let tagged = history.state();
    assert_eq!(tagged.respond_by, acknowledged.respond_by);
    assert_eq!(tagged.warn_respond_at, acknowledged.warn_respond_at);
    let classification = classification_of(&tagged);
    let vip = history.policy.deadlines_for(t0(), &classification, true);
    assert_eq!(tagged.resolve_by, Some(vip.resolve_by));

    // Solve, rate badly: round 2 starts at the reopening, with the VIP row.
    history.run(
        Command::ProposeSolution {
            outcome: domain::types::Outcome::Fixed,
            text: "cache cleared".to_owned(),
            reason: String::new(),
        },
        minutes(30),
    );
    let state = history.state();
    if state.step != Step::Review {
        history.run(
            Command::ApproveSolution {
                approve: true,
                comment: "ok".to_owned(),
            },
            minutes(31),
        );
    }
    let reopen_at = minutes(40);
    history.run(
        Command::RecordReview {
            satisfaction: 1,
            comment: "still slow".to_owned(),
        },
        reopen_at,
    );
    let reopened = history.state();
    assert_eq!(reopened.round, 2);
    assert_eq!(reopened.round_started_at, Some(reopen_at));
    let round_two = history
        .policy
        .deadlines_for(reopen_at, &classification, true);
    assert_eq!(deadlines_of(&reopened), tuple(&round_two));
    // Untagged in round 2: the deadlines count from the reopening, without the VIP row.
    history.run(recompute(false), minutes(50));
    let untagged = history.state();
    let plain = history
        .policy
        .deadlines_for(reopen_at, &classification, false);
    assert_eq!(deadlines_of(&untagged), tuple(&plain));
}

#[test]
fn an_archived_ticket_or_a_blank_reason_records_nothing() {
    let mut history = history();
    assert!(matches!(
        history.when(
            Command::RecomputeSla {
                vip: true,
                reason: " ".to_owned()
            },
            minutes(1)
        ),
        Err(domain::DomainError::Invalid { ref field, .. }) if field == "reason"
    ));
    history.run(
        Command::ProposeSolution {
            outcome: domain::types::Outcome::Fixed,
            text: "cache cleared".to_owned(),
            reason: String::new(),
        },
        minutes(30),
    );
    if history.state().step != Step::Review {
        history.run(
            Command::ApproveSolution {
                approve: true,
                comment: "ok".to_owned(),
            },
            minutes(31),
        );
    }
    history.run(
        Command::RecordReview {
            satisfaction: 5,
            comment: String::new(),
        },
        minutes(40),
    );
    history.run(Command::Archive, minutes(41));
    assert_eq!(
        history.when(recompute(true), minutes(50)).expect("no-op"),
        vec![]
    );
}

#[test]
fn the_explanation_names_the_vip_row_and_the_recomputation() {
    let mut history = history();
    history.run(recompute(true), minutes(20));
    let ticket = history.state();
    let explained = explain(&ticket, &history.events, &history.policy, minutes(30));
    assert_eq!(explained.sla_row, "vip");
    assert_eq!(explained.respond_within_ms, 12 * 3_600_000);
    assert!(explained
        .reasons
        .iter()
        .any(|reason| reason.contains("the vip row applies as well")));
    assert!(explained
        .reasons
        .iter()
        .any(|reason| reason.contains("from the vip row")));
    assert!(explained
        .reasons
        .iter()
        .any(|reason| reason.contains("the customer was tagged vip")));
    history.run(recompute(false), minutes(40));
    let untagged = explain(
        &history.state(),
        &history.events,
        &history.policy,
        minutes(50),
    );
    assert_ne!(untagged.sla_row, "vip");
}
