//! The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
//! fonts or images from anywhere, so it opens offline and prints as it shows.

use crate::model::{CategoryShare, MonthlyReport, TopProblem};
use crate::svg::{bar_chart, escape, paired_bar_chart, pie_chart, Bar, PALETTE};
use std::fmt::Write;

const STYLE: &str = "\
body{font-family:-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.meta{color:#555;font-size:13px}.muted{fill:#888;color:#888}\
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}\
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:140px}\
.card .value{font-size:22px;font-weight:600}.card .label{font-size:12px;color:#555}\
.up{color:#2e7d32}.down{color:#c62828}.flat{color:#555}\
table{border-collapse:collapse;font-size:13px;margin:6px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}\
td.text,th.text{text-align:left}\
.met{background:#2e7d32;color:#fff;border-radius:4px;padding:1px 8px}\
.missed{background:#c62828;color:#fff;border-radius:4px;padding:1px 8px}\
.flag{color:#c62828;font-weight:600}\
.grid{display:flex;flex-wrap:wrap;gap:24px}.grid>div{flex:1 1 460px}\
svg.chart text{font-size:12px;fill:#222}\
";

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A duration in milliseconds as "2 h 05 min", "14 min" or "35 s".
pub(crate) fn human_duration(milliseconds: i64) -> String {
    let seconds = milliseconds.max(0) / 1000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if days > 0 {
        format!("{days} d {hours:02} h")
    } else if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else if minutes > 0 {
        format!("{minutes} min")
    } else {
        format!("{seconds} s")
    }
}

fn optional_duration(milliseconds: Option<i64>) -> String {
    milliseconds.map_or_else(|| "–".to_owned(), human_duration)
}

fn share_bars(shares: &[CategoryShare]) -> Vec<Bar> {
    shares
        .iter()
        .map(|share| Bar {
            label: share.key.clone(),
            fraction: share.share,
            text: format!("{} ({})", share.count, percent(share.share)),
        })
        .collect()
}

fn rate_bar(label: &str, numerator: u64, denominator: u64, rate: f64) -> Bar {
    Bar {
        label: label.to_owned(),
        fraction: rate,
        text: if denominator == 0 {
            "–".to_owned()
        } else {
            format!("{} ({numerator}/{denominator})", percent(rate))
        },
    }
}

fn problems_table(html: &mut String, title: &str, problems: &[TopProblem]) {
    let _ = write!(
        html,
        r#"<h3>{}</h3><table><tr><th class="text">key</th><th>tickets</th><th>reporters</th><th>share</th><th>complaints</th><th>share of complaints</th><th class="text">priority</th></tr>"#,
        escape(title)
    );
    if problems.is_empty() {
        html.push_str(r#"<tr><td class="text" colspan="7">none</td></tr>"#);
    }
    for problem in problems {
        let _ = write!(
            html,
            r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="text">{}</td></tr>"#,
            escape(&problem.key),
            problem.count,
            problem.reporters,
            percent(problem.share),
            problem.complaints,
            percent(problem.complaint_share),
            if problem.priority_flag {
                r#"<span class="flag">priority topic</span>"#
            } else {
                ""
            },
        );
    }
    html.push_str("</table>");
}

impl MonthlyReport {
    /// The report as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        let mut html = String::with_capacity(32 * 1024);
        let scope = self.department.as_deref().map_or_else(
            || "all departments".to_owned(),
            |name| format!("department {name}"),
        );
        let _ = write!(
            html,
            r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Monthly report {month} · 月度报告</title><style>{STYLE}</style></head><body>"#,
            month = self.month,
        );
        let _ = write!(
            html,
            r#"<header><h1>Monthly report {month} · 月度报告</h1><p class="meta">{scope} · tickets received from {start} to {end} (UTC) · computed at log position <b id="log-position">{position}</b>, configuration <b id="config-version">{config}</b>, calendar {calendar}, deadlines judged as of {as_of}</p></header>"#,
            month = self.month,
            scope = escape(&scope),
            start = self.month_start.format("%Y-%m-%d %H:%M"),
            end = self.month_end.format("%Y-%m-%d %H:%M"),
            position = self.log_position,
            config = escape(&self.config_version),
            calendar = escape(&self.calendar_version),
            as_of = self.as_of.format("%Y-%m-%d %H:%M:%S UTC"),
        );

        // Headline figures with their month-on-month change.
        html.push_str(r#"<section id="headline"><h2>Headline figures</h2><div class="cards">"#);
        for change in &self.month_on_month {
            let is_count = change.name == "tickets";
            let is_score = change.name == "satisfaction_mean";
            let show = |value: f64| {
                if is_count {
                    format!("{value:.0}")
                } else if is_score {
                    format!("{value:.2}")
                } else {
                    percent(value)
                }
            };
            let delta = if is_count {
                format!("{:+.0}", change.change)
            } else if is_score {
                format!("{:+.2}", change.change)
            } else {
                format!("{:+.1} pt", change.change * 100.0)
            };
            // Green for better, red for worse: a lower reopen rate is better, and the number
            // of tickets is neither.
            let better = match change.name.as_str() {
                "tickets" => 0.0,
                "reopen_rate" => -change.change,
                _ => change.change,
            };
            let class = if better > 0.0 {
                "up"
            } else if better < 0.0 {
                "down"
            } else {
                "flat"
            };
            let _ = write!(
                html,
                r#"<div class="card"><div class="label">{name}</div><div class="value">{value}</div><div class="{class}">{delta} vs {previous}</div></div>"#,
                name = escape(&change.name.replace('_', " ")),
                value = show(change.current),
                previous = show(change.previous),
            );
        }
        html.push_str("</div></section>");

        // Targets.
        html.push_str(r#"<section id="targets"><h2>Targets</h2><table><tr><th class="text">target</th><th>goal</th><th>actual</th><th class="text">status</th><th class="text">what was measured</th></tr>"#);
        for target in &self.targets {
            let (goal, actual) = if target.name == "satisfaction" {
                (
                    format!("≥ {:.1} or ≥ 90% satisfied", target.target),
                    format!("{:.2}", target.actual),
                )
            } else {
                (
                    format!("≥ {}", percent(target.target)),
                    percent(target.actual),
                )
            };
            let _ = write!(
                html,
                r#"<tr><td class="text">{name}</td><td>{goal}</td><td>{actual}</td><td class="text"><span class="{class}">{status}</span></td><td class="text">{detail}</td></tr>"#,
                name = escape(&target.name.replace('_', " ")),
                goal = escape(&goal),
                class = if target.met { "met" } else { "missed" },
                status = if target.met { "met" } else { "missed" },
                detail = escape(&target.detail),
            );
        }
        html.push_str("</table></section>");

        // Shares.
        let kind_slices: Vec<(String, u64)> = self
            .by_kind
            .iter()
            .map(|share| (share.key.clone(), share.count))
            .collect();
        let _ = write!(
            html,
            r#"<section id="shares"><h2>Shares · {tickets} tickets, {complaints} complaints</h2><div class="grid"><div><h3>By kind</h3>{kind}</div><div><h3>By channel</h3>{channel}</div><div><h3>By content type</h3>{content}</div><div><h3>By priority</h3>{priority}</div></div></section>"#,
            tickets = self.tickets,
            complaints = self.complaints,
            kind = pie_chart("tickets by kind", &kind_slices),
            channel = bar_chart(
                "tickets by channel",
                &share_bars(&self.by_channel),
                PALETTE[0]
            ),
            content = bar_chart(
                "tickets by content type",
                &share_bars(&self.by_content_type),
                PALETTE[2]
            ),
            priority = bar_chart(
                "tickets by priority",
                &share_bars(&self.by_priority),
                PALETTE[3]
            ),
        );

        // On-time rates.
        let mut rows: Vec<(String, Bar, Bar)> = vec![(
            "all".to_owned(),
            rate_bar(
                "response",
                self.on_time.responded_on_time,
                self.on_time.response_due,
                self.on_time.response_on_time_rate,
            ),
            rate_bar(
                "resolution",
                self.on_time.resolved_on_time,
                self.on_time.resolution_due,
                self.on_time.resolution_on_time_rate,
            ),
        )];
        for rates in &self.on_time_by_priority {
            let label = rates.priority.map_or("all", |priority| priority.as_str());
            rows.push((
                label.to_owned(),
                rate_bar(
                    "response",
                    rates.responded_on_time,
                    rates.response_due,
                    rates.response_on_time_rate,
                ),
                rate_bar(
                    "resolution",
                    rates.resolved_on_time,
                    rates.resolution_due,
                    rates.resolution_on_time_rate,
                ),
            ));
        }
        let _ = write!(
            html,
            r#"<section id="on-time"><h2>On-time rates per priority</h2>{}"#,
            paired_bar_chart(
                "on-time rates per priority",
                ["response on time", "resolution on time"],
                &rows
            )
        );
        html.push_str(r#"<table><tr><th class="text">priority</th><th>received</th><th>responded</th><th>response on time</th><th>resolved</th><th>resolution rate</th><th>resolution on time</th></tr>"#);
        for rates in std::iter::once(&self.on_time).chain(self.on_time_by_priority.iter()) {
            let _ = write!(
                html,
                r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                rates.priority.map_or("all", |priority| priority.as_str()),
                rates.received,
                rates.responded,
                if rates.response_due == 0 {
                    "–".to_owned()
                } else {
                    percent(rates.response_on_time_rate)
                },
                rates.resolved,
                if rates.received == 0 {
                    "–".to_owned()
                } else {
                    percent(rates.resolution_rate)
                },
                if rates.resolution_due == 0 {
                    "–".to_owned()
                } else {
                    percent(rates.resolution_on_time_rate)
                },
            );
        }
        html.push_str("</table></section>");

        // Satisfaction.
        let largest = self
            .satisfaction
            .distribution
            .iter()
            .map(|score| score.count)
            .max()
            .unwrap_or(0);
        let score_bars: Vec<Bar> = self
            .satisfaction
            .distribution
            .iter()
            .map(|score| Bar {
                label: format!("{} ★", score.score),
                fraction: if largest == 0 {
                    0.0
                } else {
                    score.count as f64 / largest as f64
                },
                text: score.count.to_string(),
            })
            .collect();
        let _ = write!(
            html,
            r#"<section id="satisfaction"><h2>Satisfaction</h2><p>{reviews} reviewed tickets · mean <b>{mean:.2}</b> of 5 · {satisfied} satisfied (score ≥ {threshold}) · {reopened} reopened for a second round ({reopen})</p>{chart}</section>"#,
            reviews = self.satisfaction.reviews,
            mean = self.satisfaction.mean,
            satisfied = percent(self.satisfaction.share_satisfied),
            threshold = self.satisfied_threshold,
            reopened = self.reopened,
            reopen = percent(self.reopen_rate),
            chart = bar_chart("satisfaction distribution", &score_bars, PALETTE[4]),
        );

        // Top problems.
        let keyword_bars: Vec<Bar> = self
            .top_keywords
            .iter()
            .map(|problem| Bar {
                label: problem.key.clone(),
                fraction: problem.share,
                text: format!("{} ({})", problem.count, percent(problem.share)),
            })
            .collect();
        let _ = write!(
            html,
            r#"<section id="top-problems"><h2>Most frequent problems</h2><p>{} distinct problems from {} reporters: tickets linked to a problem count once, with their reporters. A keyword or product on more than {} of the month's complaints is a priority topic.</p>{}"#,
            self.distinct_problems,
            self.reporters,
            percent(self.priority_share_threshold),
            bar_chart("top keywords", &keyword_bars, PALETTE[1]),
        );
        problems_table(&mut html, "Keywords", &self.top_keywords);
        problems_table(&mut html, "Products", &self.top_products);
        html.push_str("</section>");

        // Departments.
        html.push_str(r#"<section id="departments"><h2>Departments</h2><table><tr><th class="text">department</th><th>volume</th><th>median first response</th><th>p90 first response</th><th>median (working time)</th><th>resolution rate</th><th>on-time rate</th><th>satisfaction</th><th>satisfied</th></tr>"#);
        for kpi in &self.departments {
            let _ = write!(
                html,
                r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                escape(&kpi.department),
                kpi.volume,
                optional_duration(kpi.median_first_response_ms),
                optional_duration(kpi.p90_first_response_ms),
                optional_duration(kpi.median_first_response_working_ms),
                if kpi.volume == 0 {
                    "–".to_owned()
                } else {
                    percent(kpi.resolution_rate)
                },
                if kpi.response_due + kpi.resolution_due == 0 {
                    "–".to_owned()
                } else {
                    percent(kpi.on_time_rate)
                },
                if kpi.reviews == 0 {
                    "–".to_owned()
                } else {
                    format!("{:.2}", kpi.satisfaction_mean)
                },
                if kpi.reviews == 0 {
                    "–".to_owned()
                } else {
                    percent(kpi.share_satisfied)
                },
            );
        }
        html.push_str("</table>");
        if self.unassigned > 0 {
            let _ = write!(
                html,
                r#"<p class="meta">Tickets without a department yet: {}.</p>"#,
                self.unassigned
            );
        }
        html.push_str("</section>");

        // Adopted suggestions.
        let _ = write!(
            html,
            r#"<section id="adopted"><h2>Adopted suggestions</h2><p>{} adopted or planned, {} customers told.</p><table><tr><th class="text">ticket</th><th class="text">department</th><th class="text">customer</th><th class="text">suggestion</th><th class="text">solution</th><th class="text">outcome</th><th class="text">customer told</th></tr>"#,
            self.adopted_count, self.adopted_customers_told
        );
        if self.adopted_suggestions.is_empty() {
            html.push_str(r#"<tr><td class="text" colspan="7">none</td></tr>"#);
        }
        for adopted in &self.adopted_suggestions {
            let _ = write!(
                html,
                r#"<tr><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td></tr>"#,
                escape(&adopted.ticket_id),
                escape(&adopted.department),
                escape(&adopted.customer_display_name),
                escape(&adopted.content),
                escape(&adopted.solution),
                adopted.outcome.as_str(),
                if adopted.customer_told { "yes" } else { "no" },
            );
        }
        html.push_str("</table></section>");

        let _ = write!(
            html,
            r#"<footer class="meta"><p>Regenerate exactly from the workflow's event log: <code>cloop report monthly --month {month}{department} --db workflow.db --at-position {position}</code>. Definitions of every figure: docs/reports.md.</p></footer></body></html>"#,
            month = self.month,
            department = self
                .department
                .as_deref()
                .map(|name| format!(" --department {}", escape(name)))
                .unwrap_or_default(),
            position = self.log_position,
        );
        html.push('\n');
        html
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(35_000), "35 s");
        assert_eq!(human_duration(14 * 60_000), "14 min");
        assert_eq!(human_duration(2 * 3_600_000 + 5 * 60_000), "2 h 05 min");
        assert_eq!(human_duration(26 * 3_600_000), "1 d 02 h");
        assert_eq!(human_duration(-5), "0 s");
    }
}
