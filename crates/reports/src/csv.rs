//! The report as CSV for spreadsheets: one tidy table with the columns
//! `section,key,metric,value`, one row per figure, so that a pivot table rebuilds any view.

use crate::model::{
    AdoptedSuggestion, CategoryShare, DepartmentKpi, HeadlineChange, MonthlyReport, OnTimeRates,
    SatisfactionSummary, TargetCheck, TopProblem,
};
use crate::sections::{Section, SectionKind};

/// Quotes a CSV field when it holds a comma, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

struct Rows {
    text: String,
}

impl Rows {
    fn push(&mut self, section: &str, key: &str, metric: &str, value: impl ToString) {
        self.text.push_str(&field(section));
        self.text.push(',');
        self.text.push_str(&field(key));
        self.text.push(',');
        self.text.push_str(&field(metric));
        self.text.push(',');
        self.text.push_str(&field(&value.to_string()));
        self.text.push('\n');
    }

    fn shares(&mut self, section: &str, shares: &[CategoryShare]) {
        for share in shares {
            self.push(section, &share.key, "count", share.count);
            self.push(section, &share.key, "share", share.share);
        }
    }

    fn on_time(&mut self, section: &str, key: &str, rates: &OnTimeRates) {
        self.push(section, key, "received", rates.received);
        self.push(section, key, "response_due", rates.response_due);
        self.push(section, key, "responded", rates.responded);
        self.push(section, key, "responded_on_time", rates.responded_on_time);
        self.push(
            section,
            key,
            "response_on_time_rate",
            rates.response_on_time_rate,
        );
        self.push(section, key, "resolution_due", rates.resolution_due);
        self.push(section, key, "resolved", rates.resolved);
        self.push(section, key, "resolved_on_time", rates.resolved_on_time);
        self.push(
            section,
            key,
            "resolution_on_time_rate",
            rates.resolution_on_time_rate,
        );
        self.push(section, key, "resolution_rate", rates.resolution_rate);
    }

    fn problems(&mut self, section: &str, problems: &[TopProblem]) {
        for problem in problems {
            self.push(section, &problem.key, "count", problem.count);
            self.push(section, &problem.key, "share", problem.share);
            self.push(section, &problem.key, "reporters", problem.reporters);
            self.push(section, &problem.key, "complaints", problem.complaints);
            self.push(
                section,
                &problem.key,
                "complaint_share",
                problem.complaint_share,
            );
            self.push(
                section,
                &problem.key,
                "priority_flag",
                problem.priority_flag,
            );
        }
    }
}

fn optional(value: Option<i64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// The CSV lists the figures first, in reading order, and the judgements of them last:
/// targets, then month-on-month changes. Its readers' pivot tables are built on that order.
fn csv_order() -> impl Iterator<Item = SectionKind> {
    SectionKind::READING_ORDER
        .into_iter()
        .filter(|kind| !matches!(kind, SectionKind::Headline | SectionKind::Targets))
        .chain([SectionKind::Targets, SectionKind::Headline])
}

impl MonthlyReport {
    /// The report as CSV: a header line, then `section,key,metric,value` rows.
    pub fn to_csv(&self) -> String {
        let mut rows = Rows {
            text: String::from("section,key,metric,value\n"),
        };
        self.csv_report(&mut rows);
        self.csv_summary(&mut rows);
        for kind in csv_order() {
            match self.section(kind) {
                Section::Shares(shares) => {
                    for table in shares.tables() {
                        rows.shares(&table.csv_section(), table.shares);
                    }
                }
                Section::OnTime(on_time) => {
                    for row in on_time {
                        rows.on_time("on_time", row.label(), row.0);
                    }
                }
                Section::Satisfaction(satisfaction) => rows.satisfaction(satisfaction.summary),
                Section::Problems(tables) => {
                    for table in tables {
                        rows.problems(&table.csv_section(), table.problems);
                    }
                }
                Section::Departments(departments) => {
                    for row in departments.rows {
                        rows.department(row.0);
                    }
                }
                Section::Adopted(adopted) => {
                    for band in adopted.by_score {
                        let key = band.band.as_str();
                        rows.push("adoption_by_score", key, "decided", band.decided);
                        rows.push("adoption_by_score", key, "accepted", band.accepted);
                        rows.push("adoption_by_score", key, "rate", band.rate);
                    }
                    for suggestion in adopted.suggestions {
                        rows.adopted(suggestion);
                    }
                }
                Section::Targets(targets) => {
                    for target in targets {
                        rows.target(target.0);
                    }
                }
                Section::Headline(figures) => {
                    for figure in figures {
                        rows.change(figure.change);
                    }
                }
            }
        }
        rows.text
    }

    /// What the report was computed from.
    fn csv_report(&self, rows: &mut Rows) {
        let report = "report";
        rows.push(report, "", "month", self.month);
        rows.push(
            report,
            "",
            "department",
            self.department.as_deref().unwrap_or(""),
        );
        rows.push(report, "", "log_position", self.log_position);
        rows.push(report, "", "config_version", &self.config_version);
        rows.push(report, "", "calendar_version", &self.calendar_version);
        rows.push(report, "", "as_of", self.as_of.to_rfc3339());
        rows.push(report, "", "month_start", self.month_start.to_rfc3339());
        rows.push(report, "", "month_end", self.month_end.to_rfc3339());
        rows.push(report, "", "satisfied_threshold", self.satisfied_threshold);
    }

    /// The month's counts.
    fn csv_summary(&self, rows: &mut Rows) {
        let summary = "summary";
        rows.push(summary, "", "tickets", self.tickets);
        rows.push(summary, "", "distinct_problems", self.distinct_problems);
        rows.push(summary, "", "reporters", self.reporters);
        rows.push(summary, "", "complaints", self.complaints);
        rows.push(summary, "", "reopened", self.reopened);
        rows.push(summary, "", "reopen_rate", self.reopen_rate);
        rows.push(summary, "", "archived", self.archived);
        rows.push(summary, "", "closed_loop", self.closed_loop);
        rows.push(summary, "", "closed_loop_rate", self.closed_loop_rate);
        rows.push(summary, "", "unassigned", self.unassigned);
        rows.push(summary, "", "adopted", self.adopted_count);
        rows.push(
            summary,
            "",
            "adopted_customers_told",
            self.adopted_customers_told,
        );
        rows.push(
            summary,
            "",
            "suggestions_evaluated",
            self.suggestions_evaluated,
        );
    }
}

impl Rows {
    fn satisfaction(&mut self, summary: &SatisfactionSummary) {
        let section = "satisfaction";
        self.push(section, "", "reviews", summary.reviews);
        self.push(section, "", "mean", summary.mean);
        self.push(section, "", "satisfied", summary.satisfied);
        self.push(section, "", "share_satisfied", summary.share_satisfied);
        for score in &summary.distribution {
            self.push(section, &score.score.to_string(), "count", score.count);
        }
    }

    fn department(&mut self, kpi: &DepartmentKpi) {
        let section = "department";
        let key = kpi.department.as_str();
        self.push(section, key, "volume", kpi.volume);
        self.push(section, key, "responded", kpi.responded);
        for (metric, value) in [
            ("median_first_response_ms", kpi.median_first_response_ms),
            ("p90_first_response_ms", kpi.p90_first_response_ms),
            (
                "median_first_response_working_ms",
                kpi.median_first_response_working_ms,
            ),
        ] {
            self.push(section, key, metric, optional(value));
        }
        self.push(section, key, "resolved", kpi.resolved);
        self.push(section, key, "resolution_rate", kpi.resolution_rate);
        self.push(section, key, "response_due", kpi.response_due);
        self.push(section, key, "resolution_due", kpi.resolution_due);
        for (metric, value) in [
            ("on_time_rate", kpi.on_time_rate),
            ("response_on_time_rate", kpi.response_on_time_rate),
            ("resolution_on_time_rate", kpi.resolution_on_time_rate),
        ] {
            self.push(section, key, metric, value);
        }
        self.push(section, key, "reviews", kpi.reviews);
        self.push(section, key, "satisfaction_mean", kpi.satisfaction_mean);
        self.push(section, key, "share_satisfied", kpi.share_satisfied);
    }

    fn adopted(&mut self, adopted: &AdoptedSuggestion) {
        let section = "adopted";
        let key = adopted.ticket_id.as_str();
        self.push(section, key, "department", &adopted.department);
        self.push(section, key, "outcome", adopted.outcome.as_str());
        self.push(section, key, "adopted_at", adopted.adopted_at.to_rfc3339());
        self.push(section, key, "customer_told", adopted.customer_told);
        self.push(section, key, "customer", &adopted.customer_display_name);
        self.push(section, key, "product", &adopted.product);
        self.push(section, key, "content", &adopted.content);
        self.push(section, key, "solution", &adopted.solution);
    }

    fn target(&mut self, target: &TargetCheck) {
        let section = "target";
        let key = target.name.as_str();
        self.push(section, key, "target", target.target);
        self.push(section, key, "actual", target.actual);
        self.push(section, key, "met", target.met);
        self.push(section, key, "detail", &target.detail);
    }

    fn change(&mut self, change: &HeadlineChange) {
        let section = "month_on_month";
        let key = change.name.as_str();
        self.push(section, key, "current", change.current);
        self.push(section, key, "previous", change.previous);
        self.push(section, key, "change", change.change);
        self.push(
            section,
            key,
            "relative_change",
            change
                .relative_change
                .map(|value| value.to_string())
                .unwrap_or_default(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("退款,慢"), "\"退款,慢\"");
    }
}
