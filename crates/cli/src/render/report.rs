//! The monthly report as text for a terminal: a walk over the report's sections
//! ([`reports::sections`]), each laid out as a table or a line.

use super::View;
use crate::style::{Paint, Style};
use crate::table::{truncate, Table};
use reports::sections::{
    percent, yes_no, Adopted, Departments, HeadlineFigure, OnTimeRow, ProblemTable, Satisfaction,
    Section, Shares, TargetRow,
};

/// The monthly report as text for a terminal: headline, targets, shares, on-time rates,
/// satisfaction, top problems, departments and adopted suggestions.
pub fn report_text(report: &reports::MonthlyReport, view: &View) -> String {
    let style = view.style;
    let mut text = format!(
        "{}\n{} · log position {} · configuration {} · deadlines judged as of {}\n\n",
        style.paint(
            Paint::Bold,
            &format!(
                "Monthly report {}{}",
                report.month,
                report
                    .department
                    .as_deref()
                    .map(|name| format!(" · {name}"))
                    .unwrap_or_default()
            )
        ),
        format_args!(
            "{} tickets, {} complaints",
            report.tickets, report.complaints
        ),
        report.log_position,
        report.config_version,
        view.instant_text(report.as_of),
    );
    for (index, section) in report.sections().enumerate() {
        if index > 0 {
            text.push('\n');
        }
        let shown = match section {
            Section::Headline(figures) => headline(&figures),
            Section::Targets(targets) => targets_table(&targets, style),
            Section::Shares(shares) => shares_tables(&shares),
            Section::OnTime(rows) => on_time(&rows),
            Section::Satisfaction(satisfaction) => satisfaction_lines(&satisfaction),
            Section::Problems(tables) => problems(&tables, style),
            Section::Departments(departments) => departments_table(&departments),
            Section::Adopted(adopted) => adopted_lines(&adopted),
        };
        text.push_str(&shown);
    }
    text
}

fn headline(figures: &[HeadlineFigure<'_>]) -> String {
    let mut table = Table::new(&["FIGURE", "THIS MONTH", "LAST MONTH", "CHANGE"]).right(&[1, 2, 3]);
    for figure in figures {
        table.row(vec![
            figure.label(),
            figure.current(),
            figure.previous(),
            figure.delta(),
        ]);
    }
    table.render()
}

fn targets_table(targets: &[TargetRow<'_>], style: Style) -> String {
    let mut table = Table::new(&["TARGET", "GOAL", "ACTUAL", "STATUS", "MEASURED"]);
    for target in targets {
        let paint = if target.0.met {
            Paint::Green
        } else {
            Paint::Red
        };
        table.row(vec![
            target.label(),
            target.goal(),
            target.actual(),
            style.paint(paint, target.status()),
            target.0.detail.clone(),
        ]);
    }
    table.render()
}

/// One table a dimension, separated by blank lines.
fn shares_tables(shares: &Shares<'_>) -> String {
    let tables: Vec<String> = shares
        .tables()
        .iter()
        .map(|dimension| {
            let title = dimension.name.to_uppercase();
            let mut table = Table::new(&[&title, "TICKETS", "SHARE"]).right(&[1, 2]);
            for share in dimension.shares {
                table.row(vec![
                    share.key.clone(),
                    share.count.to_string(),
                    percent(share.share),
                ]);
            }
            table.render()
        })
        .collect();
    tables.join("\n")
}

fn on_time(rows: &[OnTimeRow<'_>]) -> String {
    let mut table = Table::new(&[
        "PRIORITY",
        "RECEIVED",
        "RESPONSE ON TIME",
        "RESOLVED",
        "RESOLUTION RATE",
        "RESOLUTION ON TIME",
    ])
    .right(&[1, 2, 3, 4, 5]);
    for row in rows {
        table.row(vec![
            row.label().to_owned(),
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
fn satisfaction_lines(satisfaction: &Satisfaction<'_>) -> String {
    let summary = satisfaction.summary;
    let mut text = format!(
        "satisfaction: mean {:.2} over {} reviews, {} satisfied · reopened {} ({} of reviewed)\n",
        summary.mean,
        summary.reviews,
        percent(summary.share_satisfied),
        satisfaction.reopened,
        percent(satisfaction.reopen_rate)
    );
    let largest = satisfaction.largest_count().max(1);
    for score in &summary.distribution {
        let bar = "█".repeat(((score.count * 30).div_ceil(largest)) as usize);
        let line = format!("  {} {:>5}  {bar}", score.score, score.count);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn problems(tables: &[ProblemTable<'_>; 2], style: Style) -> String {
    let tables: Vec<String> = tables
        .iter()
        .map(|problems| {
            let title = problems.name.to_uppercase();
            let mut table = Table::new(&[&title, "TICKETS", "SHARE", "OF COMPLAINTS", "PRIORITY"])
                .right(&[1, 2, 3]);
            for problem in problems.problems {
                table.row(vec![
                    problem.key.clone(),
                    problem.count.to_string(),
                    percent(problem.share),
                    percent(problem.complaint_share),
                    if problem.priority_flag {
                        style.paint(Paint::Red, "priority topic")
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

fn departments_table(departments: &Departments<'_>) -> String {
    let mut table = Table::new(&[
        "DEPARTMENT",
        "VOLUME",
        "MEDIAN 1ST RESPONSE",
        "P90 1ST RESPONSE",
        "RESOLUTION RATE",
        "ON TIME",
        "SATISFACTION",
    ])
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
fn adopted_lines(adopted: &Adopted<'_>) -> String {
    let mut text = format!(
        "adopted suggestions: {} ({} customers told) · archived {} · closed loop {}\n",
        adopted.count,
        adopted.customers_told,
        adopted.archived,
        percent(adopted.closed_loop_rate)
    );
    if !adopted.suggestions.is_empty() {
        let mut table = Table::new(&["TICKET", "DEPARTMENT", "OUTCOME", "TOLD", "SUGGESTION"]);
        for suggestion in adopted.suggestions {
            table.row(vec![
                suggestion.ticket_id.clone(),
                suggestion.department.clone(),
                suggestion.outcome.as_str().to_owned(),
                yes_no(suggestion.customer_told).to_owned(),
                truncate(&suggestion.content, 40),
            ]);
        }
        text.push_str(&table.render());
    }
    text
}
