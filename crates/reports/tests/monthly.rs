//! The monthly report against a fixture month computed by hand: twenty November tickets with
//! known times, outcomes and ratings, four October tickets for the month-on-month figures,
//! and tickets of other months that must not count. Every expected figure below was worked
//! out on paper from the table in `november()`; `docs/reports.md` gives the definitions.

// Test helpers outside `#[test]` functions build fixed, valid data.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use domain::ticket::{Note, RoundRecord, Solution};
use domain::types::{ContentType, Kind, Outcome, Priority, SlaState, Step};
use domain::{Customer, Rules, Ticket, TicketIdGenerator};
use expect_test::expect;
use reports::{monthly_report, MonthlyReport, ReportInput, ReportOptions, YearMonth};

const HOUR: i64 = 60;

/// An instant given in China time (+08:00).
fn local(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let year = if month >= 9 { 2026 } else { 2027 };
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// The instant the fixture's reports are judged at: 1 December, 10:00 China time.
fn as_of() -> DateTime<Utc> {
    local(12, 1, 10, 0)
}

/// One ticket of the fixture, built as the fold of its events would leave it.
struct Spec {
    node: u16,
    received: DateTime<Utc>,
    kind: Option<Kind>,
    content_type: Option<ContentType>,
    priority: Option<Priority>,
    channel: &'static str,
    department: Option<&'static str>,
    keywords: &'static [&'static str],
    product: Option<&'static str>,
    /// Minutes from receipt to the respond-by and resolve-by instants.
    respond_within: i64,
    resolve_within: i64,
}

impl Spec {
    /// A ticket with the deadlines of its priority's SLA row (urgent 1 h / 24 h, high 2 h /
    /// 72 h, medium 24 h / 72 h, low 72 h / 168 h); `within` sets others.
    fn new(
        node: u16,
        received: DateTime<Utc>,
        kind: Kind,
        content_type: ContentType,
        priority: Priority,
        channel: &'static str,
        department: &'static str,
    ) -> Self {
        let (respond_within_hours, resolve_within_hours) = match priority {
            Priority::Urgent => (1, 24),
            Priority::High => (2, 72),
            Priority::Medium => (24, 72),
            Priority::Low => (72, 168),
        };
        Self {
            node,
            received,
            kind: Some(kind),
            content_type: Some(content_type),
            priority: Some(priority),
            channel,
            department: Some(department),
            keywords: &[],
            product: None,
            respond_within: respond_within_hours * HOUR,
            resolve_within: resolve_within_hours * HOUR,
        }
    }

    /// Deadlines `respond_hours` and `resolve_hours` after receipt.
    fn within(mut self, respond_hours: i64, resolve_hours: i64) -> Self {
        self.respond_within = respond_hours * HOUR;
        self.resolve_within = resolve_hours * HOUR;
        self
    }

    fn keywords(mut self, keywords: &'static [&'static str]) -> Self {
        self.keywords = keywords;
        self
    }

    fn product(mut self, product: &'static str) -> Self {
        self.product = Some(product);
        self
    }

    fn build(self) -> Ticket {
        let mut ticket = Ticket {
            ticket_id: Some(TicketIdGenerator::new(self.node).next(self.received)),
            version: 3,
            step: Step::Handle,
            channel: self.channel.to_owned(),
            customer: Customer {
                name: Some("张三".to_owned()),
                phone: Some("+8613800138000".to_owned()),
                ..Customer::default()
            },
            content: format!("fixture ticket {}", self.node),
            product: self.product.map(str::to_owned),
            received_at: Some(self.received),
            created_at: Some(self.received),
            occurred_at: Some(self.received),
            kind: self.kind,
            content_type: self.content_type,
            priority: self.priority,
            keywords: self
                .keywords
                .iter()
                .map(|text| (*text).to_owned())
                .collect(),
            department: self.department.map(str::to_owned),
            respond_by: Some(self.received + Duration::minutes(self.respond_within)),
            resolve_by: Some(self.received + Duration::minutes(self.resolve_within)),
            updated_at: Some(self.received),
            ..Ticket::default()
        };
        if ticket.kind.is_some() {
            ticket.scope = Some(domain::types::Scope::Local);
        } else {
            ticket.step = Step::Classify;
        }
        ticket
    }
}

/// What happened to a ticket after receipt, in minutes from receipt.
trait Handle {
    fn responded(self, minutes: i64) -> Self;
    fn resolved(self, minutes: i64, outcome: Outcome) -> Self;
    fn reviewed(self, score: u8) -> Self;
    fn archived(self) -> Self;
    fn reopened(self, at: DateTime<Utc>, respond_hours: i64, resolve_hours: i64) -> Self;
    fn note_to_customer(self, minutes: i64) -> Self;
}

impl Handle for Ticket {
    fn responded(mut self, minutes: i64) -> Self {
        self.responded_at = Some(self.received_at.unwrap() + Duration::minutes(minutes));
        self.acknowledgement = Some("we are on it".to_owned());
        self
    }

    fn resolved(mut self, minutes: i64, outcome: Outcome) -> Self {
        let at = self.received_at.unwrap() + Duration::minutes(minutes);
        self.resolved_at = Some(at);
        self.outcome = Some(outcome);
        self.solution = Some(Solution {
            outcome,
            text: format!("solution {}", outcome.as_str()),
            reason: String::new(),
            proposed_at: at,
        });
        self.step = Step::Review;
        self
    }

    fn reviewed(mut self, score: u8) -> Self {
        self.satisfaction = Some(score);
        self
    }

    fn archived(mut self) -> Self {
        self.step = Step::Archive;
        self.archived_at = self.resolved_at;
        self
    }

    fn reopened(mut self, at: DateTime<Utc>, respond_hours: i64, resolve_hours: i64) -> Self {
        self.previous_rounds.push(RoundRecord {
            round: self.round,
            department: self.department.clone(),
            respond_by: self.respond_by,
            resolve_by: self.resolve_by,
            responded_at: self.responded_at,
            resolved_at: self.resolved_at,
            respond_sla: SlaState::OnTime,
            resolve_sla: SlaState::OnTime,
            outcome: self.outcome,
            satisfaction: self.satisfaction,
            review_comment: None,
        });
        self.round += 1;
        self.responded_at = None;
        self.resolved_at = None;
        self.solution = None;
        self.outcome = None;
        self.satisfaction = None;
        self.respond_by = Some(at + Duration::hours(respond_hours));
        self.resolve_by = Some(at + Duration::hours(resolve_hours));
        self.step = Step::Handle;
        self
    }

    fn note_to_customer(mut self, minutes: i64) -> Self {
        self.notes.push(Note {
            text: "your suggestion is planned for the next release".to_owned(),
            to_customer: true,
            round: self.round,
            at: self.received_at.unwrap() + Duration::minutes(minutes),
        });
        self
    }
}

use ContentType::{Experience, Process, Product as ProductContent, Service};
use Kind::{Complaint, Inquiry, Praise, Problem, Suggestion};
use Priority::{High, Low, Medium, Urgent};

/// The twenty tickets received in November 2026 (China time).
fn november() -> Vec<Ticket> {
    let h = HOUR;
    vec![
        // T01: on time throughout, 5 stars.
        Spec::new(
            1,
            local(11, 2, 10, 0),
            Complaint,
            Service,
            High,
            "wechat",
            "after_sales",
        )
        .keywords(&["售后响应慢"])
        .build()
        .responded(h)
        .resolved(48 * h, Outcome::Fixed)
        .reviewed(5)
        .archived(),
        // T02: responded and resolved late.
        Spec::new(
            2,
            local(11, 3, 10, 0),
            Complaint,
            Service,
            High,
            "hotline",
            "after_sales",
        )
        .keywords(&["售后响应慢", "退款"])
        .build()
        .responded(3 * h)
        .resolved(80 * h, Outcome::Fixed)
        .reviewed(4)
        .archived(),
        // T03: urgent, on time.
        Spec::new(
            3,
            local(11, 4, 10, 0),
            Complaint,
            ProductContent,
            Urgent,
            "app",
            "technical",
        )
        .keywords(&["APP卡顿"])
        .product("APP")
        .build()
        .responded(30)
        .resolved(20 * h, Outcome::Fixed)
        .reviewed(5)
        .archived(),
        // T04: urgent, responded late, never resolved (overdue).
        Spec::new(
            4,
            local(11, 5, 10, 0),
            Complaint,
            ProductContent,
            Urgent,
            "app",
            "technical",
        )
        .keywords(&["APP卡顿", "安全隐患"])
        .product("APP")
        .build()
        .responded(2 * h),
        // T05: reopened after 2 stars; the second round resolved after the first deadline.
        Spec::new(
            5,
            local(11, 6, 10, 0),
            Complaint,
            Experience,
            Medium,
            "web",
            "technical",
        )
        .keywords(&["APP卡顿"])
        .product("APP")
        .build()
        .responded(4 * h)
        .resolved(24 * h, Outcome::Fixed)
        .reviewed(2)
        .reopened(local(11, 7, 12, 0), 24, 72)
        .responded(30 * h)
        .resolved(100 * h, Outcome::Fixed)
        .reviewed(4)
        .archived(),
        // T06: adopted suggestion, reviewed (customer told).
        Spec::new(
            6,
            local(11, 9, 10, 0),
            Suggestion,
            ProductContent,
            Low,
            "web",
            "product",
        )
        .keywords(&["建议"])
        .product("小程序")
        .build()
        .responded(24 * h)
        .resolved(100 * h, Outcome::Adopted)
        .reviewed(5)
        .archived(),
        // T07: planned suggestion, customer told by a note, not reviewed yet.
        Spec::new(
            7,
            local(11, 10, 10, 0),
            Suggestion,
            Experience,
            Low,
            "app",
            "product",
        )
        .product("APP")
        .build()
        .responded(30 * h)
        .resolved(50 * h, Outcome::Planned)
        .note_to_customer(51 * h),
        // T08: adopted suggestion, customer not told.
        Spec::new(
            8,
            local(11, 11, 10, 0),
            Suggestion,
            ProductContent,
            Low,
            "email",
            "product",
        )
        .product("小程序")
        .build()
        .responded(10 * h)
        .resolved(20 * h, Outcome::Adopted),
        // T09: declined suggestion.
        Spec::new(
            9,
            local(11, 12, 10, 0),
            Suggestion,
            Process,
            Low,
            "web",
            "product",
        )
        .build()
        .responded(5 * h)
        .resolved(40 * h, Outcome::Declined)
        .reviewed(4)
        .archived(),
        // T10: inquiry answered within hours.
        Spec::new(
            10,
            local(11, 13, 10, 0),
            Inquiry,
            Process,
            Medium,
            "hotline",
            "customer_service",
        )
        .keywords(&["发票"])
        .build()
        .responded(2 * h)
        .resolved(3 * h, Outcome::Explained)
        .reviewed(5)
        .archived(),
        // T11: 3 stars, reopened on 30 November; the new respond-by is exactly as_of.
        Spec::new(
            11,
            local(11, 16, 10, 0),
            Inquiry,
            Service,
            Medium,
            "wechat",
            "customer_service",
        )
        .build()
        .responded(h)
        .resolved(2 * h, Outcome::Explained)
        .reviewed(3)
        .reopened(local(11, 30, 10, 0), 24, 72),
        // T12: praise.
        Spec::new(
            12,
            local(11, 17, 10, 0),
            Praise,
            Service,
            Low,
            "store",
            "customer_service",
        )
        .build()
        .responded(5 * h)
        .resolved(5 * h, Outcome::Explained)
        .reviewed(5)
        .archived(),
        // T13: high priority problem, on time.
        Spec::new(
            13,
            local(11, 18, 10, 0),
            Problem,
            ProductContent,
            High,
            "app",
            "technical",
        )
        .keywords(&["APP卡顿"])
        .product("APP")
        .build()
        .responded(90)
        .resolved(70 * h, Outcome::Fixed)
        .reviewed(4)
        .archived(),
        // T14: responded late, resolved on time, waiting for review.
        Spec::new(
            14,
            local(11, 19, 10, 0),
            Problem,
            ProductContent,
            Medium,
            "web",
            "technical",
        )
        .keywords(&["闪退"])
        .product("APP")
        .build()
        .responded(26 * h)
        .resolved(60 * h, Outcome::Fixed),
        // T15: 1 star, reopened, second round resolved within the first deadline, 5 stars.
        Spec::new(
            15,
            local(11, 20, 10, 0),
            Complaint,
            Process,
            High,
            "weibo",
            "after_sales",
        )
        .keywords(&["退款"])
        .build()
        .responded(h)
        .resolved(30 * h, Outcome::Fixed)
        .reviewed(1)
        .reopened(local(11, 21, 16, 0), 2, 72)
        .responded(31 * h)
        .resolved(60 * h, Outcome::Fixed)
        .reviewed(5)
        .archived(),
        // T16: nobody responded; both deadlines passed.
        Spec::new(
            16,
            local(11, 23, 10, 0),
            Complaint,
            Service,
            Medium,
            "hotline",
            "after_sales",
        )
        .keywords(&["售后响应慢"])
        .build(),
        // T17: responded, resolution still within its deadline (3 December).
        Spec::new(
            17,
            local(11, 26, 10, 0),
            Problem,
            ProductContent,
            Low,
            "app",
            "technical",
        )
        .keywords(&["APP卡顿"])
        .product("APP")
        .build()
        .responded(70 * h),
        // T18: not classified yet; respond-by is exactly as_of.
        Spec {
            node: 18,
            received: local(11, 30, 10, 0),
            kind: None,
            content_type: None,
            priority: None,
            channel: "web",
            department: None,
            keywords: &[],
            product: None,
            respond_within: 24 * h,
            resolve_within: 72 * h,
        }
        .build(),
        // T19: urgent safety hazard, on time.
        Spec::new(
            19,
            local(11, 27, 10, 0),
            Complaint,
            ProductContent,
            Urgent,
            "hotline",
            "quality",
        )
        .keywords(&["安全隐患"])
        .product("充电宝")
        .build()
        .responded(30)
        .resolved(10 * h, Outcome::Fixed)
        .reviewed(5)
        .archived(),
        // T20: received at the very first instant of November (China time).
        Spec::new(
            20,
            local(11, 1, 0, 0),
            Praise,
            Experience,
            Low,
            "survey",
            "customer_service",
        )
        .build()
        .responded(h)
        .resolved(h, Outcome::Explained)
        .reviewed(5)
        .archived(),
    ]
}

/// Four October tickets (for month-on-month) and two of other months that must not count.
fn other_months() -> Vec<Ticket> {
    let h = HOUR;
    vec![
        // P1: one minute before November in China time.
        Spec::new(
            31,
            local(10, 31, 23, 59),
            Complaint,
            Service,
            High,
            "wechat",
            "after_sales",
        )
        .build()
        .responded(h)
        .resolved(10 * h, Outcome::Fixed)
        .reviewed(5)
        .archived(),
        // P2: resolved late.
        Spec::new(
            32,
            local(10, 10, 10, 0),
            Suggestion,
            ProductContent,
            Low,
            "web",
            "product",
        )
        .build()
        .responded(h)
        .resolved(200 * h, Outcome::Adopted)
        .reviewed(4)
        .archived(),
        // P3: responded late, reopened, resolved within the first deadline.
        Spec::new(
            33,
            local(10, 15, 10, 0),
            Problem,
            ProductContent,
            Medium,
            "app",
            "technical",
        )
        .build()
        .responded(30 * h)
        .resolved(40 * h, Outcome::Fixed)
        .reviewed(2)
        .reopened(local(10, 17, 2, 0), 24, 72)
        .responded(41 * h)
        .resolved(60 * h, Outcome::Fixed)
        .reviewed(4)
        .archived(),
        // P4: never responded.
        Spec::new(
            34,
            local(10, 20, 10, 0),
            Inquiry,
            Service,
            Medium,
            "hotline",
            "customer_service",
        )
        .build(),
        // December and September: outside both months.
        Spec::new(
            35,
            local(12, 1, 9, 0),
            Complaint,
            Service,
            High,
            "wechat",
            "after_sales",
        )
        .build(),
        Spec::new(
            36,
            local(9, 30, 23, 0),
            Complaint,
            Service,
            High,
            "wechat",
            "after_sales",
        )
        .build(),
    ]
}

fn all_tickets() -> Vec<Ticket> {
    let mut tickets = november();
    tickets.extend(other_months());
    tickets
}

fn report_with(
    tickets: &[Ticket],
    department: Option<&str>,
    options: ReportOptions,
) -> MonthlyReport {
    let rules = Rules::defaults();
    monthly_report(ReportInput {
        tickets: tickets.iter(),
        rules: &rules,
        month: "2026-11".parse::<YearMonth>().unwrap(),
        department: department.map(str::to_owned),
        log_position: 4242,
        as_of: as_of(),
        options,
    })
}

fn november_report() -> MonthlyReport {
    report_with(&all_tickets(), None, ReportOptions::default())
}

/// Rows of `shares` for counts out of the 20 tickets of November: each share is its count
/// over 20.
fn of_twenty(counts: &[(&'static str, u64)]) -> Vec<(&'static str, u64, f64)> {
    counts
        .iter()
        .map(|&(key, count)| (key, count, count as f64 / 20.0))
        .collect()
}

fn shares(report: &[reports::CategoryShare]) -> Vec<(&str, u64, f64)> {
    report
        .iter()
        .map(|share| (share.key.as_str(), share.count, share.share))
        .collect()
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

#[test]
fn counts_and_shares_by_dimension() {
    let report = november_report();
    assert_eq!(report.tickets, 20);
    assert_eq!(report.complaints, 8);
    assert_eq!(
        shares(&report.by_kind),
        of_twenty(&[
            ("suggestion", 4),
            ("complaint", 8),
            ("problem", 3),
            ("inquiry", 2),
            ("praise", 2),
            ("unclassified", 1)
        ])
    );
    assert_eq!(
        shares(&report.by_content_type),
        of_twenty(&[
            ("product", 8),
            ("service", 5),
            ("process", 3),
            ("experience", 3),
            ("unclassified", 1)
        ])
    );
    assert_eq!(
        shares(&report.by_priority),
        of_twenty(&[
            ("urgent", 3),
            ("high", 4),
            ("medium", 5),
            ("low", 7),
            ("unclassified", 1)
        ])
    );
    assert_eq!(
        shares(&report.by_channel),
        of_twenty(&[
            ("app", 5),
            ("web", 5),
            ("hotline", 4),
            ("wechat", 2),
            ("email", 1),
            ("store", 1),
            ("survey", 1),
            ("weibo", 1)
        ])
    );
}

#[test]
fn on_time_rates_overall_and_per_priority() {
    let report = november_report();
    let all = &report.on_time;
    assert_eq!(all.priority, None);
    assert_eq!(
        (
            all.received,
            all.response_due,
            all.responded,
            all.responded_on_time
        ),
        (20, 19, 18, 15)
    );
    assert_eq!(all.response_on_time_rate, 15.0 / 19.0);
    assert_eq!(
        (all.resolution_due, all.resolved, all.resolved_on_time),
        (18, 15, 13)
    );
    assert_eq!(all.resolution_on_time_rate, 13.0 / 18.0);
    assert_eq!(all.resolution_rate, 15.0 / 20.0);

    let rows: Vec<_> = report
        .on_time_by_priority
        .iter()
        .map(|rates| {
            (
                rates.priority,
                rates.received,
                rates.response_due,
                rates.responded,
                rates.responded_on_time,
                rates.resolution_due,
                rates.resolved,
                rates.resolved_on_time,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (Some(Urgent), 3, 3, 3, 2, 3, 2, 2),
            (Some(High), 4, 4, 4, 3, 4, 4, 3),
            (Some(Medium), 5, 5, 4, 3, 5, 3, 2),
            (Some(Low), 7, 7, 7, 7, 6, 6, 6),
        ]
    );
    let urgent = &report.on_time_by_priority[0];
    assert_eq!(urgent.response_on_time_rate, 2.0 / 3.0);
    assert_eq!(urgent.resolution_rate, 2.0 / 3.0);
    let medium = &report.on_time_by_priority[2];
    assert_eq!(medium.resolution_on_time_rate, 2.0 / 5.0);
    assert_eq!(medium.resolution_rate, 3.0 / 5.0);
    assert_eq!(report.on_time_by_priority[3].resolution_rate, 6.0 / 7.0);
}

#[test]
fn satisfaction_and_reopen_rate() {
    let report = november_report();
    let satisfaction = &report.satisfaction;
    // Every review counts: the 13 reviewed tickets' latest scores (sum 59), and the earlier
    // rounds' 2 of T05 and 1 of T15 that reopened them (T11's 3 is its latest): 15 reviews,
    // sum 62, 12 of them 4 or 5.
    assert_eq!(satisfaction.reviews, 15);
    assert_eq!(satisfaction.mean, 62.0 / 15.0);
    assert_eq!(satisfaction.satisfied, 12);
    assert_eq!(satisfaction.share_satisfied, 12.0 / 15.0);
    let distribution: Vec<(u8, u64)> = satisfaction
        .distribution
        .iter()
        .map(|score| (score.score, score.count))
        .collect();
    assert_eq!(distribution, vec![(1, 1), (2, 1), (3, 1), (4, 4), (5, 8)]);
    // Reopened T05, T11, T15, of the 13 reviewed tickets.
    assert_eq!(report.reopened, 3);
    assert_eq!(report.reopen_rate, 3.0 / 13.0);
}

#[test]
fn top_problems_with_the_thirty_percent_flag() {
    let report = november_report();
    let keywords: Vec<_> = report
        .top_keywords
        .iter()
        .map(|problem| {
            (
                problem.key.as_str(),
                problem.count,
                problem.share,
                problem.complaints,
                problem.complaint_share,
                problem.priority_flag,
            )
        })
        .collect();
    assert_eq!(
        keywords,
        vec![
            ("APP卡顿", 5, 0.25, 3, 3.0 / 8.0, true),
            ("售后响应慢", 3, 0.15, 3, 3.0 / 8.0, true),
            ("安全隐患", 2, 0.1, 2, 0.25, false),
            ("退款", 2, 0.1, 2, 0.25, false),
            ("发票", 1, 0.05, 0, 0.0, false),
            ("建议", 1, 0.05, 0, 0.0, false),
            ("闪退", 1, 0.05, 0, 0.0, false),
        ]
    );
    let products: Vec<_> = report
        .top_products
        .iter()
        .map(|problem| {
            (
                problem.key.as_str(),
                problem.count,
                problem.complaints,
                problem.priority_flag,
            )
        })
        .collect();
    assert_eq!(
        products,
        vec![
            ("APP", 7, 3, true),
            ("小程序", 2, 0, false),
            ("充电宝", 1, 1, false)
        ]
    );
}

#[test]
fn flagged_problems_are_listed_beyond_the_limit() {
    let report = report_with(
        &all_tickets(),
        None,
        ReportOptions {
            top_problems: 1,
            ..ReportOptions::default()
        },
    );
    let keys: Vec<&str> = report
        .top_keywords
        .iter()
        .map(|problem| problem.key.as_str())
        .collect();
    assert_eq!(keys, vec!["APP卡顿", "售后响应慢"]);
}

#[test]
fn department_kpis() {
    let report = november_report();
    let names: Vec<&str> = report
        .departments
        .iter()
        .map(|kpi| kpi.department.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "after_sales",
            "customer_service",
            "logistics",
            "marketing",
            "operations",
            "product",
            "quality",
            "technical"
        ]
    );
    assert_eq!(report.unassigned, 1);
    let kpi = |name: &str| {
        report
            .departments
            .iter()
            .find(|kpi| kpi.department == name)
            .unwrap()
            .clone()
    };

    let after_sales = kpi("after_sales");
    assert_eq!(after_sales.volume, 4);
    assert_eq!(after_sales.responded, 3);
    assert_eq!(after_sales.median_first_response_ms, Some(HOUR_MS));
    assert_eq!(after_sales.p90_first_response_ms, Some(3 * HOUR_MS));
    assert_eq!(after_sales.median_first_response_working_ms, Some(HOUR_MS));
    assert_eq!(after_sales.resolved, 3);
    assert_eq!(after_sales.resolution_rate, 0.75);
    assert_eq!(after_sales.response_on_time_rate, 0.5);
    assert_eq!(after_sales.resolution_on_time_rate, 0.5);
    assert_eq!(after_sales.on_time_rate, 0.5);
    // 5, 4, 5 and T15's earlier 1.
    assert_eq!(after_sales.reviews, 4);
    assert_eq!(after_sales.satisfaction_mean, 15.0 / 4.0);
    assert_eq!(after_sales.share_satisfied, 0.75);

    let technical = kpi("technical");
    assert_eq!(technical.volume, 6);
    // Responses after 0.5, 1.5, 2, 4, 26 and 70 hours: the median is the mean of 2 and 4.
    assert_eq!(technical.median_first_response_ms, Some(3 * HOUR_MS));
    assert_eq!(technical.p90_first_response_ms, Some(70 * HOUR_MS));
    // In working time: 0.5, 1.5, 2, 3, 10 and 15 hours (lunch, nights and a weekend left out).
    assert_eq!(
        technical.median_first_response_working_ms,
        Some(150 * MINUTE_MS)
    );
    assert_eq!(technical.resolved, 4);
    assert_eq!(technical.resolution_rate, 4.0 / 6.0);
    assert_eq!(technical.response_on_time_rate, 4.0 / 6.0);
    assert_eq!(technical.resolution_on_time_rate, 3.0 / 5.0);
    assert_eq!(technical.on_time_rate, 7.0 / 11.0);
    // 13 over 3 reviewed tickets, and T05's earlier 2.
    assert_eq!(technical.satisfaction_mean, 15.0 / 4.0);

    let product = kpi("product");
    assert_eq!(product.volume, 4);
    assert_eq!(product.median_first_response_ms, Some(17 * HOUR_MS));
    assert_eq!(product.p90_first_response_ms, Some(30 * HOUR_MS));
    assert_eq!(
        product.median_first_response_working_ms,
        Some(450 * MINUTE_MS)
    );
    assert_eq!(product.on_time_rate, 1.0);
    assert_eq!(product.resolution_rate, 1.0);
    assert_eq!(product.satisfaction_mean, 4.5);

    let customer_service = kpi("customer_service");
    assert_eq!(customer_service.volume, 4);
    assert_eq!(
        customer_service.median_first_response_ms,
        Some(90 * MINUTE_MS)
    );
    assert_eq!(customer_service.p90_first_response_ms, Some(5 * HOUR_MS));
    // The Sunday-midnight ticket counts 0 working minutes: 0, 1, 2, 4 hours.
    assert_eq!(
        customer_service.median_first_response_working_ms,
        Some(90 * MINUTE_MS)
    );
    assert_eq!(customer_service.resolution_on_time_rate, 0.75);
    assert_eq!(customer_service.on_time_rate, 7.0 / 8.0);
    assert_eq!(customer_service.satisfaction_mean, 4.5);
    assert_eq!(customer_service.share_satisfied, 0.75);

    let quality = kpi("quality");
    assert_eq!(quality.volume, 1);
    assert_eq!(quality.median_first_response_ms, Some(30 * MINUTE_MS));
    assert_eq!(quality.p90_first_response_ms, Some(30 * MINUTE_MS));

    let logistics = kpi("logistics");
    assert_eq!(logistics.volume, 0);
    assert_eq!(logistics.median_first_response_ms, None);
    assert_eq!(logistics.resolution_rate, 0.0);
}

#[test]
fn adopted_suggestions_and_customers_told() {
    let report = november_report();
    assert_eq!(report.adopted_count, 3);
    assert_eq!(report.adopted_customers_told, 2);
    let november = november();
    let id = |index: usize| november[index].id_text();
    let listed: Vec<_> = report
        .adopted_suggestions
        .iter()
        .map(|adopted| {
            (
                adopted.ticket_id.clone(),
                adopted.outcome,
                adopted.customer_told,
                adopted.customer_display_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (id(7), Outcome::Adopted, false, "张**"),
            (id(6), Outcome::Planned, true, "张**"),
            (id(5), Outcome::Adopted, true, "张**"),
        ]
    );
}

#[test]
fn targets_and_closed_loop() {
    let report = november_report();
    assert_eq!(report.archived, 12);
    assert_eq!(report.closed_loop, 18);
    assert_eq!(report.closed_loop_rate, 0.9);
    let targets: Vec<_> = report
        .targets
        .iter()
        .map(|target| {
            (
                target.name.as_str(),
                target.target,
                target.actual,
                target.met,
            )
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            // All 7 urgent and high tickets are due; T02 resolved late, T04 never: 5 of 7.
            ("high_priority_resolution_rate", 0.95, 5.0 / 7.0, false),
            // 62/15 = 4.13 < 4.5 and 12/15 = 80% < 90%.
            ("satisfaction", 4.5, 62.0 / 15.0, false),
            ("closed_loop", 1.0, 0.9, false),
        ]
    );
}

#[test]
fn month_on_month_against_october() {
    let report = november_report();
    let changes: Vec<_> = report
        .month_on_month
        .iter()
        .map(|change| {
            (
                change.name.as_str(),
                change.current,
                change.previous,
                change.relative_change,
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("tickets", 20.0, 4.0, Some(4.0)),
            (
                "response_on_time_rate",
                15.0 / 19.0,
                0.5,
                Some((15.0 / 19.0 - 0.5) / 0.5)
            ),
            (
                "resolution_on_time_rate",
                13.0 / 18.0,
                0.5,
                Some((13.0 / 18.0 - 0.5) / 0.5)
            ),
            ("resolution_rate", 0.75, 0.75, Some(0.0)),
            // October: 5, 4 and P3's 2 then 4: 15 over 4.
            (
                "satisfaction_mean",
                62.0 / 15.0,
                15.0 / 4.0,
                Some((62.0 / 15.0 - 15.0 / 4.0) / (15.0 / 4.0))
            ),
            (
                "share_satisfied",
                12.0 / 15.0,
                0.75,
                Some((12.0 / 15.0 - 0.75) / 0.75)
            ),
            (
                "reopen_rate",
                3.0 / 13.0,
                1.0 / 3.0,
                Some((3.0 / 13.0 - 1.0 / 3.0) / (1.0 / 3.0))
            ),
            ("closed_loop_rate", 0.9, 0.75, Some((0.9 - 0.75) / 0.75)),
        ]
    );
}

#[test]
fn one_department_only() {
    let report = report_with(&all_tickets(), Some("technical"), ReportOptions::default());
    assert_eq!(report.department.as_deref(), Some("technical"));
    assert_eq!(report.tickets, 6);
    assert_eq!(report.complaints, 3);
    assert_eq!(report.unassigned, 0);
    assert_eq!(report.departments.len(), 1);
    assert_eq!(report.departments[0].volume, 6);
    // October had one technical ticket.
    assert_eq!(report.month_on_month[0].previous, 1.0);
    assert_eq!(report.month_on_month[0].relative_change, Some(5.0));
    // APP卡顿 is on all three technical complaints.
    assert_eq!(report.top_keywords[0].key, "APP卡顿");
    assert_eq!(report.top_keywords[0].complaint_share, 1.0);
}

#[test]
fn the_order_of_tickets_does_not_matter() {
    let mut reversed = all_tickets();
    reversed.reverse();
    assert_eq!(
        report_with(&reversed, None, ReportOptions::default()).to_json_pretty(),
        november_report().to_json_pretty()
    );
}

#[test]
fn the_report_states_where_it_was_computed() {
    let report = november_report();
    let rules = Rules::defaults();
    assert_eq!(report.log_position, 4242);
    assert_eq!(
        report.config_version,
        domain::types::Policy::version(&rules)
    );
    assert_eq!(report.calendar_version, rules.calendar().version());
    assert_eq!(report.as_of, as_of());
    assert_eq!(report.month_start, local(11, 1, 0, 0));
    assert_eq!(report.month_end, local(12, 1, 0, 0));
    assert_eq!(report.satisfied_threshold, 4);
}

#[test]
fn an_empty_month_is_all_zeros_and_closed() {
    let report = report_with(&[], None, ReportOptions::default());
    assert_eq!(report.tickets, 0);
    assert!(report.by_kind.iter().all(|share| share.share == 0.0));
    assert_eq!(report.closed_loop_rate, 1.0);
    assert!(report.targets[0].met, "no high priority ticket was missed");
    assert!(!report.targets[1].met, "no review, no satisfaction");
    assert!(report.targets[2].met);
    assert!(report
        .month_on_month
        .iter()
        .all(|change| change.name == "closed_loop_rate" || change.relative_change.is_none()));
}

#[test]
fn json_round_trips() {
    let report = november_report();
    let json = report.to_json_pretty();
    let back: MonthlyReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn csv_snapshot() {
    let report = report_with(
        &all_tickets(),
        Some("product"),
        ReportOptions {
            top_problems: 3,
            ..ReportOptions::default()
        },
    );
    let csv = report.to_csv();
    let config_version = report.config_version.clone();
    let calendar_version = report.calendar_version.clone();
    let csv = csv
        .replace(&config_version, "<config>")
        .replace(&calendar_version, "<calendar>");
    let november = november();
    let csv = (5..8).fold(csv, |text, index| {
        text.replace(&november[index].id_text(), &format!("<T{:02}>", index + 1))
    });
    expect![[r#"
        section,key,metric,value
        report,,month,2026-11
        report,,department,product
        report,,log_position,4242
        report,,config_version,<config>
        report,,calendar_version,<calendar>
        report,,as_of,2026-12-01T02:00:00+00:00
        report,,month_start,2026-10-31T16:00:00+00:00
        report,,month_end,2026-11-30T16:00:00+00:00
        report,,satisfied_threshold,4
        summary,,tickets,4
        summary,,distinct_problems,4
        summary,,reporters,4
        summary,,complaints,0
        summary,,reopened,0
        summary,,reopen_rate,0
        summary,,archived,2
        summary,,closed_loop,4
        summary,,closed_loop_rate,1
        summary,,unassigned,0
        summary,,adopted,3
        summary,,adopted_customers_told,2
        summary,,suggestions_evaluated,0
        by_kind,suggestion,count,4
        by_kind,suggestion,share,1
        by_kind,complaint,count,0
        by_kind,complaint,share,0
        by_kind,problem,count,0
        by_kind,problem,share,0
        by_kind,inquiry,count,0
        by_kind,inquiry,share,0
        by_kind,praise,count,0
        by_kind,praise,share,0
        by_content_type,product,count,2
        by_content_type,product,share,0.5
        by_content_type,service,count,0
        by_content_type,service,share,0
        by_content_type,process,count,1
        by_content_type,process,share,0.25
        by_content_type,experience,count,1
        by_content_type,experience,share,0.25
        by_channel,web,count,2
        by_channel,web,share,0.5
        by_channel,app,count,1
        by_channel,app,share,0.25
        by_channel,email,count,1
        by_channel,email,share,0.25
        by_priority,urgent,count,0
        by_priority,urgent,share,0
        by_priority,high,count,0
        by_priority,high,share,0
        by_priority,medium,count,0
        by_priority,medium,share,0
        by_priority,low,count,4
        by_priority,low,share,1
        on_time,all,received,4
        on_time,all,response_due,4
        on_time,all,responded,4
        on_time,all,responded_on_time,4
        on_time,all,response_on_time_rate,1
        on_time,all,resolution_due,4
        on_time,all,resolved,4
        on_time,all,resolved_on_time,4
        on_time,all,resolution_on_time_rate,1
        on_time,all,resolution_rate,1
        on_time,urgent,received,0
        on_time,urgent,response_due,0
        on_time,urgent,responded,0
        on_time,urgent,responded_on_time,0
        on_time,urgent,response_on_time_rate,0
        on_time,urgent,resolution_due,0
        on_time,urgent,resolved,0
        on_time,urgent,resolved_on_time,0
        on_time,urgent,resolution_on_time_rate,0
        on_time,urgent,resolution_rate,0
        on_time,high,received,0
        on_time,high,response_due,0
        on_time,high,responded,0
        on_time,high,responded_on_time,0
        on_time,high,response_on_time_rate,0
        on_time,high,resolution_due,0
        on_time,high,resolved,0
        on_time,high,resolved_on_time,0
        on_time,high,resolution_on_time_rate,0
        on_time,high,resolution_rate,0
        on_time,medium,received,0
        on_time,medium,response_due,0
        on_time,medium,responded,0
        on_time,medium,responded_on_time,0
        on_time,medium,response_on_time_rate,0
        on_time,medium,resolution_due,0
        on_time,medium,resolved,0
        on_time,medium,resolved_on_time,0
        on_time,medium,resolution_on_time_rate,0
        on_time,medium,resolution_rate,0
        on_time,low,received,4
        on_time,low,response_due,4
        on_time,low,responded,4
        on_time,low,responded_on_time,4
        on_time,low,response_on_time_rate,1
        on_time,low,resolution_due,4
        on_time,low,resolved,4
        on_time,low,resolved_on_time,4
        on_time,low,resolution_on_time_rate,1
        on_time,low,resolution_rate,1
        satisfaction,,reviews,2
        satisfaction,,mean,4.5
        satisfaction,,satisfied,2
        satisfaction,,share_satisfied,1
        satisfaction,1,count,0
        satisfaction,2,count,0
        satisfaction,3,count,0
        satisfaction,4,count,1
        satisfaction,5,count,1
        top_keywords,建议,count,1
        top_keywords,建议,share,0.25
        top_keywords,建议,reporters,1
        top_keywords,建议,complaints,0
        top_keywords,建议,complaint_share,0
        top_keywords,建议,priority_flag,false
        top_products,小程序,count,2
        top_products,小程序,share,0.5
        top_products,小程序,reporters,2
        top_products,小程序,complaints,0
        top_products,小程序,complaint_share,0
        top_products,小程序,priority_flag,false
        top_products,APP,count,1
        top_products,APP,share,0.25
        top_products,APP,reporters,1
        top_products,APP,complaints,0
        top_products,APP,complaint_share,0
        top_products,APP,priority_flag,false
        department,product,volume,4
        department,product,responded,4
        department,product,median_first_response_ms,61200000
        department,product,p90_first_response_ms,108000000
        department,product,median_first_response_working_ms,27000000
        department,product,resolved,4
        department,product,resolution_rate,1
        department,product,response_due,4
        department,product,resolution_due,4
        department,product,on_time_rate,1
        department,product,response_on_time_rate,1
        department,product,resolution_on_time_rate,1
        department,product,reviews,2
        department,product,satisfaction_mean,4.5
        department,product,share_satisfied,1
        adoption_by_score,high,decided,0
        adoption_by_score,high,accepted,0
        adoption_by_score,high,rate,0
        adoption_by_score,medium,decided,0
        adoption_by_score,medium,accepted,0
        adoption_by_score,medium,rate,0
        adoption_by_score,low,decided,0
        adoption_by_score,low,accepted,0
        adoption_by_score,low,rate,0
        adopted,<T08>,department,product
        adopted,<T08>,outcome,adopted
        adopted,<T08>,adopted_at,2026-11-11T22:00:00+00:00
        adopted,<T08>,customer_told,false
        adopted,<T08>,customer,张**
        adopted,<T08>,product,小程序
        adopted,<T08>,content,fixture ticket 8
        adopted,<T08>,solution,solution adopted
        adopted,<T07>,department,product
        adopted,<T07>,outcome,planned
        adopted,<T07>,adopted_at,2026-11-12T04:00:00+00:00
        adopted,<T07>,customer_told,true
        adopted,<T07>,customer,张**
        adopted,<T07>,product,APP
        adopted,<T07>,content,fixture ticket 7
        adopted,<T07>,solution,solution planned
        adopted,<T06>,department,product
        adopted,<T06>,outcome,adopted
        adopted,<T06>,adopted_at,2026-11-13T06:00:00+00:00
        adopted,<T06>,customer_told,true
        adopted,<T06>,customer,张**
        adopted,<T06>,product,小程序
        adopted,<T06>,content,fixture ticket 6
        adopted,<T06>,solution,solution adopted
        target,high_priority_resolution_rate,target,0.95
        target,high_priority_resolution_rate,actual,1
        target,high_priority_resolution_rate,met,true
        target,high_priority_resolution_rate,detail,no urgent or high priority tickets were received in the month
        target,satisfaction,target,4.5
        target,satisfaction,actual,4.5
        target,satisfaction,met,true
        target,satisfaction,detail,"mean 4.50 of 5 over 2 reviews, 100.0% satisfied (target: mean at least 4.5 or at least 90% satisfied)"
        target,closed_loop,target,1
        target,closed_loop,actual,1
        target,closed_loop,met,true
        target,closed_loop,detail,4 of 4 tickets archived or still within their deadlines
        month_on_month,tickets,current,4
        month_on_month,tickets,previous,1
        month_on_month,tickets,change,3
        month_on_month,tickets,relative_change,3
        month_on_month,response_on_time_rate,current,1
        month_on_month,response_on_time_rate,previous,1
        month_on_month,response_on_time_rate,change,0
        month_on_month,response_on_time_rate,relative_change,0
        month_on_month,resolution_on_time_rate,current,1
        month_on_month,resolution_on_time_rate,previous,0
        month_on_month,resolution_on_time_rate,change,1
        month_on_month,resolution_on_time_rate,relative_change,
        month_on_month,resolution_rate,current,1
        month_on_month,resolution_rate,previous,1
        month_on_month,resolution_rate,change,0
        month_on_month,resolution_rate,relative_change,0
        month_on_month,satisfaction_mean,current,4.5
        month_on_month,satisfaction_mean,previous,4
        month_on_month,satisfaction_mean,change,0.5
        month_on_month,satisfaction_mean,relative_change,0.125
        month_on_month,share_satisfied,current,1
        month_on_month,share_satisfied,previous,1
        month_on_month,share_satisfied,change,0
        month_on_month,share_satisfied,relative_change,0
        month_on_month,reopen_rate,current,0
        month_on_month,reopen_rate,previous,0
        month_on_month,reopen_rate,change,0
        month_on_month,reopen_rate,relative_change,
        month_on_month,closed_loop_rate,current,1
        month_on_month,closed_loop_rate,previous,1
        month_on_month,closed_loop_rate,change,0
        month_on_month,closed_loop_rate,relative_change,0
    "#]].assert_eq(&csv);
}

/// The outline of an HTML page: each section's id and heading, how many charts and table
/// rows it has, and the target badges.
fn html_outline(html: &str) -> String {
    let mut outline = String::new();
    for section in html.split("<section id=\"").skip(1) {
        let id = section.split('"').next().unwrap_or_default();
        let body = section.split("</section>").next().unwrap_or_default();
        let heading = body
            .split("<h2>")
            .nth(1)
            .and_then(|rest| rest.split("</h2>").next())
            .unwrap_or_default();
        outline.push_str(&format!(
            "{id}: {heading} | svg {} | rows {} | met {} | missed {} | flags {}\n",
            body.matches("<svg").count(),
            body.matches("<tr>").count(),
            body.matches("class=\"met\"").count(),
            body.matches("class=\"missed\"").count(),
            body.matches("class=\"flag\"").count(),
        ));
    }
    outline
}

#[test]
fn html_structure_snapshot() {
    let html = november_report().to_html_in(reports::Lang::En);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for forbidden in ["<script", "<link", "@import", "<img", "url(", "<iframe"] {
        assert!(
            !html.contains(forbidden),
            "the page must be self-contained: found {forbidden}"
        );
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count(),
        "the only address in the page is the SVG namespace"
    );
    assert!(html.contains(r#"<b id="log-position">4242</b>"#));
    expect![[r#"
        headline: Headline figures | svg 0 | rows 0 | met 0 | missed 0 | flags 0
        targets: Targets | svg 0 | rows 4 | met 0 | missed 3 | flags 0
        shares: Shares · 20 tickets, 8 complaints | svg 4 | rows 0 | met 0 | missed 0 | flags 0
        on-time: On-time rates per priority | svg 1 | rows 6 | met 0 | missed 0 | flags 0
        satisfaction: Satisfaction | svg 1 | rows 0 | met 0 | missed 0 | flags 0
        top-problems: Most frequent problems | svg 1 | rows 14 | met 0 | missed 0 | flags 3
        departments: Departments | svg 0 | rows 9 | met 0 | missed 0 | flags 0
        adopted: Adopted suggestions | svg 0 | rows 4 | met 0 | missed 0 | flags 0
    "#]]
    .assert_eq(&html_outline(&html));
}

#[test]
fn protobuf_round_trip_keeps_what_the_message_carries() {
    use reports::proto_conv::{from_proto, monthly_report_response};
    let report = november_report();
    let response = monthly_report_response(&report);
    let message = response.report.expect("the response carries the report");
    assert_eq!(message.month, "2026-11");
    assert_eq!(message.log_position, 4242);
    assert_eq!(message.on_time_by_priority.len(), 4);
    assert_eq!(
        message.on_time_by_priority[0].priority,
        proto::v1::Priority::Urgent as i32
    );
    let back = from_proto(&message, FixedOffset::east_opt(8 * 3600).unwrap()).unwrap();
    assert_eq!(back.tickets, report.tickets);
    assert_eq!(back.by_kind, report.by_kind);
    assert_eq!(back.by_channel, report.by_channel);
    // The denominators the message lacks are recovered from the rates.
    assert_eq!(back.on_time, report.on_time);
    assert_eq!(back.on_time_by_priority, report.on_time_by_priority);
    assert_eq!(back.satisfaction, report.satisfaction);
    assert_eq!(back.top_keywords, report.top_keywords);
    assert_eq!(back.top_products, report.top_products);
    assert_eq!(back.adopted_suggestions, report.adopted_suggestions);
    assert_eq!(back.targets, report.targets);
    assert_eq!(back.month_on_month, report.month_on_month);
    assert_eq!(back.closed_loop, report.closed_loop);
    assert_eq!(back.unassigned, report.unassigned);
    assert_eq!(back.month_start, report.month_start);
    assert_eq!(back.as_of, report.as_of);
    let technical = |report: &MonthlyReport| {
        report
            .departments
            .iter()
            .find(|kpi| kpi.department == "technical")
            .cloned()
            .unwrap()
    };
    let (original, read_back) = (technical(&report), technical(&back));
    assert_eq!(
        read_back.median_first_response_ms,
        original.median_first_response_ms
    );
    assert_eq!(
        read_back.p90_first_response_ms,
        original.p90_first_response_ms
    );
    assert_eq!(read_back.resolved, original.resolved);
    assert_eq!(read_back.on_time_rate, original.on_time_rate);
}

/// The first `chromium` (or `CLOOP_CHROMIUM`) found on the PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("CLOOP_CHROMIUM") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"]
                .into_iter()
                .map(move |name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// Opens the HTML report in headless Chromium and takes a screenshot, kept as a test
/// artefact in `target/tmp/reports/` (never in the repository). Skipped, with a message,
/// when Chromium is not installed (`apt-get install -y chromium`).
#[test]
fn the_html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        println!(
            "skipped: chromium is not installed; `apt-get install -y chromium` enables this test"
        );
        return;
    };
    let artefacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reports");
    std::fs::create_dir_all(&artefacts).unwrap();
    let page = artefacts.join("report-2026-11.html");
    let screenshot = artefacts.join("report-2026-11.png");
    let _ = std::fs::remove_file(&screenshot);
    std::fs::write(&page, november_report().to_html()).unwrap();
    let profile = tempfile_dir(&artefacts);
    let mut child = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1200,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = std::fs::remove_dir_all(&profile);
    assert!(status.success(), "chromium exited with {status}");
    let bytes = std::fs::read(&screenshot).unwrap();
    assert!(
        bytes.len() > 10_000,
        "the screenshot is {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG");
    println!("screenshot: {}", screenshot.display());
}

/// A fresh, empty profile folder for one browser run.
fn tempfile_dir(parent: &std::path::Path) -> std::path::PathBuf {
    let dir = parent.join(format!("chromium-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A report of November over `tickets` only, judged at `as_of()` (1 December, 10:00).
fn report_of(tickets: &[Ticket]) -> MonthlyReport {
    report_with(tickets, None, ReportOptions::default())
}

/// A service complaint to after_sales by phone, with its deadlines in hours.
fn after_sales_complaint(
    node: u16,
    received: DateTime<Utc>,
    priority: Priority,
    respond_hours: i64,
    resolve_hours: i64,
) -> Ticket {
    let spec = Spec::new(
        node,
        received,
        Complaint,
        Service,
        priority,
        "hotline",
        "after_sales",
    )
    .within(respond_hours, resolve_hours);
    spec.build()
}

#[test]
fn an_urgent_ticket_not_due_yet_is_neither_met_nor_missed() {
    // Received at 23:00 on 30 November, due to be resolved a day later: at the report's time
    // (1 December, 10:00) it is open but not late. A high ticket resolved on time beside it.
    let urgent = after_sales_complaint(1, local(11, 30, 23, 0), Urgent, 1, 24).responded(30);
    // A high priority problem received on 10 November, resolved `minutes` after receipt.
    let high = |node: u16, minutes: i64| {
        Spec::new(
            node,
            local(11, 10, 9, 0),
            Problem,
            ProductContent,
            High,
            "app",
            "technical",
        )
        .build()
        .responded(HOUR)
        .resolved(minutes, Outcome::Fixed)
    };
    let on_time = high(2, 24 * HOUR);
    let report = report_of(&[urgent.clone(), on_time.clone()]);
    let target = &report.targets[0];
    assert_eq!(target.name, "high_priority_resolution_rate");
    assert_eq!(
        (target.actual, target.met),
        (1.0, true),
        "{}",
        target.detail
    );
    assert_eq!(
        target.detail,
        "1 of 1 urgent and high priority tickets due resolved by their deadline; 1 not due yet"
    );
    // Resolved a minute after its deadline, the high ticket is a miss.
    let late = high(3, 72 * HOUR + 1);
    let report = report_of(&[urgent, on_time, late]);
    assert_eq!(report.targets[0].actual, 0.5);
    assert!(!report.targets[0].met);
}

#[test]
fn every_review_counts_an_earlier_low_score_stays_after_a_reopen() {
    // Rated 3★ (which reopened it), solved again and rated 5★.
    let ticket = after_sales_complaint(1, local(11, 5, 9, 0), Medium, 24, 72)
        .responded(HOUR)
        .resolved(10 * HOUR, Outcome::Fixed)
        .reviewed(3)
        .reopened(local(11, 5, 21, 0), 24, 72)
        .responded(13 * HOUR)
        .resolved(20 * HOUR, Outcome::Fixed)
        .reviewed(5);
    let report = report_of(&[ticket]);
    let satisfaction = &report.satisfaction;
    assert_eq!(satisfaction.reviews, 2);
    assert_eq!(satisfaction.mean, 4.0);
    assert_eq!(satisfaction.share_satisfied, 0.5, "not 100% satisfied");
    let counts: Vec<u64> = satisfaction.distribution.iter().map(|s| s.count).collect();
    assert_eq!(counts, [0, 0, 1, 0, 1]);
    // One reviewed ticket, reopened once.
    assert_eq!(report.reopen_rate, 1.0);
    let after_sales = report
        .departments
        .iter()
        .find(|department| department.department == "after_sales")
        .unwrap();
    assert_eq!(after_sales.reviews, 2);
    assert!(!report.targets[1].met);
}

#[test]
fn an_empty_previous_month_shows_no_change_rather_than_a_jump_from_zero() {
    // November only: October has no tickets.
    let report = report_of(&november());
    let text = report.to_html_in(reports::Lang::En);
    assert!(!text.contains("+100.0 pt"), "a jump from an empty month");
    assert!(!text.contains("vs 0.0%"), "an empty month shown as 0.0%");
    let figures: Vec<(String, String, String)> =
        match report.section(reports::sections::SectionKind::Headline) {
            reports::sections::Section::Headline(figures) => figures
                .iter()
                .map(|figure| {
                    (
                        figure.label(reports::Lang::En),
                        figure.previous(),
                        figure.delta(reports::Lang::En),
                    )
                })
                .collect(),
            _ => unreachable!("the headline section"),
        };
    assert_eq!(figures[0], ("tickets".into(), "0".into(), "+20".into()));
    for (label, previous, delta) in &figures[1..] {
        assert_eq!((previous.as_str(), delta.as_str()), ("–", "–"), "{label}");
    }
    // With October's tickets the changes are figures again.
    let report = november_report();
    let text = report.to_html_in(reports::Lang::En);
    assert!(
        text.contains(" pt vs "),
        "changes in points against October"
    );
    // A November without tickets has no rates either: "–", not "0.0%".
    let report = report_of(&other_months());
    match report.section(reports::sections::SectionKind::Headline) {
        reports::sections::Section::Headline(figures) => {
            assert_eq!(figures[0].current(), "0");
            for figure in &figures[1..] {
                assert_eq!(figure.current(), "–", "{}", figure.change.name);
                assert_eq!(figure.delta(reports::Lang::En), "–");
            }
        }
        _ => unreachable!("the headline section"),
    }
}

#[test]
fn the_report_speaks_chinese_by_default_or_english_and_names_its_zone() {
    let report = november_report();
    let chinese = report.to_html();
    assert_eq!(chinese, report.to_html_in(reports::Lang::Zh));
    assert!(chinese.contains(r#"<html lang="zh-CN">"#));
    for label in [
        "月度报告",
        "核心指标",
        "目标",
        "各优先级及时率",
        "满意度",
        "高频问题",
        "采纳的建议",
        "未达成",
    ] {
        assert!(chinese.contains(label), "{label}");
    }
    // No English label is left between tags on the Chinese page (department names are
    // shown as configured).
    let departments: Vec<&str> = report
        .departments
        .iter()
        .map(|kpi| kpi.department.as_str())
        .collect();
    for (english, _) in reports::LABELS {
        if english.chars().any(|c| c.is_ascii_lowercase())
            && english.len() > 3
            && !departments.contains(english)
        {
            let shown = format!(">{english}<");
            assert!(
                !chinese.contains(&shown),
                "English label {english:?} on the Chinese page"
            );
        }
    }
    let english = report.to_html_in(reports::Lang::En);
    assert!(english.contains(r#"<html lang="en">"#));
    assert!(english.contains("Headline figures") && !english.contains("核心指标"));
    // The period and the time of judgement in the business calendar's zone, named.
    for page in [&chinese, &english] {
        assert!(page.contains("2026-11-01 00:00 +08:00"), "month start");
        assert!(page.contains("2026-12-01 00:00 +08:00"), "month end");
        assert!(page.contains("2026-12-01 10:00 +08:00"), "as of");
        assert!(!page.contains("UTC"));
    }
}

#[test]
fn a_term_nobody_configured_is_counted_in_top_terms() {
    // Two complaints about a parcel marked delivered that never came, and one unrelated
    // problem. None of 签收 and 包裹 is a configured keyword: only the terms can show them.
    let rules = Rules::defaults();
    let texts = [
        "包裹显示已签收，可我根本没收到东西",
        "快递显示签收了，包裹根本没到我手上",
    ];
    let mut tickets: Vec<Ticket> = texts
        .iter()
        .zip(1u16..)
        .map(|(text, node)| {
            let mut ticket =
                after_sales_complaint(node, local(11, 10, 9, 0), Priority::High, 4, 24);
            ticket.content = (*text).to_owned();
            ticket.terms = domain::types::Policy::terms(&rules, text);
            ticket
        })
        .collect();
    let mut other = after_sales_complaint(3, local(11, 11, 9, 0), Priority::High, 4, 24);
    other.kind = Some(Kind::Problem);
    other.content = "The app freezes on the checkout screen".to_owned();
    other.terms = domain::types::Policy::terms(&rules, &other.content);
    tickets.push(other);
    for ticket in &tickets {
        assert!(!ticket.terms.is_empty(), "{:?}", ticket.content);
        assert!(!ticket.keywords.iter().any(|keyword| keyword == "签收"));
    }

    let report = report_of(&tickets);
    let term = |key: &str| report.top_terms.iter().find(|problem| problem.key == key);
    let signed = term("签收").expect("签收 is a top term");
    assert_eq!(signed.count, 2);
    assert_eq!(signed.complaints, 2);
    assert_eq!(signed.share, 2.0 / 3.0);
    assert_eq!(signed.complaint_share, 1.0);
    assert!(signed.priority_flag);
    assert_eq!(term("包裹").map(|problem| problem.count), Some(2));
    assert_eq!(term("checkout").map(|problem| problem.count), Some(1));
    assert_eq!(term("checkout").map(|problem| problem.complaints), Some(0));
    // Most frequent first, ties by key.
    assert_eq!(report.top_terms[0].count, 2);
    assert!(!report
        .top_keywords
        .iter()
        .any(|problem| problem.key == "签收"));
    // The CSV carries the section.
    assert!(report.to_csv().contains("top_terms,签收,count,2"));
}
