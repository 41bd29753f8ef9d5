//! Why a ticket has the deadlines it has.

use super::{duration_ms, human_duration, or_dash, View};
use crate::names::{priority_text, sla_text};
use crate::table::key_values;
use proto::v1;

/// Why a ticket has the deadlines it has.
pub fn sla_text_view(explained: &v1::ExplainSlaResponse, view: &View) -> String {
    let ticket_id = explained
        .ticket
        .as_ref()
        .map(|ticket| ticket.ticket_id.clone())
        .unwrap_or_default();
    let within = |duration: Option<&prost_types::Duration>, around: bool| {
        duration_ms(duration).map_or_else(
            || "–".to_owned(),
            |milliseconds| {
                format!(
                    "{} ({})",
                    human_duration(milliseconds),
                    if around { "24x7" } else { "working time" }
                )
            },
        )
    };
    let mut pairs = vec![
        ("ticket", ticket_id),
        ("priority", or_dash(priority_text(explained.priority))),
        ("sla row", or_dash(explained.sla_row.clone())),
        (
            "respond within",
            within(
                explained.respond_within.as_ref(),
                explained.respond_around_the_clock,
            ),
        ),
        (
            "resolve within",
            if explained.resolve_working_days > 0 {
                format!("{} working days", explained.resolve_working_days)
            } else {
                within(
                    explained.resolve_within.as_ref(),
                    explained.resolve_around_the_clock,
                )
            },
        ),
        (
            "clock started",
            view.time(explained.clock_started_at.as_ref()),
        ),
        (
            "warn respond at",
            view.time(explained.warn_respond_at.as_ref()),
        ),
        ("respond by", view.time(explained.respond_by.as_ref())),
        (
            "warn resolve at",
            view.time(explained.warn_resolve_at.as_ref()),
        ),
        ("resolve by", view.time(explained.resolve_by.as_ref())),
        ("sla", view.style.sla(&sla_text(explained.sla_state))),
        (
            "versions",
            format!(
                "policy {}, calendar {}",
                or_dash(explained.policy_version.clone()),
                or_dash(explained.calendar_version.clone())
            ),
        ),
    ];
    for pause in &explained.pauses {
        pairs.push((
            "paused",
            format!(
                "{} to {}: {}",
                view.time(pause.from.as_ref()),
                view.time(pause.to.as_ref()),
                pause.reason
            ),
        ));
    }
    let mut text = key_values(&pairs);
    if !explained.reasons.is_empty() {
        text.push('\n');
        for reason in &explained.reasons {
            text.push_str("  · ");
            text.push_str(reason);
            text.push('\n');
        }
    }
    text
}
