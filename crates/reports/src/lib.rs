//! Managers' reports of closedloop: the monthly report, folded from ticket states.
//!
//! The crate is pure: it never reads a clock, a file or the network. The caller hands in the
//! folded tickets (as the workflow's projections hold them), the compiled domain [`Rules`]
//! (the same business calendar and SLA policy the timers use), the month, the log position
//! and the instant the report is judged at; [`monthly_report`] returns a [`MonthlyReport`]
//! that serialises to JSON and renders as CSV ([`MonthlyReport::to_csv`]) and as one
//! self-contained HTML page ([`MonthlyReport::to_html`]), its labels in Chinese or English
//! ([`Lang`]).
//!
//! Architecture invariant: the same tickets, rules, month, position and `as_of` give the same
//! report, byte for byte, whatever order the tickets come in. That is what lets an auditor
//! regenerate a report handed to management (`cloop report monthly --at-position N`).
//!
//! Every figure's definition is in `docs/reports.md`.
//!
//! [`Rules`]: domain::Rules

mod compute;
mod csv;
mod error;
mod evaluation;
mod fold;
mod html;
mod lang;
mod model;
mod month;
pub mod people;
mod people_render;
mod period;
pub mod period_report;
#[cfg(feature = "proto")]
pub mod proto_conv;
#[cfg(feature = "proto")]
pub mod proto_period;
pub mod public;
pub mod row;
pub mod sections;
pub mod stored;
mod svg;
pub mod synthetic;

pub use compute::{monthly_report, ReportBuilder, ReportInput, ReportOptions};
pub use error::ReportError;
pub use fold::{LogFold, RowMeta};
pub use lang::{Lang, LABELS};
pub use model::{
    AdoptedSuggestion, CategoryShare, DepartmentKpi, HeadlineChange, MonthlyReport, OnTimeRates,
    SatisfactionSummary, ScoreBandRate, ScoreCount, TargetCheck, TopProblem,
};
pub use month::YearMonth;
pub use people::{PeopleBuilder, PeopleReport, PeopleScope, PersonFigures};
pub use people_render::PEOPLE_COLUMNS;
pub use period::Period;
pub use period_report::{HeadlineTrend, PeriodBuilder, PeriodReport};
pub use row::ReportRow;
pub use stored::{fold_report_rows, fold_stored, TicketFold};
