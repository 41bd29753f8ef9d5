//! The report as CSV for spreadsheets: one tidy table with the columns
//! `section,key,metric,value`, one row per figure, so that a pivot table rebuilds any view.

use crate::model::{CategoryShare, MonthlyReport, OnTimeRates, TopProblem};

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

impl MonthlyReport {
    /// The report as CSV: a header line, then `section,key,metric,value` rows.
    pub fn to_csv(&self) -> String {
        let mut rows = Rows {
            text: String::from("section,key,metric,value\n"),
        };
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

        rows.shares("by_kind", &self.by_kind);
        rows.shares("by_content_type", &self.by_content_type);
        rows.shares("by_channel", &self.by_channel);
        rows.shares("by_priority", &self.by_priority);
        rows.on_time("on_time", "all", &self.on_time);
        for rates in &self.on_time_by_priority {
            let key = rates
                .priority
                .map(|priority| priority.as_str())
                .unwrap_or("all");
            rows.on_time("on_time", key, rates);
        }

        let satisfaction = "satisfaction";
        rows.push(satisfaction, "", "reviews", self.satisfaction.reviews);
        rows.push(satisfaction, "", "mean", self.satisfaction.mean);
        rows.push(satisfaction, "", "satisfied", self.satisfaction.satisfied);
        rows.push(
            satisfaction,
            "",
            "share_satisfied",
            self.satisfaction.share_satisfied,
        );
        for score in &self.satisfaction.distribution {
            rows.push(satisfaction, &score.score.to_string(), "count", score.count);
        }

        rows.problems("top_keywords", &self.top_keywords);
        rows.problems("top_products", &self.top_products);

        for kpi in &self.departments {
            let section = "department";
            let key = kpi.department.as_str();
            rows.push(section, key, "volume", kpi.volume);
            rows.push(section, key, "responded", kpi.responded);
            rows.push(
                section,
                key,
                "median_first_response_ms",
                optional(kpi.median_first_response_ms),
            );
            rows.push(
                section,
                key,
                "p90_first_response_ms",
                optional(kpi.p90_first_response_ms),
            );
            rows.push(
                section,
                key,
                "median_first_response_working_ms",
                optional(kpi.median_first_response_working_ms),
            );
            rows.push(section, key, "resolved", kpi.resolved);
            rows.push(section, key, "resolution_rate", kpi.resolution_rate);
            rows.push(section, key, "response_due", kpi.response_due);
            rows.push(section, key, "resolution_due", kpi.resolution_due);
            rows.push(section, key, "on_time_rate", kpi.on_time_rate);
            rows.push(
                section,
                key,
                "response_on_time_rate",
                kpi.response_on_time_rate,
            );
            rows.push(
                section,
                key,
                "resolution_on_time_rate",
                kpi.resolution_on_time_rate,
            );
            rows.push(section, key, "reviews", kpi.reviews);
            rows.push(section, key, "satisfaction_mean", kpi.satisfaction_mean);
            rows.push(section, key, "share_satisfied", kpi.share_satisfied);
        }

        for adopted in &self.adopted_suggestions {
            let section = "adopted";
            let key = adopted.ticket_id.as_str();
            rows.push(section, key, "department", &adopted.department);
            rows.push(section, key, "outcome", adopted.outcome.as_str());
            rows.push(section, key, "adopted_at", adopted.adopted_at.to_rfc3339());
            rows.push(section, key, "customer_told", adopted.customer_told);
            rows.push(section, key, "customer", &adopted.customer_display_name);
            rows.push(section, key, "product", &adopted.product);
            rows.push(section, key, "content", &adopted.content);
            rows.push(section, key, "solution", &adopted.solution);
        }

        for target in &self.targets {
            let section = "target";
            let key = target.name.as_str();
            rows.push(section, key, "target", target.target);
            rows.push(section, key, "actual", target.actual);
            rows.push(section, key, "met", target.met);
            rows.push(section, key, "detail", &target.detail);
        }

        for change in &self.month_on_month {
            let section = "month_on_month";
            let key = change.name.as_str();
            rows.push(section, key, "current", change.current);
            rows.push(section, key, "previous", change.previous);
            rows.push(section, key, "change", change.change);
            rows.push(
                section,
                key,
                "relative_change",
                change
                    .relative_change
                    .map(|value| value.to_string())
                    .unwrap_or_default(),
            );
        }
        rows.text
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
