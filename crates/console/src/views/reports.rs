//! The managers' page: today's on-time and breach figures, the monthly report (the report's
//! own HTML page, embedded escaped in a sandboxed frame) and the adopted suggestions.

use super::{outcome, when};
use crate::i18n::{tr, Lang};
use chrono::FixedOffset;
use maud::{html, Markup};
use proto::v1;

/// Today's tickets by SLA state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Today {
    pub received: usize,
    pub on_time: usize,
    pub warning: usize,
    pub breached: usize,
}

impl Today {
    /// Counts tickets by their SLA state.
    pub fn count(tickets: &[v1::Ticket]) -> Self {
        let mut today = Today {
            received: tickets.len(),
            ..Today::default()
        };
        for ticket in tickets {
            match v1::SlaState::try_from(ticket.sla_state) {
                Ok(v1::SlaState::Breached) => today.breached += 1,
                Ok(v1::SlaState::Warning) => today.warning += 1,
                _ => today.on_time += 1,
            }
        }
        today
    }
}

pub fn body(
    lang: Lang,
    month: &str,
    today: Today,
    report_html: Option<&str>,
    adopted: &[v1::AdoptedSuggestion],
    offset: FixedOffset,
) -> Markup {
    html! {
        h1 { (tr(lang, "reports.title")) }
        section aria-labelledby="h-today" {
            h2 id="h-today" { (tr(lang, "reports.today")) }
            dl class="figures" {
                div { dt { (tr(lang, "reports.received")) } dd { (today.received) } }
                div { dt { (tr(lang, "reports.on_time")) } dd { (today.on_time) } }
                div { dt { (tr(lang, "reports.warning")) } dd { (today.warning) } }
                div { dt { (tr(lang, "reports.breached")) } dd { (today.breached) } }
            }
        }
        section aria-labelledby="h-month" {
            h2 id="h-month" { (tr(lang, "reports.monthly")) }
            form method="get" action="/reports" class="filters" {
                label { span { (tr(lang, "reports.month")) } input type="month" name="month" value=(month); }
                button type="submit" { (tr(lang, "reports.show")) }
            }
            @if let Some(report) = report_html {
                iframe class="report" title=(tr(lang, "reports.monthly")) sandbox="" srcdoc=(report) {}
            }
        }
        p { a href="/reports/people" id="people-link" { (tr(lang, "reports.people")) } }
        section aria-labelledby="h-adopted" {
            h2 id="h-adopted" { (tr(lang, "reports.adopted")) }
            @if adopted.is_empty() { p { (tr(lang, "ticket.none")) } }
            ul {
                @for item in adopted {
                    li {
                        strong { (item.ticket_id) } " · " (item.department) " · " (outcome(lang, item.outcome))
                        " · " (when(item.adopted_at.as_ref(), offset))
                        p { (item.content) } p class="hint" { (item.solution) }
                    }
                }
            }
        }
    }
}
