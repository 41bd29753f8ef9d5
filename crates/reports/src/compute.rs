//! The fold that computes a monthly report: one pass over the ticket states with small
//! accumulators (counts, maps keyed by channel, keyword, product and department, and one
//! response time per responded ticket for the medians), never a copy of the tickets.

use crate::model::{
    AdoptedSuggestion, CategoryShare, DepartmentKpi, HeadlineChange, MonthlyReport, OnTimeRates,
    SatisfactionSummary, ScoreCount, TargetCheck, TopProblem,
};
use crate::public::Adoption;
use crate::sections::{closed_loop_detail, high_priority_detail, satisfaction_detail};
use crate::{Lang, Period, YearMonth};
use chrono::{DateTime, Datelike, Utc};
use domain::types::{ContentType, Kind, Policy, Priority};
use domain::{Rules, Ticket};
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

/// The knobs of a report that are not part of the domain configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// How many keywords and products to list (flagged ones are always listed too).
    pub top_problems: usize,
    /// A keyword or product on more than this share of the month's complaints is flagged as
    /// a priority topic (30% in the documents).
    pub priority_share_threshold: f64,
    /// How many adopted suggestions to list (all are counted).
    pub adopted_list_limit: usize,
    /// Overrides the configured satisfied threshold (`review.satisfied_threshold`).
    pub satisfied_threshold: Option<u8>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            top_problems: 10,
            priority_share_threshold: 0.30,
            adopted_list_limit: 100,
            satisfied_threshold: None,
        }
    }
}

/// Everything a monthly report is computed from.
#[derive(Debug)]
pub struct ReportInput<'a, I> {
    /// Ticket states (owned or borrowed), in any order. Tickets received outside the month
    /// and the month before are skipped, so the caller may pass every ticket it holds.
    pub tickets: I,
    /// The compiled configuration: business calendar, SLA policy, satisfied threshold.
    pub rules: &'a Rules,
    pub month: YearMonth,
    /// Only this department's tickets, when set.
    pub department: Option<String>,
    /// The log position the ticket states were folded to.
    pub log_position: u64,
    /// The instant open deadlines are judged at: the recorded time of the event at
    /// `log_position`, so that the same position always gives the same report.
    pub as_of: DateTime<Utc>,
    pub options: ReportOptions,
}

/// Computes the monthly report of `input` in one pass over its tickets.
pub fn monthly_report<I, T>(input: ReportInput<'_, I>) -> MonthlyReport
where
    I: IntoIterator<Item = T>,
    T: Borrow<Ticket>,
{
    let mut builder = ReportBuilder::new(
        input.rules,
        input.month,
        input.department,
        input.log_position,
        input.as_of,
        input.options,
    );
    for ticket in input.tickets {
        builder.add(ticket.borrow());
    }
    builder.finish()
}

/// The streaming form of [`monthly_report`]: feed tickets one at a time with
/// [`ReportBuilder::add`], then [`ReportBuilder::finish`].
#[derive(Debug)]
pub struct ReportBuilder<'a> {
    rules: &'a Rules,
    month: YearMonth,
    /// The period when it is not the month (a quarter or a range of days).
    period: Option<Period>,
    department: Option<String>,
    log_position: u64,
    as_of: DateTime<Utc>,
    options: ReportOptions,
    satisfied_threshold: u8,
    current_bounds: (DateTime<Utc>, DateTime<Utc>),
    previous_bounds: (DateTime<Utc>, DateTime<Utc>),
    current: MonthAccumulator,
    previous: MonthAccumulator,
}

impl<'a> ReportBuilder<'a> {
    /// A builder for `month` (and the month before, for the month-on-month figures).
    pub fn new(
        rules: &'a Rules,
        month: YearMonth,
        department: Option<String>,
        log_position: u64,
        as_of: DateTime<Utc>,
        options: ReportOptions,
    ) -> Self {
        let offset = rules.calendar().offset();
        let satisfied_threshold = options
            .satisfied_threshold
            .unwrap_or(rules.config().review.satisfied_threshold);
        let department = department
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty());
        Self {
            rules,
            month,
            period: None,
            department,
            log_position,
            as_of,
            satisfied_threshold,
            current_bounds: (month.start(offset), month.end(offset)),
            previous_bounds: (month.previous().start(offset), month.start(offset)),
            current: MonthAccumulator::default(),
            previous: MonthAccumulator::default(),
            options,
        }
    }

    /// A builder for any period, compared with the period before it (the quarter before a
    /// quarter, as many days before a range). A month gives the monthly report.
    pub fn for_period(
        rules: &'a Rules,
        period: Period,
        department: Option<String>,
        log_position: u64,
        as_of: DateTime<Utc>,
        options: ReportOptions,
    ) -> Self {
        if let Period::Month(month) = period {
            return Self::new(rules, month, department, log_position, as_of, options);
        }
        let offset = rules.calendar().offset();
        let first = period.first_day();
        let month = YearMonth::new(first.year(), first.month())
            .unwrap_or(YearMonth::new(1970, 1).expect("January 1970 is a month"));
        let mut builder = Self::new(rules, month, department, log_position, as_of, options);
        builder.period = Some(period);
        builder.current_bounds = (period.start(offset), period.end(offset));
        builder.previous_bounds = (period.previous().start(offset), period.start(offset));
        builder
    }

    /// The instants the tickets of the period and of the period before are received in:
    /// `[start of the period before, end of the period)`.
    pub fn window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.previous_bounds.0, self.current_bounds.1)
    }

    /// Folds one ticket in. Tickets of other months or departments change nothing.
    pub fn add(&mut self, ticket: &Ticket) {
        let Some(received_at) = ticket.received_at.or(ticket.created_at) else {
            return;
        };
        if !ticket.exists() {
            return;
        }
        if let Some(department) = &self.department {
            if ticket.department.as_deref() != Some(department.as_str()) {
                return;
            }
        }
        let context = Context {
            rules: self.rules,
            as_of: self.as_of,
            adopted_list_limit: self.options.adopted_list_limit,
        };
        if self.current_bounds.0 <= received_at && received_at < self.current_bounds.1 {
            self.current.add(ticket, received_at, &context);
        } else if self.previous_bounds.0 <= received_at && received_at < self.previous_bounds.1 {
            self.previous.add(ticket, received_at, &context);
        }
    }

    /// The report.
    pub fn finish(self) -> MonthlyReport {
        let departments_to_list: Vec<String> = match &self.department {
            Some(department) => vec![department.clone()],
            None => self.rules.config().departments.keys().cloned().collect(),
        };
        let previous_headline = self.previous.headline(self.satisfied_threshold);
        let current_headline = self.current.headline(self.satisfied_threshold);
        let accumulator = self.current;
        let tickets = accumulator.tickets;
        let [by_kind, by_content_type, by_priority, by_channel] = accumulator.shares();
        let on_time = accumulator.total_on_time().rates(None);
        let on_time_by_priority = Priority::ALL
            .iter()
            .map(|priority| {
                accumulator.priorities[priority_index(*priority)].rates(Some(*priority))
            })
            .collect();
        let satisfaction = accumulator.satisfaction.summary(self.satisfied_threshold);
        let threshold = self.options.priority_share_threshold;
        let [top_keywords, top_products, top_terms] = [
            &accumulator.keywords,
            &accumulator.products,
            &accumulator.terms,
        ]
        .map(|counts| {
            top_problems(
                counts,
                tickets,
                accumulator.complaints,
                threshold,
                self.options.top_problems,
            )
        });
        let mut department_accumulators = accumulator.departments;
        for name in departments_to_list {
            department_accumulators.entry(name).or_default();
        }
        let departments = department_accumulators
            .into_iter()
            .map(|(name, department)| department.kpi(name, self.satisfied_threshold))
            .collect();
        let mut adopted_suggestions = accumulator.adopted.list;
        sort_and_truncate_adopted(&mut adopted_suggestions, self.options.adopted_list_limit);
        let targets = targets(
            &accumulator.priorities,
            &satisfaction,
            accumulator.closed_loop,
            tickets,
        );
        let month_on_month = month_on_month(&current_headline, &previous_headline);

        MonthlyReport {
            month: self.month,
            period: self.period,
            department: self.department,
            log_position: self.log_position,
            config_version: self.rules.version(),
            calendar_version: self.rules.calendar().version().to_owned(),
            as_of: self.as_of,
            satisfied_threshold: self.satisfied_threshold,
            priority_share_threshold: threshold,
            month_start: self.current_bounds.0,
            month_end: self.current_bounds.1,
            tickets,
            distinct_problems: accumulator.distinct_problems,
            reporters: accumulator.reporters,
            complaints: accumulator.complaints,
            by_kind,
            by_content_type,
            by_channel,
            by_priority,
            on_time,
            on_time_by_priority,
            satisfaction,
            reopened: accumulator.reopened,
            reopen_rate: ratio(accumulator.reopened, accumulator.reviewed_tickets),
            top_keywords,
            top_products,
            top_terms,
            departments,
            unassigned: accumulator.unassigned,
            adopted_count: accumulator.adopted.count,
            adopted_customers_told: accumulator.adopted.told,
            adopted_suggestions,
            suggestions_evaluated: accumulator.evaluations.evaluated,
            adoption_by_score: accumulator.evaluations.rates(),
            archived: accumulator.archived,
            closed_loop: accumulator.closed_loop,
            closed_loop_rate: closed_loop_rate(accumulator.closed_loop, tickets),
            targets,
            month_on_month,
        }
    }
}

/// Archived and open tickets with no deadline passed over all tickets: 1.0 without tickets.
fn closed_loop_rate(closed_loop: u64, tickets: u64) -> f64 {
    if tickets == 0 {
        1.0
    } else {
        ratio(closed_loop, tickets)
    }
}

/// `numerator / denominator`, or 0.0 when there is nothing to divide by.
pub(crate) fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

fn push_unclassified(shares: &mut Vec<CategoryShare>, count: u64, tickets: u64) {
    if count > 0 {
        shares.push(CategoryShare {
            key: "unclassified".to_owned(),
            count,
            share: ratio(count, tickets),
        });
    }
}

fn kind_index(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|candidate| *candidate == kind)
        .unwrap_or(Kind::ALL.len())
}

fn content_index(content: ContentType) -> usize {
    ContentType::ALL
        .iter()
        .position(|candidate| *candidate == content)
        .unwrap_or(ContentType::ALL.len())
}

fn priority_index(priority: Priority) -> usize {
    Priority::ALL
        .iter()
        .position(|candidate| *candidate == priority)
        .unwrap_or(Priority::ALL.len())
}

/// The median of sorted values: the middle one, or the mean of the two middle ones rounded
/// down to a whole millisecond.
pub(crate) fn median(sorted: &[i64]) -> Option<i64> {
    let count = sorted.len();
    if count == 0 {
        return None;
    }
    if count % 2 == 1 {
        Some(sorted[count / 2])
    } else {
        let low = sorted[count / 2 - 1];
        let high = sorted[count / 2];
        Some(low + (high - low) / 2)
    }
}

/// The 90th percentile of sorted values by the nearest-rank method: the value at rank
/// `ceil(0.9 * n)`, counting from 1.
pub(crate) fn percentile_90(sorted: &[i64]) -> Option<i64> {
    let count = sorted.len();
    if count == 0 {
        return None;
    }
    let rank = (9 * count).div_ceil(10).max(1);
    Some(sorted[rank - 1])
}

/// What the per-ticket fold needs besides the ticket.
struct Context<'a> {
    rules: &'a Rules,
    as_of: DateTime<Utc>,
    adopted_list_limit: usize,
}

/// The facts about one ticket that every figure is built from.
pub(crate) struct TicketFacts {
    pub(crate) response_due: bool,
    pub(crate) responded: bool,
    pub(crate) responded_on_time: bool,
    pub(crate) first_response_ms: Option<i64>,
    pub(crate) resolution_due: bool,
    pub(crate) resolved: bool,
    pub(crate) resolved_on_time: bool,
    pub(crate) reviewed: bool,
    pub(crate) reopened: bool,
    pub(crate) archived: bool,
    pub(crate) closed_loop: bool,
}

impl TicketFacts {
    pub(crate) fn of(ticket: &Ticket, received_at: DateTime<Utc>, as_of: DateTime<Utc>) -> Self {
        // The first round's deadlines and response: kept in the round record once reopened.
        let (respond_by, resolve_by, responded_at) = match ticket.previous_rounds.first() {
            Some(first) => (first.respond_by, first.resolve_by, first.responded_at),
            None => (ticket.respond_by, ticket.resolve_by, ticket.responded_at),
        };
        let passed = |deadline: Option<DateTime<Utc>>| deadline.is_some_and(|due| due < as_of);
        let met = |at: DateTime<Utc>, deadline: Option<DateTime<Utc>>| {
            deadline.is_none_or(|due| at <= due)
        };
        let responded = responded_at.is_some();
        let responded_on_time = responded_at.is_some_and(|at| met(at, respond_by));
        let archived = ticket.is_archived();
        let resolved_at = ticket.resolved_at;
        let resolved = resolved_at.is_some() || archived;
        let resolved_on_time = resolved_at.is_some_and(|at| met(at, resolve_by));
        // Within deadlines: no deadline of the current round that is still open has passed.
        let current_respond_open = ticket.responded_at.is_none() && passed(ticket.respond_by);
        let current_resolve_open = ticket.resolved_at.is_none() && passed(ticket.resolve_by);
        let closed_loop = archived || !(current_respond_open || current_resolve_open);
        Self {
            response_due: responded || passed(respond_by),
            responded,
            responded_on_time,
            first_response_ms: responded_at.map(|at| (at - received_at).num_milliseconds().max(0)),
            resolution_due: resolved || passed(resolve_by),
            resolved,
            resolved_on_time,
            reviewed: review_scores(ticket).next().is_some(),
            reopened: !ticket.previous_rounds.is_empty(),
            archived,
            closed_loop,
        }
    }
}

/// Every review the ticket was given, round by round: an earlier round's 3★ that reopened the
/// ticket counts as much as the later round's 5★.
pub(crate) fn review_scores(ticket: &Ticket) -> impl Iterator<Item = u8> + '_ {
    ticket
        .previous_rounds
        .iter()
        .filter_map(|round| round.satisfaction)
        .chain(ticket.satisfaction)
}

/// Response and resolution counts of a group of tickets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OnTimeCounts {
    pub(crate) received: u64,
    pub(crate) response_due: u64,
    pub(crate) responded: u64,
    pub(crate) responded_on_time: u64,
    pub(crate) resolution_due: u64,
    pub(crate) resolved: u64,
    pub(crate) resolved_on_time: u64,
}

impl OnTimeCounts {
    pub(crate) fn add(&mut self, facts: &TicketFacts) {
        self.received += 1;
        self.response_due += u64::from(facts.response_due);
        self.responded += u64::from(facts.responded);
        self.responded_on_time += u64::from(facts.responded_on_time);
        self.resolution_due += u64::from(facts.resolution_due);
        self.resolved += u64::from(facts.resolved);
        self.resolved_on_time += u64::from(facts.resolved_on_time);
    }

    fn merge(&mut self, other: &OnTimeCounts) {
        self.received += other.received;
        self.response_due += other.response_due;
        self.responded += other.responded;
        self.responded_on_time += other.responded_on_time;
        self.resolution_due += other.resolution_due;
        self.resolved += other.resolved;
        self.resolved_on_time += other.resolved_on_time;
    }

    fn rates(&self, priority: Option<Priority>) -> OnTimeRates {
        OnTimeRates {
            priority,
            received: self.received,
            response_due: self.response_due,
            responded: self.responded,
            responded_on_time: self.responded_on_time,
            response_on_time_rate: ratio(self.responded_on_time, self.response_due),
            resolution_due: self.resolution_due,
            resolved: self.resolved,
            resolved_on_time: self.resolved_on_time,
            resolution_on_time_rate: ratio(self.resolved_on_time, self.resolution_due),
            resolution_rate: ratio(self.resolved, self.received),
        }
    }
}

/// Review scores of a group of tickets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScoreCounts {
    reviews: u64,
    by_score: [u64; 5],
    sum: u64,
}

impl ScoreCounts {
    pub(crate) fn add(&mut self, score: u8) {
        let clamped = score.clamp(1, 5);
        self.reviews += 1;
        self.by_score[usize::from(clamped - 1)] += 1;
        self.sum += u64::from(clamped);
    }

    fn satisfied(&self, threshold: u8) -> u64 {
        (1..=5u8)
            .filter(|score| *score >= threshold)
            .map(|score| self.by_score[usize::from(score - 1)])
            .sum()
    }

    pub(crate) fn summary(&self, threshold: u8) -> SatisfactionSummary {
        let satisfied = self.satisfied(threshold);
        SatisfactionSummary {
            reviews: self.reviews,
            mean: ratio(self.sum, self.reviews),
            satisfied,
            share_satisfied: ratio(satisfied, self.reviews),
            distribution: (1..=5u8)
                .map(|score| ScoreCount {
                    score,
                    count: self.by_score[usize::from(score - 1)],
                })
                .collect(),
        }
    }
}

/// One department's share of the fold.
#[derive(Debug, Default)]
struct DepartmentAccumulator {
    on_time: OnTimeCounts,
    scores: ScoreCounts,
    first_response_ms: Vec<i64>,
    first_response_working_ms: Vec<i64>,
}

impl DepartmentAccumulator {
    fn kpi(mut self, department: String, threshold: u8) -> DepartmentKpi {
        self.first_response_ms.sort_unstable();
        self.first_response_working_ms.sort_unstable();
        let counts = self.on_time;
        let scores = self.scores.summary(threshold);
        DepartmentKpi {
            department,
            volume: counts.received,
            responded: counts.responded,
            median_first_response_ms: median(&self.first_response_ms),
            p90_first_response_ms: percentile_90(&self.first_response_ms),
            median_first_response_working_ms: median(&self.first_response_working_ms),
            resolved: counts.resolved,
            resolution_rate: ratio(counts.resolved, counts.received),
            response_due: counts.response_due,
            resolution_due: counts.resolution_due,
            on_time_rate: ratio(
                counts.responded_on_time + counts.resolved_on_time,
                counts.response_due + counts.resolution_due,
            ),
            response_on_time_rate: ratio(counts.responded_on_time, counts.response_due),
            resolution_on_time_rate: ratio(counts.resolved_on_time, counts.resolution_due),
            reviews: scores.reviews,
            satisfaction_mean: scores.mean,
            share_satisfied: scores.share_satisfied,
        }
    }
}

/// Adopted suggestions: all counted, the earliest listed.
#[derive(Debug, Default)]
struct AdoptedAccumulator {
    count: u64,
    told: u64,
    list: Vec<AdoptedSuggestion>,
}

fn sort_and_truncate_adopted(list: &mut Vec<AdoptedSuggestion>, limit: usize) {
    list.sort_by(|left, right| {
        left.adopted_at
            .cmp(&right.adopted_at)
            .then_with(|| left.ticket_id.cmp(&right.ticket_id))
    });
    list.truncate(limit);
}

/// Per keyword or product: tickets carrying it, and complaints among them.
/// Per keyword or product: problems carrying it, complaints among them, their reporters.
type ProblemCounts = HashMap<String, (u64, u64, u64)>;

fn count_problem(map: &mut ProblemCounts, key: &str, complaint: bool, reporters: u64) {
    let entry = match map.get_mut(key) {
        Some(entry) => entry,
        None => map.entry(key.to_owned()).or_default(),
    };
    entry.0 += 1;
    entry.1 += u64::from(complaint);
    entry.2 += reporters;
}

fn top_problems(
    counts: &ProblemCounts,
    tickets: u64,
    complaints: u64,
    threshold: f64,
    limit: usize,
) -> Vec<TopProblem> {
    let mut all: Vec<TopProblem> = counts
        .iter()
        .map(|(key, (count, complaint_count, reporters))| {
            let complaint_share = ratio(*complaint_count, complaints);
            TopProblem {
                key: key.clone(),
                count: *count,
                share: ratio(*count, tickets),
                complaints: *complaint_count,
                complaint_share,
                priority_flag: complaints > 0 && complaint_share > threshold,
                reporters: *reporters,
            }
        })
        .collect();
    all.sort_by(|left, right| {
        right
            .count
            .cmp(&left.count)
            .then_with(|| left.key.cmp(&right.key))
    });
    let mut listed: Vec<TopProblem> = Vec::new();
    for (rank, problem) in all.into_iter().enumerate() {
        if rank < limit || problem.priority_flag {
            listed.push(problem);
        }
    }
    listed
}

/// The figures of one month that the month-on-month table compares.
#[derive(Debug, Clone, Copy)]
struct Headline {
    tickets: u64,
    response_on_time_rate: f64,
    resolution_on_time_rate: f64,
    resolution_rate: f64,
    satisfaction_mean: f64,
    share_satisfied: f64,
    reopen_rate: f64,
    closed_loop_rate: f64,
}

fn month_on_month(current: &Headline, previous: &Headline) -> Vec<HeadlineChange> {
    let pairs = [
        ("tickets", current.tickets as f64, previous.tickets as f64),
        (
            "response_on_time_rate",
            current.response_on_time_rate,
            previous.response_on_time_rate,
        ),
        (
            "resolution_on_time_rate",
            current.resolution_on_time_rate,
            previous.resolution_on_time_rate,
        ),
        (
            "resolution_rate",
            current.resolution_rate,
            previous.resolution_rate,
        ),
        (
            "satisfaction_mean",
            current.satisfaction_mean,
            previous.satisfaction_mean,
        ),
        (
            "share_satisfied",
            current.share_satisfied,
            previous.share_satisfied,
        ),
        ("reopen_rate", current.reopen_rate, previous.reopen_rate),
        (
            "closed_loop_rate",
            current.closed_loop_rate,
            previous.closed_loop_rate,
        ),
    ];
    pairs
        .into_iter()
        .map(|(name, current, previous)| HeadlineChange {
            name: name.to_owned(),
            current,
            previous,
            change: current - previous,
            relative_change: (previous != 0.0).then(|| (current - previous) / previous),
        })
        .collect()
}

fn targets(
    priorities: &[OnTimeCounts],
    satisfaction: &SatisfactionSummary,
    closed_loop: u64,
    tickets: u64,
) -> Vec<TargetCheck> {
    let mut high = OnTimeCounts::default();
    high.merge(&priorities[priority_index(Priority::Urgent)]);
    high.merge(&priorities[priority_index(Priority::High)]);
    // Only tickets whose resolution was due count: resolved, or their resolve-by passed
    // before the report's time. An urgent ticket due tomorrow is neither met nor missed yet.
    let actual = if high.resolution_due == 0 {
        1.0
    } else {
        ratio(high.resolved_on_time, high.resolution_due)
    };
    let high_target = TargetCheck {
        name: "high_priority_resolution_rate".to_owned(),
        target: 0.95,
        actual,
        met: actual >= 0.95,
        detail: high_priority_detail(
            Lang::En,
            high.resolved_on_time,
            high.resolution_due,
            high.received,
        ),
    };
    let satisfaction_target = TargetCheck {
        name: "satisfaction".to_owned(),
        target: 4.5,
        actual: satisfaction.mean,
        met: satisfaction.reviews > 0
            && (satisfaction.mean >= 4.5 || satisfaction.share_satisfied >= 0.90),
        detail: satisfaction_detail(Lang::En, satisfaction),
    };
    let closed_loop_target = TargetCheck {
        name: "closed_loop".to_owned(),
        target: 1.0,
        actual: if tickets == 0 {
            1.0
        } else {
            ratio(closed_loop, tickets)
        },
        met: closed_loop == tickets,
        detail: closed_loop_detail(Lang::En, closed_loop, tickets),
    };
    vec![high_target, satisfaction_target, closed_loop_target]
}

/// The fold over the tickets of one month.
#[derive(Debug, Default)]
struct MonthAccumulator {
    tickets: u64,
    complaints: u64,
    /// One slot per kind, and a last one for unclassified tickets.
    kinds: [u64; 6],
    content_types: [u64; 5],
    /// One slot per priority, and a last one for unclassified tickets.
    priorities: [OnTimeCounts; 5],
    channels: HashMap<String, u64>,
    satisfaction: ScoreCounts,
    /// Tickets with at least one review (the denominator of the reopen rate).
    reviewed_tickets: u64,
    reopened: u64,
    distinct_problems: u64,
    reporters: u64,
    keywords: ProblemCounts,
    products: ProblemCounts,
    /// The extracted terms, counted like the keywords.
    terms: ProblemCounts,
    departments: BTreeMap<String, DepartmentAccumulator>,
    unassigned: u64,
    adopted: AdoptedAccumulator,
    evaluations: crate::evaluation::EvaluationAccumulator,
    archived: u64,
    closed_loop: u64,
}

impl MonthAccumulator {
    fn add(&mut self, ticket: &Ticket, received_at: DateTime<Utc>, context: &Context<'_>) {
        let facts = TicketFacts::of(ticket, received_at, context.as_of);
        self.tickets += 1;
        let complaint = ticket.kind == Some(Kind::Complaint);
        self.complaints += u64::from(complaint);
        self.kinds[ticket.kind.map_or(Kind::ALL.len(), kind_index)] += 1;
        self.content_types[ticket
            .content_type
            .map_or(ContentType::ALL.len(), content_index)] += 1;
        self.priorities[ticket.priority.map_or(Priority::ALL.len(), priority_index)].add(&facts);
        match self.channels.get_mut(ticket.channel.as_str()) {
            Some(count) => *count += 1,
            None => {
                self.channels.insert(ticket.channel.clone(), 1);
            }
        }
        for score in review_scores(ticket) {
            self.satisfaction.add(score);
        }
        self.reviewed_tickets += u64::from(facts.reviewed);
        self.reopened += u64::from(facts.reopened);
        // A ticket linked to a parent problem is counted into its parent: the problem counts
        // once, with every reporter.
        if ticket.parent.is_none() {
            let reporters = u64::from(domain::problems::reporters(ticket));
            self.distinct_problems += 1;
            self.reporters += reporters;
            for keyword in &ticket.keywords {
                count_problem(&mut self.keywords, keyword, complaint, reporters);
            }
            for term in &ticket.terms {
                count_problem(&mut self.terms, term, complaint, reporters);
            }
            if let Some(product) = ticket.product.as_deref().map(str::trim) {
                if !product.is_empty() {
                    count_problem(&mut self.products, product, complaint, reporters);
                }
            }
        }
        match ticket.department.as_deref() {
            Some(department) => {
                let entry = match self.departments.get_mut(department) {
                    Some(entry) => entry,
                    None => self.departments.entry(department.to_owned()).or_default(),
                };
                entry.on_time.add(&facts);
                for score in review_scores(ticket) {
                    entry.scores.add(score);
                }
                if let Some(milliseconds) = facts.first_response_ms {
                    entry.first_response_ms.push(milliseconds);
                    let first_response_at = ticket
                        .previous_rounds
                        .first()
                        .map_or(ticket.responded_at, |round| round.responded_at);
                    if let Some(responded_at) = first_response_at {
                        let working = context
                            .rules
                            .calendar()
                            .working_time_between(received_at, responded_at);
                        entry
                            .first_response_working_ms
                            .push(working.num_milliseconds());
                    }
                }
            }
            None => self.unassigned += 1,
        }
        self.add_adopted(ticket, context);
        self.evaluations.add(ticket);
        self.archived += u64::from(facts.archived);
        self.closed_loop += u64::from(facts.closed_loop);
    }

    fn add_adopted(&mut self, ticket: &Ticket, context: &Context<'_>) {
        let Some(adoption) = Adoption::of(ticket) else {
            return;
        };
        self.adopted.count += 1;
        self.adopted.told += u64::from(adoption.customer_told);
        if context.adopted_list_limit == 0 {
            return;
        }
        self.adopted.list.push(adoption.listed(ticket));
        if self.adopted.list.len() >= context.adopted_list_limit.saturating_mul(2) {
            sort_and_truncate_adopted(&mut self.adopted.list, context.adopted_list_limit);
        }
    }

    /// The month's tickets by kind, content type, priority and channel, each dimension's
    /// values in their fixed order (channels by count, then name) and unclassified last.
    fn shares(&self) -> [Vec<CategoryShare>; 4] {
        let tickets = self.tickets;
        let category = |key: &str, count: u64| CategoryShare {
            key: key.to_owned(),
            count,
            share: ratio(count, tickets),
        };
        let mut by_kind: Vec<CategoryShare> = Kind::ALL
            .iter()
            .map(|kind| category(kind.as_str(), self.kinds[kind_index(*kind)]))
            .collect();
        push_unclassified(&mut by_kind, self.kinds[Kind::ALL.len()], tickets);
        let mut by_content_type: Vec<CategoryShare> = ContentType::ALL
            .iter()
            .map(|content| {
                category(
                    content.as_str(),
                    self.content_types[content_index(*content)],
                )
            })
            .collect();
        push_unclassified(
            &mut by_content_type,
            self.content_types[ContentType::ALL.len()],
            tickets,
        );
        let mut by_priority: Vec<CategoryShare> = Priority::ALL
            .iter()
            .map(|priority| {
                category(
                    priority.as_str(),
                    self.priorities[priority_index(*priority)].received,
                )
            })
            .collect();
        push_unclassified(
            &mut by_priority,
            self.priorities[Priority::ALL.len()].received,
            tickets,
        );
        let mut channels: Vec<(&String, &u64)> = self.channels.iter().collect();
        channels.sort_by(|left, right| right.1.cmp(left.1).then_with(|| left.0.cmp(right.0)));
        let by_channel = channels
            .into_iter()
            .map(|(key, count)| category(key, *count))
            .collect();
        [by_kind, by_content_type, by_priority, by_channel]
    }

    fn total_on_time(&self) -> OnTimeCounts {
        let mut total = OnTimeCounts::default();
        for counts in &self.priorities {
            total.merge(counts);
        }
        total
    }

    fn headline(&self, threshold: u8) -> Headline {
        let total = self.total_on_time();
        let scores = self.satisfaction.summary(threshold);
        Headline {
            tickets: self.tickets,
            response_on_time_rate: ratio(total.responded_on_time, total.response_due),
            resolution_on_time_rate: ratio(total.resolved_on_time, total.resolution_due),
            resolution_rate: ratio(total.resolved, total.received),
            satisfaction_mean: scores.mean,
            share_satisfied: scores.share_satisfied,
            reopen_rate: ratio(self.reopened, self.reviewed_tickets),
            closed_loop_rate: closed_loop_rate(self.closed_loop, self.tickets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentile_follow_the_documented_definitions() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[1, 3]), Some(2));
        assert_eq!(median(&[1, 2]), Some(1));
        assert_eq!(median(&[1, 2, 10]), Some(2));
        assert_eq!(percentile_90(&[]), None);
        assert_eq!(percentile_90(&[7]), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile_90(&ten), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile_90(&eleven), Some(10));
    }
}
