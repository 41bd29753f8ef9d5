//! The live queue: open tickets, overdue first.

use super::{next_due, ticket_table, View};
use crate::style::Paint;
use proto::v1;

/// The order of the live queue: breached first, then warning, then on time; within each,
/// the nearest deadline first, then the ticket id.
pub fn queue_order(left: &v1::Ticket, right: &v1::Ticket) -> std::cmp::Ordering {
    let urgency = |ticket: &v1::Ticket| match v1::SlaState::try_from(ticket.sla_state) {
        Ok(v1::SlaState::Breached) => 0,
        Ok(v1::SlaState::Warning) => 1,
        _ => 2,
    };
    let due = |ticket: &v1::Ticket| {
        next_due(ticket).map_or((i64::MAX, 0), |due| (due.seconds, due.nanos))
    };
    urgency(left)
        .cmp(&urgency(right))
        .then_with(|| due(left).cmp(&due(right)))
        .then_with(|| left.ticket_id.cmp(&right.ticket_id))
}

/// The live queue: a heading line, then the open tickets, overdue first.
pub fn queue(tickets: &[v1::Ticket], heading: &str, view: &View) -> String {
    let mut sorted: Vec<v1::Ticket> = tickets
        .iter()
        .filter(|ticket| ticket.step != v1::Step::Archive as i32)
        .cloned()
        .collect();
    sorted.sort_by(queue_order);
    let breached = sorted
        .iter()
        .filter(|ticket| ticket.sla_state == v1::SlaState::Breached as i32)
        .count();
    let warning = sorted
        .iter()
        .filter(|ticket| ticket.sla_state == v1::SlaState::Warning as i32)
        .count();
    let mut text = format!(
        "{heading} · {} open · {} · {}\n\n",
        sorted.len(),
        if breached > 0 {
            view.style
                .paint(Paint::Red, &format!("{breached} breached"))
        } else {
            "0 breached".to_owned()
        },
        if warning > 0 {
            view.style
                .paint(Paint::Yellow, &format!("{warning} warning"))
        } else {
            "0 warning".to_owned()
        },
    );
    text.push_str(&ticket_table(&sorted, view));
    text
}
