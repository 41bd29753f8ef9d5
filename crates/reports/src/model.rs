//! The monthly report as data: every figure `docs/reports.md` defines, serialisable to JSON.

use crate::YearMonth;
use chrono::{DateTime, Utc};
use domain::types::{Outcome, Priority};
use serde::{Deserialize, Serialize};

/// A count and its share of the whole, for one value of a dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryShare {
    /// The value's stable name ("complaint", "wechat", "urgent"), or "unclassified".
    pub key: String,
    pub count: u64,
    /// From 0.0 to 1.0; 0.0 when the month has no tickets.
    pub share: f64,
}

/// Response and resolution figures for one priority, or for all (`priority: None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnTimeRates {
    pub priority: Option<Priority>,
    /// Tickets received in the month.
    pub received: u64,
    /// Tickets whose first-round response deadline is decided: responded, or past due.
    pub response_due: u64,
    /// Tickets with a first-round response.
    pub responded: u64,
    pub responded_on_time: u64,
    /// `responded_on_time / response_due`.
    pub response_on_time_rate: f64,
    /// Tickets whose resolution is decided: resolved now, or past the first-round deadline.
    pub resolution_due: u64,
    /// Tickets resolved now (a solution accepted in the current round, or archived).
    pub resolved: u64,
    /// Resolved tickets whose resolution came by the first-round resolve-by instant.
    pub resolved_on_time: u64,
    /// `resolved_on_time / resolution_due`.
    pub resolution_on_time_rate: f64,
    /// `resolved / received`.
    pub resolution_rate: f64,
}

/// How many tickets gave one score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreCount {
    /// From 1 to 5.
    pub score: u8,
    pub count: u64,
}

/// The customers' ratings: each reviewed ticket's latest score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SatisfactionSummary {
    /// Reviewed tickets (each counted once, with its latest score).
    pub reviews: u64,
    /// Mean score from 1.0 to 5.0; 0.0 without reviews.
    pub mean: f64,
    /// Reviews at or above the satisfied threshold.
    pub satisfied: u64,
    pub share_satisfied: f64,
    /// One entry per score 1 to 5, in order.
    pub distribution: Vec<ScoreCount>,
}

/// A frequent problem: a keyword, a product or an extracted term, with its share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopProblem {
    pub key: String,
    /// Tickets of the month that carry it.
    pub count: u64,
    /// `count / tickets`.
    pub share: f64,
    /// Complaints of the month that carry it.
    pub complaints: u64,
    /// `complaints / complaints of the month`.
    pub complaint_share: f64,
    /// More than the configured share of complaints (30% by default): a priority topic.
    pub priority_flag: bool,
    /// Customers who reported it: `count` counts each problem once, its linked tickets
    /// are counted here with it.
    #[serde(default)]
    pub reporters: u64,
}

/// Key performance indicators of one department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentKpi {
    pub department: String,
    /// Tickets of the month the department is accountable for.
    pub volume: u64,
    /// Tickets with a first-round response, the sample of the response times below.
    pub responded: u64,
    /// First response time, received to acknowledged, in milliseconds of elapsed time.
    pub median_first_response_ms: Option<i64>,
    pub p90_first_response_ms: Option<i64>,
    /// The same median counted in working time of the business calendar.
    pub median_first_response_working_ms: Option<i64>,
    pub resolved: u64,
    /// `resolved / volume`.
    pub resolution_rate: f64,
    /// Deadlines decided (met or passed), the denominators of the on-time rates.
    pub response_due: u64,
    pub resolution_due: u64,
    /// Deadlines met over deadlines decided, response and resolution together.
    pub on_time_rate: f64,
    pub response_on_time_rate: f64,
    pub resolution_on_time_rate: f64,
    pub reviews: u64,
    pub satisfaction_mean: f64,
    pub share_satisfied: f64,
}

/// The adoption rate of the month's evaluated suggestions in one score band
/// (`domain::ticket::SCORE_BANDS`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreBandRate {
    /// `high` (score 12 to 15), `medium` (8 to 11) or `low` (3 to 7).
    pub band: String,
    /// Evaluated suggestions of the band whose outcome is decided (adopted, planned,
    /// declined).
    pub decided: u64,
    /// Of those, adopted or planned.
    pub accepted: u64,
    /// `accepted / decided`, 0 when none was decided.
    pub rate: f64,
}

/// An adopted (or planned) suggestion, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptedSuggestion {
    pub ticket_id: String,
    pub department: String,
    pub content: String,
    pub product: String,
    pub solution: String,
    pub adopted_at: DateTime<Utc>,
    pub customer_told: bool,
    /// An anonymised display name, e.g. "张**".
    pub customer_display_name: String,
    /// `adopted`, or `planned` for an accepted suggestion not delivered yet.
    pub outcome: Outcome,
}

/// One of the process targets of `domain.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// `high_priority_resolution_rate`, `satisfaction` or `closed_loop`.
    pub name: String,
    pub target: f64,
    pub actual: f64,
    pub met: bool,
    /// A sentence saying what was measured.
    pub detail: String,
}

/// The month-on-month change of one headline figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadlineChange {
    pub name: String,
    pub current: f64,
    pub previous: f64,
    /// `current - previous`.
    pub change: f64,
    /// `(current - previous) / previous`; `None` when `previous` is 0.
    pub relative_change: Option<f64>,
}

/// The monthly report. Every figure is defined in `docs/reports.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthlyReport {
    pub month: YearMonth,
    /// The period when the report covers a quarter or a range of days rather than `month`
    /// (then `month` is the period's first month, and the comparison is with the period
    /// before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<crate::Period>,
    /// The department the report is restricted to, or `None` for all.
    pub department: Option<String>,
    /// The log position the ticket states were folded to.
    pub log_position: u64,
    /// The configuration version of the rules used (as recorded on events).
    pub config_version: String,
    /// The business calendar's version.
    pub calendar_version: String,
    /// The instant open deadlines are judged at (the time of the event at `log_position`).
    pub as_of: DateTime<Utc>,
    /// Scores at or above this count as satisfied.
    pub satisfied_threshold: u8,
    /// Complaint share above which a keyword or product is flagged.
    pub priority_share_threshold: f64,
    /// The month's first and last instants, in UTC (`[start, end)`).
    pub month_start: DateTime<Utc>,
    pub month_end: DateTime<Utc>,

    /// Tickets received in the month.
    pub tickets: u64,
    /// Distinct problems of the month: tickets not linked to a parent problem.
    #[serde(default)]
    pub distinct_problems: u64,
    /// The customers behind those problems: each problem with its linked tickets.
    #[serde(default)]
    pub reporters: u64,
    pub complaints: u64,
    pub by_kind: Vec<CategoryShare>,
    pub by_content_type: Vec<CategoryShare>,
    pub by_channel: Vec<CategoryShare>,
    pub by_priority: Vec<CategoryShare>,
    pub on_time: OnTimeRates,
    /// Urgent first.
    pub on_time_by_priority: Vec<OnTimeRates>,
    pub satisfaction: SatisfactionSummary,
    /// Tickets reopened for a second round, and their share of reviewed tickets.
    pub reopened: u64,
    pub reopen_rate: f64,
    pub top_keywords: Vec<TopProblem>,
    pub top_products: Vec<TopProblem>,
    /// The most frequent extracted terms (word segmentation of the text, beyond the
    /// configured keywords): what customers write about that nobody configured. Absent in
    /// reports stored before terms were extracted.
    #[serde(default)]
    pub top_terms: Vec<TopProblem>,
    /// In department order; tickets without a department are counted in `unassigned`.
    pub departments: Vec<DepartmentKpi>,
    pub unassigned: u64,
    pub adopted_count: u64,
    pub adopted_customers_told: u64,
    /// The first adopted suggestions by adoption time (at most the configured limit).
    pub adopted_suggestions: Vec<AdoptedSuggestion>,
    /// Suggestions of the month with an evaluation.
    #[serde(default)]
    pub suggestions_evaluated: u64,
    /// The adoption rate of the evaluated suggestions per score band (high, medium, low).
    #[serde(default)]
    pub adoption_by_score: Vec<ScoreBandRate>,
    pub archived: u64,
    /// Archived tickets plus open tickets with no deadline passed, over all tickets.
    pub closed_loop: u64,
    pub closed_loop_rate: f64,
    pub targets: Vec<TargetCheck>,
    pub month_on_month: Vec<HeadlineChange>,
}

impl MonthlyReport {
    /// The report as pretty-printed JSON (the `--json` output of `cloop report monthly`).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a report holds only strings, numbers, booleans and instants")
    }
}
