//! The report over any period: the whole period as one report (compared with the period
//! before), and for a quarter its three months side by side with the trend of each headline
//! figure. One pass over the tickets feeds every builder.

use crate::compute::{ReportBuilder, ReportOptions};
use crate::lang::Lang;
use crate::model::MonthlyReport;
use crate::sections::percent;
use crate::stored::TicketFold;
use crate::svg::escape;
use crate::Period;
use chrono::{DateTime, Utc};
use domain::{Rules, Ticket};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The change of one headline figure over the months of a quarter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadlineTrend {
    /// A headline name of the month-on-month table ("tickets", "resolution_rate", ...).
    pub name: String,
    /// One value per month, in order.
    pub values: Vec<f64>,
    /// The last month's value minus the first month's.
    pub change: f64,
}

/// The report of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodReport {
    pub period: Period,
    /// The whole period, compared with the period before.
    pub report: MonthlyReport,
    /// For a quarter, its three months in order; empty otherwise.
    pub months: Vec<MonthlyReport>,
    /// For a quarter, the trend of each headline figure over its months.
    pub trend: Vec<HeadlineTrend>,
}

/// The trend of each headline figure over `months`, in the headline order.
pub fn trends(months: &[MonthlyReport]) -> Vec<HeadlineTrend> {
    let Some(first) = months.first() else {
        return Vec::new();
    };
    first
        .month_on_month
        .iter()
        .map(|headline| {
            let values: Vec<f64> = months
                .iter()
                .map(|month| {
                    month
                        .month_on_month
                        .iter()
                        .find(|change| change.name == headline.name)
                        .map_or(0.0, |change| change.current)
                })
                .collect();
            let change = values.last().copied().unwrap_or(0.0) - values[0];
            HeadlineTrend {
                name: headline.name.clone(),
                values,
                change,
            }
        })
        .collect()
}

/// The streaming fold of a [`PeriodReport`]: the whole period and each of its months.
#[derive(Debug)]
pub struct PeriodBuilder<'a> {
    period: Period,
    whole: ReportBuilder<'a>,
    months: Vec<ReportBuilder<'a>>,
}

impl<'a> PeriodBuilder<'a> {
    pub fn new(
        rules: &'a Rules,
        period: Period,
        department: Option<String>,
        log_position: u64,
        as_of: DateTime<Utc>,
        options: ReportOptions,
    ) -> Self {
        let months = match period {
            Period::Quarter { .. } => period
                .months()
                .into_iter()
                .map(|month| {
                    ReportBuilder::new(
                        rules,
                        month,
                        department.clone(),
                        log_position,
                        as_of,
                        options.clone(),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            period,
            whole: ReportBuilder::for_period(
                rules,
                period,
                department,
                log_position,
                as_of,
                options,
            ),
            months,
        }
    }

    /// The instants every ticket the report needs is received in.
    pub fn window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        self.whole.window()
    }

    pub fn add(&mut self, ticket: &Ticket) {
        self.whole.add(ticket);
        for month in &mut self.months {
            month.add(ticket);
        }
    }

    pub fn finish(self) -> PeriodReport {
        let months: Vec<MonthlyReport> =
            self.months.into_iter().map(ReportBuilder::finish).collect();
        PeriodReport {
            period: self.period,
            report: self.whole.finish(),
            trend: trends(&months),
            months,
        }
    }
}

impl TicketFold for PeriodBuilder<'_> {
    fn add_ticket(&mut self, ticket: &Ticket) {
        self.add(ticket);
    }
}

/// A headline value as the tables show it: a count, a mean score or a percentage.
fn headline_value(name: &str, value: f64) -> String {
    match name {
        "tickets" => format!("{value:.0}"),
        "satisfaction_mean" => format!("{value:.2}"),
        _ => percent(value),
    }
}

fn headline_change(name: &str, change: f64) -> String {
    match name {
        "tickets" => format!("{change:+.0}"),
        "satisfaction_mean" => format!("{change:+.2}"),
        _ => format!("{:+.1} pt", change * 100.0),
    }
}

impl PeriodReport {
    /// The report as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The whole period's CSV rows, then a `month` row per figure of each month
    /// (`month,2026-01,tickets,12`) and a `trend` row per headline figure.
    pub fn to_csv(&self) -> String {
        let mut text = self.report.to_csv();
        for month in &self.months {
            for change in &month.month_on_month {
                let _ = writeln!(
                    text,
                    "month,{},{},{}",
                    month.month, change.name, change.current
                );
            }
        }
        for trend in &self.trend {
            let _ = writeln!(text, "trend,{},change,{}", trend.name, trend.change);
        }
        text
    }

    /// The months side by side with the trend of each headline figure (an HTML section);
    /// empty when the period is not a quarter.
    pub fn months_html(&self, lang: Lang) -> String {
        if self.months.is_empty() {
            return String::new();
        }
        let mut html = format!(
            r#"<section id="months"><h2>{}</h2><table><thead><tr><th class="text">{}</th>"#,
            lang.pick("各月对比与趋势", "Months side by side, and the trend"),
            lang.tr("figure"),
        );
        for month in &self.months {
            let _ = write!(html, "<th>{}</th>", month.month);
        }
        let _ = write!(
            html,
            "<th>{}</th></tr></thead><tbody>",
            lang.pick("趋势", "trend")
        );
        for trend in &self.trend {
            let _ = write!(
                html,
                r#"<tr data-figure="{name}"><td class="text">{label}</td>"#,
                name = escape(&trend.name),
                label = escape(lang.tr(&trend.name)),
            );
            for value in &trend.values {
                let _ = write!(html, "<td>{}</td>", headline_value(&trend.name, *value));
            }
            let _ = write!(
                html,
                "<td>{}</td></tr>",
                headline_change(&trend.name, trend.change)
            );
        }
        html.push_str("</tbody></table></section>");
        html
    }

    /// The page of the whole period with the months side by side before its footer.
    pub fn to_html_in(&self, lang: Lang) -> String {
        let page = self.report.to_html_in(lang);
        let months = self.months_html(lang);
        match page.rfind("<footer") {
            Some(at) if !months.is_empty() => format!("{}{months}{}", &page[..at], &page[at..]),
            _ => page,
        }
    }
}
