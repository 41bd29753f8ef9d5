//! The monthly report as text for a terminal.

use super::{human_duration, percent, rate_with_counts, View};
use crate::style::Paint;
use crate::table::{truncate, Table};

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

    let mut headline =
        Table::new(&["FIGURE", "THIS MONTH", "LAST MONTH", "CHANGE"]).right(&[1, 2, 3]);
    for change in &report.month_on_month {
        let (current, previous, delta) = match change.name.as_str() {
            "tickets" => (
                format!("{:.0}", change.current),
                format!("{:.0}", change.previous),
                format!("{:+.0}", change.change),
            ),
            "satisfaction_mean" => (
                format!("{:.2}", change.current),
                format!("{:.2}", change.previous),
                format!("{:+.2}", change.change),
            ),
            _ => (
                percent(change.current),
                percent(change.previous),
                format!("{:+.1} pt", change.change * 100.0),
            ),
        };
        headline.row(vec![
            change.name.replace('_', " "),
            current,
            previous,
            delta,
        ]);
    }
    text.push_str(&headline.render());

    text.push('\n');
    let mut targets = Table::new(&["TARGET", "GOAL", "ACTUAL", "STATUS", "MEASURED"]);
    for target in &report.targets {
        let (goal, actual) = if target.name == "satisfaction" {
            (
                format!("≥ {:.1} or ≥ 90%", target.target),
                format!("{:.2}", target.actual),
            )
        } else {
            (
                format!("≥ {}", percent(target.target)),
                percent(target.actual),
            )
        };
        targets.row(vec![
            target.name.replace('_', " "),
            goal,
            actual,
            if target.met {
                style.paint(Paint::Green, "met")
            } else {
                style.paint(Paint::Red, "missed")
            },
            target.detail.clone(),
        ]);
    }
    text.push_str(&targets.render());

    for (title, shares) in [
        ("KIND", &report.by_kind),
        ("CONTENT TYPE", &report.by_content_type),
        ("CHANNEL", &report.by_channel),
        ("PRIORITY", &report.by_priority),
    ] {
        text.push('\n');
        let mut table = Table::new(&[title, "TICKETS", "SHARE"]).right(&[1, 2]);
        for share in shares.iter() {
            table.row(vec![
                share.key.clone(),
                share.count.to_string(),
                percent(share.share),
            ]);
        }
        text.push_str(&table.render());
    }

    text.push('\n');
    let mut on_time = Table::new(&[
        "PRIORITY",
        "RECEIVED",
        "RESPONSE ON TIME",
        "RESOLVED",
        "RESOLUTION RATE",
        "RESOLUTION ON TIME",
    ])
    .right(&[1, 2, 3, 4, 5]);
    for rates in std::iter::once(&report.on_time).chain(report.on_time_by_priority.iter()) {
        on_time.row(vec![
            rates
                .priority
                .map_or("all", |priority| priority.as_str())
                .to_owned(),
            rates.received.to_string(),
            rate_with_counts(
                rates.response_on_time_rate,
                rates.responded_on_time,
                rates.response_due,
            ),
            rates.resolved.to_string(),
            if rates.received == 0 {
                "–".to_owned()
            } else {
                percent(rates.resolution_rate)
            },
            rate_with_counts(
                rates.resolution_on_time_rate,
                rates.resolved_on_time,
                rates.resolution_due,
            ),
        ]);
    }
    text.push_str(&on_time.render());

    let satisfaction = &report.satisfaction;
    text.push_str(&format!(
        "\nsatisfaction: mean {:.2} over {} reviews, {} satisfied · reopened {} ({} of reviewed)\n",
        satisfaction.mean,
        satisfaction.reviews,
        percent(satisfaction.share_satisfied),
        report.reopened,
        percent(report.reopen_rate)
    ));
    let largest = satisfaction
        .distribution
        .iter()
        .map(|score| score.count)
        .max()
        .unwrap_or(0)
        .max(1);
    for score in &satisfaction.distribution {
        let bar = "█".repeat(((score.count * 30).div_ceil(largest)) as usize);
        let line = format!("  {} {:>5}  {bar}", score.score, score.count);
        text.push_str(line.trim_end());
        text.push('\n');
    }

    for (title, problems) in [
        ("KEYWORD", &report.top_keywords),
        ("PRODUCT", &report.top_products),
    ] {
        text.push('\n');
        let mut table =
            Table::new(&[title, "TICKETS", "SHARE", "OF COMPLAINTS", "PRIORITY"]).right(&[1, 2, 3]);
        for problem in problems.iter() {
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
        text.push_str(&table.render());
    }

    text.push('\n');
    let mut departments = Table::new(&[
        "DEPARTMENT",
        "VOLUME",
        "MEDIAN 1ST RESPONSE",
        "P90 1ST RESPONSE",
        "RESOLUTION RATE",
        "ON TIME",
        "SATISFACTION",
    ])
    .right(&[1, 2, 3, 4, 5, 6]);
    for kpi in &report.departments {
        departments.row(vec![
            kpi.department.clone(),
            kpi.volume.to_string(),
            kpi.median_first_response_ms
                .map_or_else(|| "–".to_owned(), human_duration),
            kpi.p90_first_response_ms
                .map_or_else(|| "–".to_owned(), human_duration),
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
        ]);
    }
    text.push_str(&departments.render());

    text.push_str(&format!(
        "\nadopted suggestions: {} ({} customers told) · archived {} · closed loop {}\n",
        report.adopted_count,
        report.adopted_customers_told,
        report.archived,
        percent(report.closed_loop_rate)
    ));
    if !report.adopted_suggestions.is_empty() {
        let mut adopted = Table::new(&["TICKET", "DEPARTMENT", "OUTCOME", "TOLD", "SUGGESTION"]);
        for suggestion in &report.adopted_suggestions {
            adopted.row(vec![
                suggestion.ticket_id.clone(),
                suggestion.department.clone(),
                suggestion.outcome.as_str().to_owned(),
                if suggestion.customer_told {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
                truncate(&suggestion.content, 40),
            ]);
        }
        text.push_str(&adopted.render());
    }
    text
}
