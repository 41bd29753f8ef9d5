//! The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
//! fonts or images from anywhere, so it opens offline and prints as it shows.

use crate::model::{CategoryShare, MonthlyReport};
use crate::sections::{
    percent, yes_no, Adopted, Departments, HeadlineFigure, OnTimeRow, ProblemTable, Satisfaction,
    Section, Shares, TargetRow, Trend,
};
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

impl MonthlyReport {
    /// The report as one self-contained HTML page: its header, each section in reading
    /// order, and how to regenerate it.
    pub fn to_html(&self) -> String {
        let mut html = String::with_capacity(32 * 1024);
        self.html_header(&mut html);
        for section in self.sections() {
            match section {
                Section::Headline(figures) => headline(&mut html, &figures),
                Section::Targets(targets) => targets_table(&mut html, &targets),
                Section::Shares(shares) => shares_charts(&mut html, &shares),
                Section::OnTime(rows) => on_time(&mut html, &rows),
                Section::Satisfaction(satisfaction) => satisfaction_chart(&mut html, &satisfaction),
                Section::Problems(tables) => {
                    problems(
                        &mut html,
                        &tables,
                        self.distinct_problems,
                        self.reporters,
                        self.priority_share_threshold,
                    );
                }
                Section::Departments(departments) => departments_table(&mut html, &departments),
                Section::Adopted(adopted) => adopted_table(&mut html, &adopted),
            }
        }
        self.html_footer(&mut html);
        html.push('\n');
        html
    }

    /// The document's head and the report's title with what it was computed from.
    fn html_header(&self, html: &mut String) {
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
    }

    /// How to regenerate the report, and the end of the document.
    fn html_footer(&self, html: &mut String) {
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
    }
}

/// Headline figures with their month-on-month change: green for better, red for worse.
fn headline(html: &mut String, figures: &[HeadlineFigure<'_>]) {
    html.push_str(r#"<section id="headline"><h2>Headline figures</h2><div class="cards">"#);
    for figure in figures {
        let class = match figure.trend() {
            Trend::Better => "up",
            Trend::Worse => "down",
            Trend::Neither => "flat",
        };
        let _ = write!(
            html,
            r#"<div class="card"><div class="label">{name}</div><div class="value">{value}</div><div class="{class}">{delta} vs {previous}</div></div>"#,
            name = escape(&figure.label()),
            value = figure.current(),
            delta = figure.delta(),
            previous = figure.previous(),
        );
    }
    html.push_str("</div></section>");
}

fn targets_table(html: &mut String, targets: &[TargetRow<'_>]) {
    html.push_str(r#"<section id="targets"><h2>Targets</h2><table><tr><th class="text">target</th><th>goal</th><th>actual</th><th class="text">status</th><th class="text">what was measured</th></tr>"#);
    for target in targets {
        let mut goal = target.goal();
        if target.is_score() {
            goal.push_str(" satisfied");
        }
        let _ = write!(
            html,
            r#"<tr><td class="text">{name}</td><td>{goal}</td><td>{actual}</td><td class="text"><span class="{status}">{status}</span></td><td class="text">{detail}</td></tr>"#,
            name = escape(&target.label()),
            goal = escape(&goal),
            actual = target.actual(),
            status = target.status(),
            detail = escape(&target.0.detail),
        );
    }
    html.push_str("</table></section>");
}

fn shares_charts(html: &mut String, shares: &Shares<'_>) {
    let kind_slices: Vec<(String, u64)> = shares
        .kind
        .shares
        .iter()
        .map(|share| (share.key.clone(), share.count))
        .collect();
    let _ = write!(
        html,
        r#"<section id="shares"><h2>Shares · {tickets} tickets, {complaints} complaints</h2><div class="grid"><div><h3>By kind</h3>{kind}</div><div><h3>By channel</h3>{channel}</div><div><h3>By content type</h3>{content}</div><div><h3>By priority</h3>{priority}</div></div></section>"#,
        tickets = shares.tickets,
        complaints = shares.complaints,
        kind = pie_chart("tickets by kind", &kind_slices),
        channel = bar_chart(
            "tickets by channel",
            &share_bars(shares.channel.shares),
            PALETTE[0]
        ),
        content = bar_chart(
            "tickets by content type",
            &share_bars(shares.content_type.shares),
            PALETTE[2]
        ),
        priority = bar_chart(
            "tickets by priority",
            &share_bars(shares.priority.shares),
            PALETTE[3]
        ),
    );
}

/// On-time rates per priority: a paired bar chart, then the table.
fn on_time(html: &mut String, rows: &[OnTimeRow<'_>]) {
    let bars: Vec<(String, Bar, Bar)> = rows
        .iter()
        .map(|row| {
            (
                row.label().to_owned(),
                Bar {
                    label: "response".to_owned(),
                    fraction: row.0.response_on_time_rate,
                    text: row.response_with_counts(),
                },
                Bar {
                    label: "resolution".to_owned(),
                    fraction: row.0.resolution_on_time_rate,
                    text: row.resolution_with_counts(),
                },
            )
        })
        .collect();
    let _ = write!(
        html,
        r#"<section id="on-time"><h2>On-time rates per priority</h2>{}"#,
        paired_bar_chart(
            "on-time rates per priority",
            ["response on time", "resolution on time"],
            &bars
        )
    );
    html.push_str(r#"<table><tr><th class="text">priority</th><th>received</th><th>responded</th><th>response on time</th><th>resolved</th><th>resolution rate</th><th>resolution on time</th></tr>"#);
    for row in rows {
        let _ = write!(
            html,
            r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            row.label(),
            row.0.received,
            row.0.responded,
            row.response_on_time(),
            row.0.resolved,
            row.resolution_rate(),
            row.resolution_on_time(),
        );
    }
    html.push_str("</table></section>");
}

fn satisfaction_chart(html: &mut String, satisfaction: &Satisfaction<'_>) {
    let largest = satisfaction.largest_count();
    let summary = satisfaction.summary;
    let score_bars: Vec<Bar> = summary
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
        reviews = summary.reviews,
        mean = summary.mean,
        satisfied = percent(summary.share_satisfied),
        threshold = satisfaction.satisfied_threshold,
        reopened = satisfaction.reopened,
        reopen = percent(satisfaction.reopen_rate),
        chart = bar_chart("satisfaction distribution", &score_bars, PALETTE[4]),
    );
}

/// The most frequent problems: a chart of the keywords, then a table of each kind.
fn problems(
    html: &mut String,
    tables: &[ProblemTable<'_>; 2],
    distinct_problems: u64,
    reporters: u64,
    priority_share_threshold: f64,
) {
    let keyword_bars: Vec<Bar> = tables[0]
        .problems
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
        distinct_problems,
        reporters,
        percent(priority_share_threshold),
        bar_chart("top keywords", &keyword_bars, PALETTE[1]),
    );
    for table in tables {
        problems_table(html, table);
    }
    html.push_str("</section>");
}

fn problems_table(html: &mut String, table: &ProblemTable<'_>) {
    let _ = write!(
        html,
        r#"<h3>{}</h3><table><tr><th class="text">key</th><th>tickets</th><th>reporters</th><th>share</th><th>complaints</th><th>share of complaints</th><th class="text">priority</th></tr>"#,
        escape(&table.heading())
    );
    if table.problems.is_empty() {
        html.push_str(r#"<tr><td class="text" colspan="7">none</td></tr>"#);
    }
    for problem in table.problems {
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

fn departments_table(html: &mut String, departments: &Departments<'_>) {
    html.push_str(r#"<section id="departments"><h2>Departments</h2><table><tr><th class="text">department</th><th>volume</th><th>median first response</th><th>p90 first response</th><th>median (working time)</th><th>resolution rate</th><th>on-time rate</th><th>satisfaction</th><th>satisfied</th></tr>"#);
    for row in &departments.rows {
        let _ = write!(
            html,
            r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&row.0.department),
            row.0.volume,
            row.median_first_response(),
            row.p90_first_response(),
            row.median_first_response_working(),
            row.resolution_rate(),
            row.on_time_rate(),
            row.satisfaction_mean(),
            row.share_satisfied(),
        );
    }
    html.push_str("</table>");
    if departments.unassigned > 0 {
        let _ = write!(
            html,
            r#"<p class="meta">Tickets without a department yet: {}.</p>"#,
            departments.unassigned
        );
    }
    html.push_str("</section>");
}

fn adopted_table(html: &mut String, adopted: &Adopted<'_>) {
    let _ = write!(
        html,
        r#"<section id="adopted"><h2>Adopted suggestions</h2><p>{} adopted or planned, {} customers told.</p><table><tr><th class="text">ticket</th><th class="text">department</th><th class="text">customer</th><th class="text">suggestion</th><th class="text">solution</th><th class="text">outcome</th><th class="text">customer told</th></tr>"#,
        adopted.count, adopted.customers_told
    );
    if adopted.suggestions.is_empty() {
        html.push_str(r#"<tr><td class="text" colspan="7">none</td></tr>"#);
    }
    for suggestion in adopted.suggestions {
        let _ = write!(
            html,
            r#"<tr><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td></tr>"#,
            escape(&suggestion.ticket_id),
            escape(&suggestion.department),
            escape(&suggestion.customer_display_name),
            escape(&suggestion.content),
            escape(&suggestion.solution),
            suggestion.outcome.as_str(),
            yes_no(suggestion.customer_told),
        );
    }
    html.push_str("</table></section>");
}
