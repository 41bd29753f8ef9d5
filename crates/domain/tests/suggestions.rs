//! The suggestion pipeline through `decide` and `apply`: the evaluation before adoption, the
//! delivery of a planned suggestion, the monthly award, and the winners chosen from the
//! folded states (the same after a replay).

mod support;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use domain::aggregate::{decide, fold};
use domain::award::{candidate, choose_winners, month_bounds};
use domain::command::Command;
use domain::event::Event;
use domain::types::{
    Classification, ContentType, Deadlines, Kind, Outcome, Policy, Priority, Route, Scope, Step,
};
use domain::DomainError;
use support::{minutes, t0};

/// Every ticket is a suggestion for `product`; solutions need no approval.
struct SuggestionPolicy {
    kind: Kind,
}

impl Policy for SuggestionPolicy {
    fn classify(&self, _content: &str, _product: Option<&str>) -> Classification {
        Classification {
            kind: self.kind,
            content_type: ContentType::Product,
            priority: Priority::Low,
            scope: Scope::Local,
            keywords: Vec::new(),
            terms: Vec::new(),
            confidence: 0.9,
            confident: true,
            complex: false,
        }
    }

    fn route(&self, _classification: &Classification, _product: Option<&str>) -> Option<Route> {
        Some(Route {
            department: "product".to_owned(),
            helpers: Vec::new(),
            rule: "suggestions-to-product".to_owned(),
        })
    }

    fn deadlines(&self, received_at: DateTime<Utc>, _classification: &Classification) -> Deadlines {
        Deadlines {
            respond_by: received_at + Duration::hours(72),
            resolve_by: received_at + Duration::hours(120),
            warn_respond_at: received_at + Duration::hours(54),
            warn_resolve_at: received_at + Duration::hours(90),
            policy_version: "sla-test-1".to_owned(),
            calendar_version: "calendar-test-1".to_owned(),
        }
    }

    fn requires_approval(&self, _classification: &Classification, _outcome: Outcome) -> bool {
        false
    }

    fn satisfied_threshold(&self) -> u8 {
        4
    }

    fn is_department(&self, department: &str) -> bool {
        department == "product"
    }

    fn version(&self) -> String {
        "rules-test-1".to_owned()
    }
}

type History = support::History<SuggestionPolicy>;

fn suggestion(sequence: u8, received_at: DateTime<Utc>) -> History {
    History::received(
        SuggestionPolicy {
            kind: Kind::Suggestion,
        },
        support::submission(sequence, received_at, "建议增加夜间模式"),
        received_at,
    )
}

fn evaluate(feasibility: u8, cost: u8, benefit: u8) -> Command {
    Command::EvaluateSuggestion {
        feasibility,
        cost,
        benefit,
        note: "worth it".to_owned(),
    }
}

fn propose(outcome: Outcome) -> Command {
    Command::ProposeSolution {
        outcome,
        text: "night mode in the next release".to_owned(),
        reason: if outcome == Outcome::Declined {
            "not now".to_owned()
        } else {
            String::new()
        },
    }
}

fn delivered(day: u32) -> Command {
    Command::MarkDelivered {
        delivered_on: NaiveDate::from_ymd_opt(2026, 3, day).expect("date"),
        note: "shipped in 2.4".to_owned(),
    }
}

fn precondition(result: Result<Vec<Event>, DomainError>, words: &str) {
    match result {
        Err(DomainError::Precondition { reason }) => {
            assert!(reason.contains(words), "{reason}");
        }
        other => panic!("expected a failed precondition ({words}), got {other:?}"),
    }
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::event_type).collect()
}

#[test]
fn adopting_or_planning_without_an_evaluation_is_refused() {
    let history = suggestion(0, t0());
    for outcome in [Outcome::Adopted, Outcome::Planned] {
        precondition(
            history.when(propose(outcome), minutes(5)),
            "evaluate the suggestion first",
        );
    }
    // Declining needs no evaluation.
    assert!(history.when(propose(Outcome::Declined), minutes(5)).is_ok());
}

#[test]
fn an_evaluation_opens_adoption_and_is_kept_on_the_ticket() {
    let mut history = suggestion(0, t0());
    let events = history.run(evaluate(4, 2, 5), minutes(5));
    assert_eq!(types(&events), ["suggestion_evaluated"]);
    let evaluation = history.state().evaluation.expect("evaluated");
    assert_eq!(
        (evaluation.feasibility, evaluation.cost, evaluation.benefit),
        (4, 2, 5)
    );
    assert_eq!(evaluation.score, 13, "4 + 5 + (6 - 2)");
    assert_eq!(evaluation.band(), "high");
    // A second evaluation replaces the first.
    history.run(evaluate(2, 4, 3), minutes(6));
    assert_eq!(history.state().evaluation.map(|e| e.score), Some(7));
    let events = history.run(propose(Outcome::Adopted), minutes(10));
    assert!(types(&events).contains(&"solution_proposed"));
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Review);
    assert_eq!(ticket.outcome, Some(Outcome::Adopted));
    // After the solution the evaluation is closed.
    assert!(matches!(
        history.when(evaluate(5, 1, 5), minutes(11)),
        Err(DomainError::WrongStep { .. })
    ));
}

#[test]
fn evaluations_are_checked() {
    let history = suggestion(0, t0());
    for (command, field) in [
        (evaluate(0, 3, 3), "feasibility"),
        (evaluate(3, 6, 3), "cost"),
        (evaluate(3, 3, 9), "benefit"),
    ] {
        match history.when(command, minutes(5)) {
            Err(DomainError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    let complaint = History::received(
        SuggestionPolicy {
            kind: Kind::Complaint,
        },
        support::submission(1, t0(), "退款没到"),
        t0(),
    );
    precondition(
        complaint.when(evaluate(3, 3, 3), minutes(5)),
        "only a suggestion",
    );
}

#[test]
fn only_a_planned_suggestion_is_delivered_once_even_after_archiving() {
    let mut adopted = suggestion(0, t0());
    adopted.run(evaluate(4, 2, 5), minutes(5));
    adopted.run(propose(Outcome::Adopted), minutes(10));
    precondition(adopted.when(delivered(20), minutes(20)), "planned");

    let mut planned = suggestion(1, t0());
    planned.run(evaluate(4, 2, 5), minutes(5));
    // Not before the solution is accepted.
    precondition(planned.when(delivered(16), minutes(6)), "planned");
    planned.run(propose(Outcome::Planned), minutes(10));
    planned.run(
        Command::RecordReview {
            satisfaction: 5,
            comment: String::new(),
        },
        minutes(20),
    );
    planned.run(Command::Archive, minutes(30));
    // A date in the future is refused.
    let future = Command::MarkDelivered {
        delivered_on: NaiveDate::from_ymd_opt(2026, 4, 30).expect("date"),
        note: String::new(),
    };
    assert!(matches!(
        planned.when(future, minutes(40)),
        Err(DomainError::Invalid { .. })
    ));
    let events = planned.run(delivered(16), minutes(40));
    assert_eq!(types(&events), ["suggestion_delivered"]);
    let ticket = planned.state();
    assert_eq!(
        ticket.step,
        Step::Archive,
        "delivery does not move the ticket"
    );
    let delivery = ticket.delivery.expect("delivered");
    assert_eq!(delivery.delivered_on.to_string(), "2026-03-16");
    precondition(
        planned.when(delivered(16), minutes(50)),
        "already delivered",
    );
}

#[test]
fn an_award_is_granted_once_to_an_evaluated_accepted_suggestion() {
    let grant = |rank| Command::GrantAward {
        month: "2026-03".to_owned(),
        rank,
        score: 13,
        reward: "500 points".to_owned(),
    };
    let mut history = suggestion(0, t0());
    history.run(evaluate(4, 2, 5), minutes(5));
    precondition(history.when(grant(1), minutes(6)), "not an evaluated");
    history.run(propose(Outcome::Adopted), minutes(10));
    let events = history.run(grant(1), minutes(60));
    assert_eq!(types(&events), ["award_granted"]);
    assert_eq!(history.state().award.map(|award| award.rank), Some(1));
    assert!(history
        .when(grant(2), minutes(61))
        .expect("no-op")
        .is_empty());
    assert!(Command::GrantAward {
        month: String::new(),
        rank: 1,
        score: 1,
        reward: String::new()
    }
    .is_system());
}

/// Twelve suggestions adopted in March with scores 3..=14, two sharing a score: the ten best
/// win, the earlier submission taking a tie; granting them and folding the log again gives
/// the same ten.
#[test]
fn a_month_of_twelve_gives_ten_winners_and_replay_gives_the_same() {
    let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
    let bounds = month_bounds("2026-03", offset).expect("month");
    let figures = [
        (1, 5, 1),
        (1, 4, 1),
        (2, 4, 1),
        (2, 4, 2),
        (3, 4, 2),
        (3, 3, 2),
        (3, 3, 3),
        (4, 3, 3),
        (4, 2, 3),
        (4, 2, 4),
        (5, 2, 4),
        (4, 2, 4),
    ];
    let mut histories: Vec<History> = figures
        .iter()
        .enumerate()
        .map(|(index, &(feasibility, cost, benefit))| {
            let received = t0() + Duration::hours(i64::try_from(index).expect("small"));
            let mut history = suggestion(u8::try_from(index).expect("small"), received);
            history.run(
                evaluate(feasibility, cost, benefit),
                received + Duration::minutes(5),
            );
            history.run(propose(Outcome::Adopted), received + Duration::minutes(10));
            history
        })
        .collect();
    let candidates: Vec<_> = histories
        .iter()
        .filter_map(|history| candidate(&history.state(), "2026-03", bounds))
        .collect();
    assert_eq!(candidates.len(), 12);
    let winners = choose_winners(&candidates, 10);
    assert_eq!(winners.len(), 10);
    // Tickets 9 and 11 both score 12: the earlier submission (9) ranks first.
    let rank_of = |index: usize| {
        winners
            .iter()
            .find(|winner| winner.ticket_id == histories[index].state().id_text())
            .map(|winner| winner.rank)
    };
    assert_eq!(rank_of(10), Some(1));
    assert_eq!(rank_of(9), Some(2));
    assert_eq!(rank_of(11), Some(3));
    assert_eq!((rank_of(0), rank_of(1)), (None, None));
    let award_time = support::at("2026-04-01T01:00:00Z");
    for winner in &winners {
        let history = histories
            .iter_mut()
            .find(|history| history.state().id_text() == winner.ticket_id)
            .expect("a winner is a candidate");
        history.run(
            Command::GrantAward {
                month: "2026-03".to_owned(),
                rank: winner.rank,
                score: winner.score,
                reward: "500 points".to_owned(),
            },
            award_time,
        );
    }
    // Every event of the pipeline reads back from its stored type and payload.
    for event in histories.iter().flat_map(|history| &history.events) {
        let read = Event::from_parts(
            event.event_type(),
            event.schema_version(),
            &event.to_payload(),
        )
        .expect("reads back");
        assert_eq!(&read, event);
    }
    // Replay: fold each stream from its events again; the recorded winners are the same.
    let replayed: Vec<(String, u32)> = histories
        .iter()
        .filter_map(|history| {
            let state = fold(&history.events);
            let id = state.id_text();
            state.award.map(|award| (id, award.rank))
        })
        .collect();
    let mut chosen: Vec<(String, u32)> = winners
        .iter()
        .map(|winner| (winner.ticket_id.clone(), winner.rank))
        .collect();
    chosen.sort();
    let mut replayed_sorted = replayed.clone();
    replayed_sorted.sort();
    assert_eq!(replayed_sorted, chosen);
    // Choosing again over the granted states changes nothing.
    let again: Vec<_> = histories
        .iter()
        .filter_map(|history| candidate(&history.state(), "2026-03", bounds))
        .collect();
    let again = choose_winners(&again, 10);
    assert!(again.iter().all(|winner| winner.recorded));
    assert_eq!(again.len(), 10);
    // A state decided again gives no new event.
    let state = histories[10].state();
    let repeat = Command::GrantAward {
        month: "2026-03".to_owned(),
        rank: 1,
        score: 14,
        reward: "500 points".to_owned(),
    };
    assert!(decide(&state, &repeat, award_time, &histories[10].policy)
        .expect("no-op")
        .is_empty());
}
