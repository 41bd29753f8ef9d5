//! The reports folded from the compact report rows (`ReportRow`, what `report_rows.facts`
//! holds) equal the reports folded from the whole ticket states (`tickets.state_json`), for
//! the same tickets: the monthly report, a quarter with its months, and each person's
//! figures, with reopened tickets, adopted suggestions told and untold, evaluations,
//! problems with linked reports, transfers away, erased customers and expired retention.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::event::{CustomerErased, Event, RetentionExpired};
use domain::ticket::{ChildLink, Evaluation, Note, TransferredAway};
use domain::types::{Kind, LinkMode, Outcome, Step};
use domain::{Rules, Ticket, TicketIdGenerator};
use reports::synthetic::{ticket, Random};
use reports::{
    fold_report_rows, fold_stored, PeopleBuilder, PeopleScope, Period, PeriodBuilder,
    ReportBuilder, ReportError, ReportOptions, ReportRow, TicketFold, YearMonth,
};

/// Synthetic tickets of 2026-Q3 with every fact the reports read varied.
fn tickets(count: u64) -> Vec<Ticket> {
    let rules = Rules::defaults();
    let offset = rules.calendar().offset();
    let months: Vec<YearMonth> = "2026-Q3".parse::<Period>().unwrap().months();
    let mut random = Random(5);
    let mut generator = TicketIdGenerator::new(3);
    let mut all: Vec<Ticket> = (0..count)
        .map(|index| {
            let month = months[usize::try_from(index % 3).unwrap()];
            let mut state = ticket(&mut random, &mut generator, month.start(offset));
            vary(&mut state, index);
            state
        })
        .collect();
    // A few problems with linked reports (the parent counts once, with every reporter).
    for index in (0..all.len()).step_by(23) {
        let child = all[(index + 1) % all.len()].ticket_id.clone().unwrap();
        let parent = all[index].ticket_id.clone().unwrap();
        let at = all[index].received_at.unwrap();
        all[index].children.push(ChildLink {
            child,
            mode: LinkMode::Link,
            at,
        });
        let linked = (index + 1) % all.len();
        all[linked].parent = Some(parent);
        all[linked].link_mode = Some(LinkMode::Link);
    }
    all
}

fn vary(state: &mut Ticket, index: u64) {
    let received = state.received_at.unwrap();
    let department = state.department.clone();
    if let Some(department) = &department {
        state.assignee = Some(format!("{department}-{:02}", index % 7));
    }
    state.terms = vec![format!("term-{}", index % 9), "转圈".to_owned()];
    if index % 5 == 0 {
        // An adopted suggestion, told by a note to the customer in the current round.
        state.kind = Some(Kind::Suggestion);
        state.outcome = Some(if index % 10 == 0 {
            Outcome::Adopted
        } else {
            Outcome::Planned
        });
        let resolved = received + Duration::hours(30);
        state
            .responded_at
            .get_or_insert(received + Duration::hours(1));
        state.resolved_at = Some(resolved);
        state.solution = Some(domain::ticket::Solution {
            outcome: state.outcome.unwrap(),
            text: format!("solution {index}"),
            reason: String::new(),
            proposed_at: resolved - Duration::hours(2),
        });
        state.satisfaction = None;
        state.notes.push(Note {
            text: "we will do it".to_owned(),
            to_customer: index % 15 != 0,
            round: state.round,
            at: resolved,
        });
        state.evaluation = Some(Evaluation {
            feasibility: 4,
            cost: u8::try_from(index % 5).unwrap() + 1,
            benefit: 5,
            score: u8::try_from(8 + index % 7).unwrap(),
            note: "worth it".to_owned(),
            at: received + Duration::hours(3),
        });
    }
    if index % 13 == 0 {
        state.transferred_away.push(TransferredAway {
            person: format!("{}-{:02}", department.unwrap_or_default(), (index + 3) % 7),
            department: state.department.clone(),
            at: received + Duration::minutes(20),
        });
    }
    if index % 29 == 0 {
        state.step = Step::Archive;
    }
    if index % 11 == 0 {
        *state = domain::apply(
            std::mem::take(state),
            &Event::CustomerErased(CustomerErased {
                at: received + Duration::days(40),
            }),
        );
    }
    if index % 31 == 0 && state.step == Step::Archive {
        *state = domain::apply(
            std::mem::take(state),
            &Event::RetentionExpired(RetentionExpired {
                at: received + Duration::days(400),
            }),
        );
    }
}

/// The row of `ticket` as the projections store it and the reports read it back.
fn through_row(ticket: &Ticket) -> Ticket {
    let json = ReportRow::json_of(ticket).unwrap();
    serde_json::from_str::<ReportRow>(&json)
        .unwrap()
        .into_ticket()
}

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 20, 3, 0, 0).unwrap()
}

#[test]
fn reports_from_report_rows_equal_reports_from_whole_states() {
    let rules = Rules::defaults();
    let all = tickets(3_000);
    assert!(all.iter().any(|state| !state.previous_rounds.is_empty()));
    assert!(all.iter().any(|state| state.customer_erased));
    assert!(all.iter().any(|state| state.retention_expired));
    let rows: Vec<Ticket> = all.iter().map(through_row).collect();
    let quarter: Period = "2026-Q3".parse().unwrap();
    let options = ReportOptions::default;

    for month in ["2026-08", "2026-09"] {
        let month: YearMonth = month.parse().unwrap();
        for department in [None, Some("technical".to_owned())] {
            let fold = |tickets: &[Ticket]| {
                let mut builder =
                    ReportBuilder::new(&rules, month, department.clone(), 9, as_of(), options());
                tickets.iter().for_each(|ticket| builder.add(ticket));
                builder.finish()
            };
            let whole = fold(&all);
            assert!(whole.adopted_count > 0 && !whole.adopted_suggestions.is_empty());
            assert!(whole.reopened > 0);
            assert_eq!(fold(&rows), whole, "{month} {department:?}");
        }
    }

    let period = |tickets: &[Ticket]| {
        let mut builder = PeriodBuilder::new(&rules, quarter, None, 9, as_of(), options());
        tickets.iter().for_each(|ticket| builder.add(ticket));
        builder.finish()
    };
    assert_eq!(period(&rows), period(&all));

    let people = |tickets: &[Ticket]| {
        let mut builder = PeopleBuilder::new(&rules, quarter, PeopleScope::default(), 9, as_of());
        tickets.iter().for_each(|ticket| builder.add(ticket));
        builder.finish()
    };
    let whole = people(&all);
    assert!(whole.people.iter().any(|person| person.transfers_away > 0));
    assert_eq!(people(&rows), whole);
}

/// The two stored forms through the parsers: `fold_stored` over `state_json`,
/// `fold_report_rows` over `report_rows.facts`.
#[test]
fn folding_stored_rows_equals_folding_stored_states() {
    let rules = Rules::defaults();
    let all = tickets(2_500);
    let quarter: Period = "2026-Q3".parse().unwrap();
    let states: Vec<Result<String, ReportError>> = all
        .iter()
        .map(|state| Ok(serde_json::to_string(state).unwrap()))
        .collect();
    let rows: Vec<Result<String, ReportError>> = all
        .iter()
        .map(|state| Ok(ReportRow::json_of(state).unwrap()))
        .collect();
    let make = || {
        (
            PeriodBuilder::new(&rules, quarter, None, 9, as_of(), ReportOptions::default()),
            PeopleBuilder::new(&rules, quarter, PeopleScope::default(), 9, as_of()),
        )
    };
    let mut from_states = make();
    fold_stored(&mut from_states, states.into_iter(), |error| error).unwrap();
    let mut from_rows = make();
    fold_report_rows(&mut from_rows, rows.clone().into_iter(), |error| error).unwrap();
    assert_eq!(from_rows.0.finish(), from_states.0.finish());
    assert_eq!(from_rows.1.finish(), from_states.1.finish());

    // The rows are a fraction of the states (these tickets carry more than most: a fifth
    // are adopted suggestions, which keep what the report lists of them).
    let row_bytes: usize = rows.iter().map(|row| row.as_ref().unwrap().len()).sum();
    let state_bytes: usize = all
        .iter()
        .map(|state| serde_json::to_string(state).unwrap().len())
        .sum();
    assert!(row_bytes * 3 < state_bytes, "{row_bytes} vs {state_bytes}");

    // A row that is not a report row names itself.
    let mut fold = make();
    let refused = fold_report_rows(
        &mut fold,
        vec![Ok("{\"v\":\"x\"}".to_owned())].into_iter(),
        |error| error,
    )
    .unwrap_err();
    assert!(refused.to_string().contains("report row"), "{refused}");
    let _ = &mut fold as &mut dyn TicketFold;
}

#[test]
fn erasure_takes_the_customers_words_out_of_the_report_row() {
    let mut all = tickets(60);
    let state = all
        .iter_mut()
        .find(|state| {
            !state.customer_erased
                && state.kind == Some(Kind::Suggestion)
                && reports::public::Adoption::of(state).is_some()
        })
        .unwrap();
    let before = ReportRow::of(state);
    assert!(!before.terms.is_empty());
    let adopted = before.adopted.as_ref().unwrap();
    assert_eq!(adopted.customer_name.as_deref(), Some("张三"));
    assert!(!adopted.content.is_empty());
    assert!(adopted.notes.iter().all(|note| note.text.is_empty()));
    let erased = domain::apply(
        state.clone(),
        &Event::CustomerErased(CustomerErased { at: as_of() }),
    );
    let after = ReportRow::of(&erased);
    assert!(after.terms.is_empty(), "the terms are the customer's words");
    let adopted = after.adopted.as_ref().unwrap();
    assert_eq!(adopted.customer_name, None);
    assert!(adopted.content.is_empty());
    // Nothing of the customer is in the stored row.
    let json = ReportRow::json_of(&erased).unwrap();
    assert!(!json.contains("张三") && !json.contains("转圈"), "{json}");
    // The staff's facts stay.
    assert_eq!(after.keywords, before.keywords);
    assert_eq!(after.department, before.department);
}
