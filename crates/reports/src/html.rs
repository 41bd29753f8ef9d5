//! The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
//! fonts or images from anywhere, so it opens offline and prints as it shows. Its labels are
//! in the reader's language ([`Lang`]); times are in the business calendar's zone, named.

use crate::lang::Lang;
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

fn share_bars(shares: &[CategoryShare], lang: Lang) -> Vec<Bar> {
    shares
        .iter()
        .map(|share| Bar {
            label: lang.tr(&share.key).to_owned(),
            fraction: share.share,
            text: format!("{} ({})", share.count, percent(share.share)),
        })
        .collect()
}

impl MonthlyReport {
    /// The report as one self-contained HTML page in Chinese, the default language
    /// ([`MonthlyReport::to_html_in`]).
    pub fn to_html(&self) -> String {
        self.to_html_in(Lang::default())
    }

    /// The report as one self-contained HTML page with its labels in `lang`: its header, each
    /// section in reading order, and how to regenerate it.
    pub fn to_html_in(&self, lang: Lang) -> String {
        let mut html = String::with_capacity(32 * 1024);
        self.html_header(&mut html, lang);
        for section in self.sections() {
            match section {
                Section::Headline(figures) => headline(&mut html, &figures, lang),
                Section::Targets(targets) => targets_table(&mut html, &targets, lang),
                Section::Shares(shares) => shares_charts(&mut html, &shares, lang),
                Section::OnTime(rows) => on_time(&mut html, &rows, lang),
                Section::Satisfaction(satisfaction) => {
                    satisfaction_chart(&mut html, &satisfaction, lang);
                }
                Section::Problems(tables) => problems(&mut html, &tables, self, lang),
                Section::Departments(departments) => {
                    departments_table(&mut html, &departments, lang);
                }
                Section::Adopted(adopted) => adopted_table(&mut html, &adopted, lang),
            }
        }
        self.html_footer(&mut html, lang);
        html.push('\n');
        html
    }

    /// The document's head and the report's title with what it was computed from.
    fn html_header(&self, html: &mut String, lang: Lang) {
        let scope = self.department.as_deref().map_or_else(
            || lang.tr("all departments").to_owned(),
            |name| format!("{} {name}", lang.tr("department")),
        );
        let title = match self.period {
            Some(period) => format!("{} {period}", lang.pick("报告", "Report")),
            None => format!("{} {}", lang.tr("Monthly report"), self.month),
        };
        let _ = write!(
            html,
            r#"<!DOCTYPE html><html lang="{tag}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title><style>{STYLE}</style></head><body>"#,
            tag = lang.html_tag(),
        );
        let _ = write!(
            html,
            r#"<header><h1>{title}</h1><p class="meta">{scope} · {received} {start} {to} {end} · {computed} <b id="log-position">{position}</b>, {configuration} <b id="config-version">{config}</b>, {calendar_label} {calendar}, {judged} {as_of}</p></header>"#,
            scope = escape(&scope),
            received = lang.tr("tickets received from"),
            start = self.local_time(self.month_start),
            to = lang.tr("to"),
            end = self.local_time(self.month_end),
            computed = lang.tr("computed at log position"),
            position = self.log_position,
            configuration = lang.tr("configuration"),
            config = escape(&self.config_version),
            calendar_label = lang.tr("calendar"),
            calendar = escape(&self.calendar_version),
            judged = lang.tr("deadlines judged as of"),
            as_of = self.local_time(self.as_of),
        );
    }

    /// How to regenerate the report, and the end of the document.
    fn html_footer(&self, html: &mut String, lang: Lang) {
        let _ = write!(
            html,
            r#"<footer class="meta"><p>{regenerate} <code>cloop report {command}{department}{db} --at-position {position}</code>. {definitions}</p></footer></body></html>"#,
            regenerate = lang.tr("Regenerate exactly from the workflow's event log:"),
            definitions = lang.tr("Definitions of every figure: docs/reports.md."),
            command = match self.period {
                Some(crate::Period::Quarter { year, quarter }) => {
                    format!("period --quarter {year:04}-Q{quarter}")
                }
                Some(crate::Period::Range { from, to }) => {
                    format!("period --from {from} --to {to}")
                }
                _ => format!("monthly --month {}", self.month),
            },
            db = if self.period.is_none() {
                " --db workflow.db"
            } else {
                ""
            },
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
fn headline(html: &mut String, figures: &[HeadlineFigure<'_>], lang: Lang) {
    let _ = write!(
        html,
        r#"<section id="headline"><h2>{}</h2><div class="cards">"#,
        lang.tr("Headline figures")
    );
    for figure in figures {
        let class = match figure.trend() {
            Trend::Better => "up",
            Trend::Worse => "down",
            Trend::Neither => "flat",
        };
        let _ = write!(
            html,
            r#"<div class="card"><div class="label">{name}</div><div class="value">{value}</div><div class="{class}">{delta} {vs} {previous}</div></div>"#,
            name = escape(&figure.label(lang)),
            value = figure.current(),
            delta = figure.delta(lang),
            vs = lang.tr("vs"),
            previous = figure.previous(),
        );
    }
    html.push_str("</div></section>");
}

fn targets_table(html: &mut String, targets: &[TargetRow<'_>], lang: Lang) {
    let _ = write!(
        html,
        r#"<section id="targets"><h2>{}</h2><table><tr>{}</tr>"#,
        lang.tr("Targets"),
        header_cells(
            lang,
            &["target", "goal", "actual", "status", "what was measured"],
            &[0, 3, 4]
        ),
    );
    for target in targets {
        let _ = write!(
            html,
            r#"<tr><td class="text">{name}</td><td>{goal}</td><td>{actual}</td><td class="text"><span class="{status}">{status_text}</span></td><td class="text">{detail}</td></tr>"#,
            name = escape(&target.label(lang)),
            goal = escape(&target.goal(lang)),
            actual = target.actual(),
            status = target.status(),
            status_text = target.status_text(lang),
            detail = escape(&target.detail(lang)),
        );
    }
    html.push_str("</table></section>");
}

fn shares_charts(html: &mut String, shares: &Shares<'_>, lang: Lang) {
    let kind_slices: Vec<(String, u64)> = shares
        .kind
        .shares
        .iter()
        .map(|share| (lang.tr(&share.key).to_owned(), share.count))
        .collect();
    let _ = write!(
        html,
        r#"<section id="shares"><h2>{heading} · {counts}</h2><div class="grid"><div><h3>{by_kind}</h3>{kind}</div><div><h3>{by_channel}</h3>{channel}</div><div><h3>{by_content}</h3>{content}</div><div><h3>{by_priority}</h3>{priority}</div></div></section>"#,
        heading = lang.tr("Shares"),
        counts = match lang {
            Lang::En => format!(
                "{} tickets, {} complaints",
                shares.tickets, shares.complaints
            ),
            Lang::Zh => format!("工单 {} 件，投诉 {} 件", shares.tickets, shares.complaints),
        },
        by_kind = lang.tr("By kind"),
        by_channel = lang.tr("By channel"),
        by_content = lang.tr("By content type"),
        by_priority = lang.tr("By priority"),
        kind = pie_chart(lang.tr("By kind"), &kind_slices),
        channel = bar_chart(
            lang.tr("By channel"),
            &share_bars(shares.channel.shares, lang),
            PALETTE[0]
        ),
        content = bar_chart(
            lang.tr("By content type"),
            &share_bars(shares.content_type.shares, lang),
            PALETTE[2]
        ),
        priority = bar_chart(
            lang.tr("By priority"),
            &share_bars(shares.priority.shares, lang),
            PALETTE[3]
        ),
    );
}

/// A table's header row: each label in `lang`, the columns in `text` left-aligned.
fn header_cells(lang: Lang, labels: &[&str], text: &[usize]) -> String {
    let mut cells = String::new();
    for (index, label) in labels.iter().enumerate() {
        let class = if text.contains(&index) {
            r#" class="text""#
        } else {
            ""
        };
        let _ = write!(cells, "<th{class}>{}</th>", escape(lang.tr(label)));
    }
    cells
}

/// On-time rates per priority: a paired bar chart, then the table.
fn on_time(html: &mut String, rows: &[OnTimeRow<'_>], lang: Lang) {
    let bars: Vec<(String, Bar, Bar)> = rows
        .iter()
        .map(|row| {
            (
                lang.tr(row.label()).to_owned(),
                Bar {
                    label: lang.tr("response").to_owned(),
                    fraction: row.0.response_on_time_rate,
                    text: row.response_with_counts(),
                },
                Bar {
                    label: lang.tr("resolution").to_owned(),
                    fraction: row.0.resolution_on_time_rate,
                    text: row.resolution_with_counts(),
                },
            )
        })
        .collect();
    let _ = write!(
        html,
        r#"<section id="on-time"><h2>{}</h2>{}<table><tr>{}</tr>"#,
        lang.tr("On-time rates per priority"),
        paired_bar_chart(
            lang.tr("On-time rates per priority"),
            [lang.tr("response on time"), lang.tr("resolution on time")],
            &bars
        ),
        header_cells(
            lang,
            &[
                "priority",
                "received",
                "responded",
                "response on time",
                "resolved",
                "resolution rate",
                "resolution on time",
            ],
            &[0],
        ),
    );
    for row in rows {
        let _ = write!(
            html,
            r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            lang.tr(row.label()),
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

fn satisfaction_chart(html: &mut String, satisfaction: &Satisfaction<'_>, lang: Lang) {
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
    let line = match lang {
        Lang::En => format!(
            "{} reviews (every round's) · mean <b>{:.2}</b> of 5 · {} satisfied (score ≥ {}) · {} tickets reopened for a second round ({} of reviewed tickets)",
            summary.reviews,
            summary.mean,
            percent(summary.share_satisfied),
            satisfaction.satisfied_threshold,
            satisfaction.reopened,
            percent(satisfaction.reopen_rate),
        ),
        Lang::Zh => format!(
            "{} 条评价（含每一轮）· 平均 <b>{:.2}</b> 分（满分 5）· 满意（≥ {} 分）占 {} · {} 件工单重开进入第二轮（占已评价工单的 {}）",
            summary.reviews,
            summary.mean,
            satisfaction.satisfied_threshold,
            percent(summary.share_satisfied),
            satisfaction.reopened,
            percent(satisfaction.reopen_rate),
        ),
    };
    let _ = write!(
        html,
        r#"<section id="satisfaction"><h2>{heading}</h2><p>{line}</p>{chart}</section>"#,
        heading = lang.tr("Satisfaction"),
        chart = bar_chart(lang.tr("Satisfaction"), &score_bars, PALETTE[4]),
    );
}

/// The most frequent problems: a chart of the keywords, then a table of each kind.
fn problems(html: &mut String, tables: &[ProblemTable<'_>; 3], report: &MonthlyReport, lang: Lang) {
    let (distinct_problems, reporters, threshold) = (
        report.distinct_problems,
        report.reporters,
        percent(report.priority_share_threshold),
    );
    let line = match lang {
        Lang::En => format!("{distinct_problems} distinct problems from {reporters} reporters: tickets linked to a problem count once, with their reporters. A keyword or product on more than {threshold} of the month's complaints is a priority topic."),
        Lang::Zh => format!("{distinct_problems} 个不同问题，{reporters} 位反馈人：关联到同一问题的工单只计一次，反馈人都计入。某关键词或产品占本月投诉超过 {threshold} 即为重点问题。"),
    };
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
        r#"<section id="top-problems"><h2>{}</h2><p>{line}</p>{}"#,
        lang.tr("Most frequent problems"),
        bar_chart(lang.tr("Keywords"), &keyword_bars, PALETTE[1]),
    );
    for table in tables {
        problems_table(html, table, lang);
    }
    html.push_str("</section>");
}

fn problems_table(html: &mut String, table: &ProblemTable<'_>, lang: Lang) {
    let _ = write!(
        html,
        r#"<h3>{}</h3><table><tr>{}</tr>"#,
        escape(&table.heading(lang)),
        header_cells(
            lang,
            &[
                "key",
                "tickets",
                "reporters",
                "share",
                "complaints",
                "share of complaints",
                "priority"
            ],
            &[0, 6],
        ),
    );
    if table.problems.is_empty() {
        let _ = write!(
            html,
            r#"<tr><td class="text" colspan="7">{}</td></tr>"#,
            lang.tr("none")
        );
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
                format!(r#"<span class="flag">{}</span>"#, lang.tr("priority topic"))
            } else {
                String::new()
            },
        );
    }
    html.push_str("</table>");
}

fn departments_table(html: &mut String, departments: &Departments<'_>, lang: Lang) {
    let _ = write!(
        html,
        r#"<section id="departments"><h2>{}</h2><table><tr>{}</tr>"#,
        lang.tr("Departments"),
        header_cells(
            lang,
            &[
                "department",
                "volume",
                "median first response",
                "p90 first response",
                "median (working time)",
                "resolution rate",
                "on-time rate",
                "satisfaction",
                "satisfied",
            ],
            &[0],
        ),
    );
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
            r#"<p class="meta">{} {}</p>"#,
            lang.tr("Tickets without a department yet:"),
            departments.unassigned
        );
    }
    html.push_str("</section>");
}

fn adopted_table(html: &mut String, adopted: &Adopted<'_>, lang: Lang) {
    let line = match lang {
        Lang::En => format!(
            "{} adopted or planned, {} customers told.",
            adopted.count, adopted.customers_told
        ),
        Lang::Zh => format!(
            "已采纳或计划实施 {} 条，已告知客户 {} 位。",
            adopted.count, adopted.customers_told
        ),
    };
    let _ = write!(
        html,
        r#"<section id="adopted"><h2>{}</h2><p>{line}</p><p>{}</p><table><tr>{}</tr>"#,
        lang.tr("Adopted suggestions"),
        escape(&adopted.evaluation_line(lang)),
        header_cells(
            lang,
            &[
                "ticket",
                "department",
                "customer",
                "suggestion",
                "solution",
                "outcome",
                "customer told"
            ],
            &[0, 1, 2, 3, 4, 5, 6],
        ),
    );
    if adopted.suggestions.is_empty() {
        let _ = write!(
            html,
            r#"<tr><td class="text" colspan="7">{}</td></tr>"#,
            lang.tr("none")
        );
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
            lang.tr(suggestion.outcome.as_str()),
            lang.tr(yes_no(suggestion.customer_told)),
        );
    }
    html.push_str("</table></section>");
}
