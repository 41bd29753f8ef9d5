//! The monthly report as text for a terminal: a walk over the report's sections
//! ([`reports::sections`]), each laid out as a table or a line, its labels in the view's
//! language ([`reports::Lang`]).

use super::View;
use crate::style::{Paint, Style};
use crate::table::{truncate, Table};
use reports::sections::{
    percent, yes_no, Adopted, Departments, HeadlineFigure, OnTimeRow, ProblemTable, Satisfaction,
    Section, Shares, TargetRow,
};
use reports::Lang;

/// The monthly report as text for a terminal: headline, targets, shares, on-time rates,
/// satisfaction, top problems, departments and adopted suggestions.
pub fn report_text(report: &reports::MonthlyReport, view: &View) -> String {
    let (style, lang) = (view.style, view.lang);
    let mut text = format!(
        "{}\n{} · {} {} · {} {} · {} {}\n\n",
        style.paint(
            Paint::Bold,
            &format!(
                "{} {}{}",
                lang.tr("Monthly report"),
                report.month,
                report
                    .department
                    .as_deref()
                    .map(|name| format!(" · {name}"))
                    .unwrap_or_default()
            )
        ),
        lang.pick(
            format!("工单 {} 件，投诉 {} 件", report.tickets, report.complaints),
            format!(
                "{} tickets, {} complaints",
                report.tickets, report.complaints
            ),
        ),
        lang.tr("log position"),
        report.log_position,
        lang.tr("configuration"),
        report.config_version,
        lang.tr("deadlines judged as of"),
        view.instant_text(report.as_of),
    );
    for (index, section) in report.sections().enumerate() {
        if index > 0 {
            text.push('\n');
        }
        let shown = match section {
            Section::Headline(figures) => headline(&figures, lang),
            Section::Targets(targets) => targets_table(&targets, style, lang),
            Section::Shares(shares) => shares_tables(&shares, lang),
            Section::OnTime(rows) => on_time(&rows, lang),
            Section::Satisfaction(satisfaction) => satisfaction_lines(&satisfaction, lang),
            Section::Problems(tables) => problems(&tables, style, lang),
            Section::Departments(departments) => departments_table(&departments, lang),
            Section::Adopted(adopted) => adopted_lines(&adopted, lang),
        };
        text.push_str(&shown);
    }
    text
}

/// The column headers in `lang`: upper case in English ("THIS MONTH"), as they are in Chinese.
fn headers(lang: Lang, labels: &[&str]) -> Vec<String> {
    labels
        .iter()
        .map(|label| match lang {
            Lang::En => label.to_uppercase(),
            Lang::Zh => lang.tr(label).to_owned(),
        })
        .collect()
}

/// A table with headers in `lang`.
fn table(lang: Lang, labels: &[&str]) -> Table {
    let headers = headers(lang, labels);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    Table::new(&headers)
}

fn headline(figures: &[HeadlineFigure<'_>], lang: Lang) -> String {
    let mut table =
        table(lang, &["figure", "this month", "last month", "change"]).right(&[1, 2, 3]);
    for figure in figures {
        table.row(vec![
            figure.label(lang),
            figure.current(),
            figure.previous(),
            figure.delta(lang),
        ]);
    }
    table.render()
}

fn targets_table(targets: &[TargetRow<'_>], style: Style, lang: Lang) -> String {
    let mut table = table(
        lang,
        &["target", "goal", "actual", "status", "what was measured"],
    );
    for target in targets {
        let paint = if target.0.met {
            Paint::Green
        } else {
            Paint::Red
        };
        table.row(vec![
            target.label(lang),
            target.goal(lang),
            target.actual(),
            style.paint(paint, target.status_text(lang)),
            target.detail(lang),
        ]);
    }
    table.render()
}

/// One table a dimension, separated by blank lines.
fn shares_tables(shares: &Shares<'_>, lang: Lang) -> String {
    let tables: Vec<String> = shares
        .tables()
        .iter()
        .map(|dimension| {
            let mut table = table(lang, &[dimension.name, "tickets", "share"]).right(&[1, 2]);
            for share in dimension.shares {
                table.row(vec![
                    lang.tr(&share.key).to_owned(),
                    share.count.to_string(),
                    percent(share.share),
                ]);
            }
            table.render()
        })
        .collect();
    tables.join("\n")
}

fn on_time(rows: &[OnTimeRow<'_>], lang: Lang) -> String {
    let mut table = table(
        lang,
        &[
            "priority",
            "received",
            "response on time",
            "resolved",
            "resolution rate",
            "resolution on time",
        ],
    )
    .right(&[1, 2, 3, 4, 5]);
    for row in rows {
        table.row(vec![
            lang.tr(row.label()).to_owned(),
            row.0.received.to_string(),
            row.response_with_counts(),
            row.0.resolved.to_string(),
            row.resolution_rate(),
            row.resolution_with_counts(),
        ]);
    }
    table.render()
}

/// The ratings in one line, then a bar of each score.
fn satisfaction_lines(satisfaction: &Satisfaction<'_>, lang: Lang) -> String {
    let summary = satisfaction.summary;
    let mut text = match lang {
        Lang::En => format!(
            "satisfaction: mean {:.2} over {} reviews (every round's), {} satisfied · reopened {} ({} of reviewed tickets)\n",
            summary.mean,
            summary.reviews,
            percent(summary.share_satisfied),
            satisfaction.reopened,
            percent(satisfaction.reopen_rate)
        ),
        Lang::Zh => format!(
            "满意度：{} 条评价（含每一轮）平均 {:.2} 分，满意占 {} · 重开 {} 件（占已评价工单的 {}）\n",
            summary.reviews,
            summary.mean,
            percent(summary.share_satisfied),
            satisfaction.reopened,
            percent(satisfaction.reopen_rate)
        ),
    };
    let largest = satisfaction.largest_count().max(1);
    for score in &summary.distribution {
        let bar = "█".repeat(((score.count * 30).div_ceil(largest)) as usize);
        let line = format!("  {} {:>5}  {bar}", score.score, score.count);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn problems(tables: &[ProblemTable<'_>; 3], style: Style, lang: Lang) -> String {
    // The terms' table is left out when it is empty (term extraction off, or a report of
    // tickets received before terms were extracted), as it printed before terms existed.
    let tables: Vec<String> = tables
        .iter()
        .filter(|problems| problems.name != "term" || !problems.problems.is_empty())
        .map(|problems| {
            let mut table = table(
                lang,
                &[
                    problems.name,
                    "tickets",
                    "share",
                    "of complaints",
                    "priority",
                ],
            )
            .right(&[1, 2, 3]);
            for problem in problems.problems {
                table.row(vec![
                    problem.key.clone(),
                    problem.count.to_string(),
                    percent(problem.share),
                    percent(problem.complaint_share),
                    if problem.priority_flag {
                        style.paint(Paint::Red, lang.tr("priority topic"))
                    } else {
                        String::new()
                    },
                ]);
            }
            table.render()
        })
        .collect();
    tables.join("\n")
}

fn departments_table(departments: &Departments<'_>, lang: Lang) -> String {
    let mut table = table(
        lang,
        &[
            "department",
            "volume",
            "median first response",
            "p90 first response",
            "resolution rate",
            "on time",
            "satisfaction",
        ],
    )
    .right(&[1, 2, 3, 4, 5, 6]);
    for row in &departments.rows {
        table.row(vec![
            row.0.department.clone(),
            row.0.volume.to_string(),
            row.median_first_response(),
            row.p90_first_response(),
            row.resolution_rate(),
            row.on_time_rate(),
            row.satisfaction_mean(),
        ]);
    }
    table.render()
}

/// The adopted suggestions and the closed loop in one line, then the suggestions listed.
fn adopted_lines(adopted: &Adopted<'_>, lang: Lang) -> String {
    let mut text = match lang {
        Lang::En => format!(
            "adopted suggestions: {} ({} customers told) · archived {} · closed loop {}\n",
            adopted.count,
            adopted.customers_told,
            adopted.archived,
            percent(adopted.closed_loop_rate)
        ),
        Lang::Zh => format!(
            "采纳的建议：{} 条（已告知客户 {} 位）· 已归档 {} · 闭环率 {}\n",
            adopted.count,
            adopted.customers_told,
            adopted.archived,
            percent(adopted.closed_loop_rate)
        ),
    };
    text.push_str(&adopted.evaluation_line(lang));
    text.push('\n');
    if !adopted.suggestions.is_empty() {
        let mut table = table(
            lang,
            &["ticket", "department", "outcome", "told", "suggestion"],
        );
        for suggestion in adopted.suggestions {
            table.row(vec![
                suggestion.ticket_id.clone(),
                suggestion.department.clone(),
                lang.tr(suggestion.outcome.as_str()).to_owned(),
                lang.tr(yes_no(suggestion.customer_told)).to_owned(),
                truncate(&suggestion.content, 40),
            ]);
        }
        text.push_str(&table.render());
    }
    text
}
