//! The quarter report and each person's figures against a fixture quarter computed by hand:
//! six tickets of 2026-Q1 (China time), one of the quarter before and one of the quarter after.
//! Every expected figure is written out with its arithmetic; nothing is recomputed by the code
//! under test. Definitions: `docs/reports.md` ("Periods", "People").

// Test helpers outside `#[test]` functions build fixed, valid data.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use domain::ticket::{RoundRecord, TransferredAway};
use domain::types::{ContentType, Kind, Priority, SlaState, Step};
use domain::{Rules, Ticket, TicketIdGenerator};
use reports::{PeopleBuilder, PeopleScope, Period, PeriodBuilder, PersonFigures, ReportOptions};

const MINUTE: i64 = 60_000;

/// An instant in China time (+08:00).
fn local(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Reports are judged at 10 April 2026, 10:00: every deadline of the quarter has passed.
fn as_of() -> DateTime<Utc> {
    local(2026, 4, 10, 10, 0)
}

/// A ticket received at `received`, due to be responded to within 4 hours and resolved
/// within 72 (elapsed), in `department`, held by `assignee`.
fn ticket(
    node: u16,
    received: DateTime<Utc>,
    kind: Kind,
    department: &str,
    assignee: Option<&str>,
) -> Ticket {
    Ticket {
        ticket_id: Some(TicketIdGenerator::new(node).next(received)),
        version: 5,
        step: Step::Handle,
        channel: "web".to_owned(),
        content: format!("ticket {node}"),
        received_at: Some(received),
        created_at: Some(received),
        kind: Some(kind),
        content_type: Some(ContentType::Product),
        priority: Some(Priority::High),
        department: Some(department.to_owned()),
        assignee: assignee.map(str::to_owned),
        respond_by: Some(received + Duration::hours(4)),
        resolve_by: Some(received + Duration::hours(72)),
        ..Ticket::default()
    }
}

/// The fixture. Working hours are 09:00-12:00 and 13:00-18:00 on working days.
fn fixture() -> Vec<Ticket> {
    // T1, Mon 5 Jan 09:00, wang (technical), complaint about APP: responded 10:00 (60 min
    // working, on time), resolved Tue 6 Jan 09:00 (by 8 Jan 09:00: on time), reviewed 5.
    let t1_at = local(2026, 1, 5, 9, 0);
    let mut t1 = ticket(1, t1_at, Kind::Complaint, "technical", Some("wang.wu"));
    t1.product = Some("APP".to_owned());
    t1.responded_at = Some(local(2026, 1, 5, 10, 0));
    t1.resolved_at = Some(local(2026, 1, 6, 9, 0));
    t1.satisfaction = Some(5);
    t1.step = Step::Review;

    // T2, Mon 2 Feb 11:00, wang, complaint about APP. Round 1: responded 14:00 (elapsed 3 h:
    // on time; working 11:00-12:00 + 13:00-14:00 = 120 min), resolved 4 Feb, reviewed 3 ->
    // reopened. Round 2: resolved Fri 6 Feb 10:00, after the first round's resolve-by (5 Feb
    // 11:00): late; reviewed 5.
    let t2_at = local(2026, 2, 2, 11, 0);
    let mut t2 = ticket(2, t2_at, Kind::Complaint, "technical", Some("wang.wu"));
    t2.product = Some("APP".to_owned());
    t2.previous_rounds = vec![RoundRecord {
        round: 1,
        department: Some("technical".to_owned()),
        respond_by: Some(t2_at + Duration::hours(4)),
        resolve_by: Some(t2_at + Duration::hours(72)),
        responded_at: Some(local(2026, 2, 2, 14, 0)),
        resolved_at: Some(local(2026, 2, 4, 10, 0)),
        respond_sla: SlaState::OnTime,
        resolve_sla: SlaState::OnTime,
        outcome: None,
        satisfaction: Some(3),
        review_comment: None,
    }];
    t2.round = 2;
    t2.responded_at = Some(local(2026, 2, 4, 11, 0));
    t2.resolved_at = Some(local(2026, 2, 6, 10, 0));
    t2.satisfaction = Some(5);
    t2.step = Step::Review;

    // T3, Mon 2 Mar 17:00, wang, complaint about APP: responded Tue 3 Mar 09:30 (elapsed
    // 16.5 h: late; working 17:00-18:00 + 09:00-09:30 = 90 min); never resolved (due 5 Mar
    // 17:00: missed); no review.
    let t3_at = local(2026, 3, 2, 17, 0);
    let mut t3 = ticket(3, t3_at, Kind::Complaint, "technical", Some("wang.wu"));
    t3.product = Some("APP".to_owned());
    t3.responded_at = Some(local(2026, 3, 3, 9, 30));

    // T4, Wed 7 Jan 10:00, suggestion: wang had it in technical, a transfer gave it to
    // logistics, li.si holds it. Responded 11:00 (60 min, on time), resolved 8 Jan 10:00
    // (on time), reviewed 4.
    let t4_at = local(2026, 1, 7, 10, 0);
    let mut t4 = ticket(4, t4_at, Kind::Suggestion, "logistics", Some("li.si"));
    t4.transferred_away = vec![TransferredAway {
        person: "wang.wu".to_owned(),
        department: Some("technical".to_owned()),
        at: local(2026, 1, 7, 10, 30),
    }];
    t4.responded_at = Some(local(2026, 1, 7, 11, 0));
    t4.resolved_at = Some(local(2026, 1, 8, 10, 0));
    t4.satisfaction = Some(4);
    t4.step = Step::Review;

    // T5, Wed 4 Mar 09:00, li.si, complaint about 物流: never responded (due 13:00: late),
    // never resolved (due 7 Mar: missed).
    let mut t5 = ticket(
        5,
        local(2026, 3, 4, 9, 0),
        Kind::Complaint,
        "logistics",
        Some("li.si"),
    );
    t5.product = Some("物流".to_owned());

    // T6, Tue 3 Feb 09:00, technical, nobody holds it: in no person's row.
    let t6 = ticket(6, local(2026, 2, 3, 9, 0), Kind::Inquiry, "technical", None);

    // T7, 30 Dec 2025 (the quarter before) and T8, 1 Apr 2026 (after): wang's, not counted.
    let mut t7 = ticket(
        7,
        local(2025, 12, 30, 9, 0),
        Kind::Inquiry,
        "technical",
        Some("wang.wu"),
    );
    t7.responded_at = Some(local(2025, 12, 30, 9, 30));
    let t8 = ticket(
        8,
        local(2026, 4, 1, 9, 0),
        Kind::Inquiry,
        "technical",
        Some("wang.wu"),
    );
    vec![t1, t2, t3, t4, t5, t6, t7, t8]
}

fn quarter() -> Period {
    "2026-Q1".parse().unwrap()
}

fn people(scope: PeopleScope) -> Vec<PersonFigures> {
    let rules = Rules::defaults();
    let mut builder = PeopleBuilder::new(&rules, quarter(), scope, 99, as_of());
    for ticket in fixture().iter().rev() {
        builder.add(ticket);
    }
    builder.finish().people
}

#[test]
fn each_persons_figures_over_the_quarter_match_the_hand_computation() {
    let rows = people(PeopleScope::default());
    let keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (row.department.as_str(), row.person.as_str()))
        .collect();
    // Department then person order; wang.wu's transfer away counts in technical.
    assert_eq!(keys, [("logistics", "li.si"), ("technical", "wang.wu")]);

    let li = &rows[0];
    assert_eq!(li.tickets_assigned, 2); // T4, T5
    assert_eq!(
        (li.response_due, li.responded, li.responded_on_time),
        (2, 1, 1)
    );
    assert_eq!(li.response_on_time_rate, 0.5); // 1 / 2
    assert_eq!(li.median_first_response_working_ms, Some(60 * MINUTE)); // [60]
    assert_eq!(li.p90_first_response_working_ms, Some(60 * MINUTE));
    assert_eq!(
        (li.resolved, li.resolution_due, li.resolved_on_time),
        (1, 2, 1)
    );
    assert_eq!(li.resolution_rate, 0.5); // T4 of T4, T5
    assert_eq!(li.resolution_on_time_rate, 0.5);
    assert_eq!((li.reviews, li.satisfied), (1, 1)); // T4: 4
    assert_eq!(li.satisfaction_mean, 4.0);
    assert_eq!(li.share_satisfied, 1.0);
    assert_eq!((li.reopened, li.transfers_away), (0, 0));

    let wang = &rows[1];
    assert_eq!(wang.tickets_assigned, 3); // T1, T2, T3 (T7 and T8 outside the quarter)
                                          // T1 60 min elapsed, T2 3 h: on time; T3 16.5 h: late.
    assert_eq!(
        (wang.response_due, wang.responded, wang.responded_on_time),
        (3, 3, 2)
    );
    assert_eq!(wang.response_on_time_rate, 2.0 / 3.0);
    // Working minutes sorted [60, 90, 120]: median 90; p90 rank ceil(0.9 x 3) = 3 -> 120.
    assert_eq!(wang.median_first_response_working_ms, Some(90 * MINUTE));
    assert_eq!(wang.p90_first_response_working_ms, Some(120 * MINUTE));
    // Resolved T1 (on time) and T2 (late: round 2 after the first round's deadline); T3 due.
    assert_eq!(
        (wang.resolved, wang.resolution_due, wang.resolved_on_time),
        (2, 3, 1)
    );
    assert_eq!(wang.resolution_rate, 2.0 / 3.0);
    assert_eq!(wang.resolution_on_time_rate, 1.0 / 3.0);
    // Reviews 5 (T1), 3 and 5 (T2): mean 13 / 3, satisfied (>= 4) 2 of 3.
    assert_eq!((wang.reviews, wang.satisfied), (3, 2));
    assert_eq!(wang.satisfaction_mean, 13.0 / 3.0);
    assert_eq!(wang.share_satisfied, 2.0 / 3.0);
    assert_eq!(wang.reopened, 1); // T2
    assert_eq!(wang.transfers_away, 1); // T4
}

#[test]
fn a_scope_keeps_only_its_rows() {
    let technical = people(PeopleScope {
        department: Some("technical".to_owned()),
        person: None,
    });
    assert_eq!(technical.len(), 1);
    assert_eq!(technical[0].person, "wang.wu");
    let li = people(PeopleScope {
        department: None,
        person: Some("li.si".to_owned()),
    });
    assert_eq!(li.len(), 1);
    assert_eq!(li[0].tickets_assigned, 2);
    let nobody = people(PeopleScope {
        department: Some("technical".to_owned()),
        person: Some("li.si".to_owned()),
    });
    assert!(nobody.is_empty());
}

#[test]
fn the_quarter_has_its_months_side_by_side_and_their_trend() {
    let rules = Rules::defaults();
    let mut builder = PeriodBuilder::new(
        &rules,
        quarter(),
        None,
        99,
        as_of(),
        ReportOptions::default(),
    );
    for ticket in fixture() {
        builder.add(&ticket);
    }
    let report = builder.finish();
    let whole = &report.report;
    assert_eq!(whole.period, Some(quarter()));
    assert_eq!(whole.month_start, local(2026, 1, 1, 0, 0));
    assert_eq!(whole.month_end, local(2026, 4, 1, 0, 0));
    assert_eq!(whole.tickets, 6); // T1-T6
    assert_eq!(whole.complaints, 4); // T1, T2, T3, T5
                                     // Resolved T1, T2, T4 of 6.
    assert_eq!(whole.on_time.resolution_rate, 0.5);
    // The 30% rule over the quarter: APP on 3 of 4 complaints (75%) is flagged, 物流 on 1
    // of 4 (25%) is not.
    let app = whole.top_products.iter().find(|p| p.key == "APP").unwrap();
    assert_eq!((app.count, app.complaints, app.priority_flag), (3, 3, true));
    let logistics = whole.top_products.iter().find(|p| p.key == "物流").unwrap();
    assert_eq!((logistics.complaints, logistics.priority_flag), (1, false));
    // Compared with the quarter before: T7 only.
    let tickets = whole
        .month_on_month
        .iter()
        .find(|change| change.name == "tickets")
        .unwrap();
    assert_eq!((tickets.current, tickets.previous), (6.0, 1.0));
    // High priority: every ticket is high; due 6 (all deadlines passed), on time T1, T4.
    let high = &whole.targets[0];
    assert_eq!(high.actual, 2.0 / 6.0);
    assert!(!high.met);

    let months: Vec<String> = report.months.iter().map(|m| m.month.to_string()).collect();
    assert_eq!(months, ["2026-01", "2026-02", "2026-03"]);
    assert_eq!(
        report.months.iter().map(|m| m.tickets).collect::<Vec<_>>(),
        [2, 2, 2] // T1 T4 | T2 T6 | T3 T5
    );
    let trend = |name: &str| {
        report
            .trend
            .iter()
            .find(|trend| trend.name == name)
            .unwrap()
            .clone()
    };
    // Resolved: January 2 of 2, February 1 of 2 (T2), March 0 of 2.
    let resolution = trend("resolution_rate");
    assert_eq!(resolution.values, [1.0, 0.5, 0.0]);
    assert_eq!(resolution.change, -1.0);
    // Reviews: January 5 and 4 (4.5), February 3 and 5 (4.0), March none (0).
    assert_eq!(trend("satisfaction_mean").values, [4.5, 4.0, 0.0]);
    assert_eq!(trend("tickets").change, 0.0);
    // The March report flags APP (T3: 1 of 2 complaints = 50%) and 物流 (50%) alike.
    let march = &report.months[2];
    assert!(march
        .top_products
        .iter()
        .all(|product| product.priority_flag));

    let html = report.to_html_in(reports::Lang::En);
    assert!(html.contains("<title>Report 2026-Q1</title>"), "{html}");
    assert!(html.contains(r#"<section id="months">"#));
    assert!(html.contains("cloop report period --quarter 2026-Q1"));
    let csv = report.to_csv();
    assert!(csv.contains("month,2026-02,resolution_rate,0.5\n"), "{csv}");
    assert!(csv.contains("trend,resolution_rate,change,-1\n"), "{csv}");
}

#[test]
fn the_people_report_renders_in_both_languages_and_as_csv() {
    let rules = Rules::defaults();
    let mut builder = PeopleBuilder::new(&rules, quarter(), PeopleScope::default(), 99, as_of());
    fixture().iter().for_each(|ticket| builder.add(ticket));
    let report = builder.finish();
    let english = report.to_html_in(reports::Lang::En);
    assert!(english.contains("People report 2026-Q1"));
    assert!(english.contains(r#"<tr data-person="wang.wu">"#));
    assert!(
        english.contains("<td>1 h 30 min</td>") || english.contains("1 h 30"),
        "{english}"
    );
    assert!(english.contains("<svg"));
    let chinese = report.to_html_in(reports::Lang::Zh);
    assert!(chinese.contains("人员报告 2026-Q1"));
    assert!(chinese.contains("按时响应"));
    let csv = report.to_csv();
    assert!(
        csv.contains("person,technical/wang.wu,transfers_away,1\n"),
        "{csv}"
    );
    assert!(csv.contains("person,technical/wang.wu,median_first_response_working_ms,5400000\n"));
    let json = report.to_json_pretty();
    let back: reports::PeopleReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}
