//! A customer profile (`cloop customer show`): the summary, the automatic tags and every
//! ticket of the customer the caller may see. No contact data: the profile holds none.

use super::{or_dash, stars, timestamp_json, View};
use crate::names::{kind_text, outcome_text, step_text};
use crate::table::{key_values, Table};
use proto::v1;
use serde_json::{json, Value};

/// The profile for people.
pub fn customer_text(profile: &v1::CustomerProfile, view: &View) -> String {
    let satisfaction = if profile.satisfaction_count == 0 {
        "–".to_owned()
    } else {
        format!(
            "{:.1} from {} review{}",
            profile.satisfaction_mean,
            profile.satisfaction_count,
            if profile.satisfaction_count == 1 {
                ""
            } else {
                "s"
            }
        )
    };
    let mut text = key_values(&[
        ("tickets", profile.ticket_count.to_string()),
        (
            "complaints",
            format!(
                "{} in the last {} days",
                profile.recent_complaints, profile.recent_complaint_days
            ),
        ),
        ("satisfaction", satisfaction),
        ("vip", if profile.vip { "yes" } else { "no" }.to_owned()),
        ("tags", or_dash(profile.automatic_tags.join(", "))),
        ("staff tags", or_dash(profile.tags.join(", "))),
    ]);
    text.push('\n');
    let mut table = Table::new(&[
        "TICKET",
        "CHANNEL",
        "KIND",
        "STEP",
        "DEPARTMENT",
        "OUTCOME",
        "RATING",
        "CREATED",
    ]);
    for ticket in &profile.tickets {
        table.row(vec![
            ticket.ticket_id.clone(),
            ticket.channel.clone(),
            or_dash(kind_text(ticket.kind)),
            step_text(ticket.step),
            or_dash(ticket.department.clone()),
            or_dash(outcome_text(ticket.outcome)),
            if ticket.satisfaction == 0 {
                "–".to_owned()
            } else {
                stars(ticket.satisfaction)
            },
            view.time(ticket.created_at.as_ref()),
        ]);
    }
    text.push_str(&table.render());
    text
}

/// The profile for scripts.
pub fn customer_json(profile: &v1::CustomerProfile) -> Value {
    json!({
        "ticket_count": profile.ticket_count,
        "recent_complaints": profile.recent_complaints,
        "recent_complaint_days": profile.recent_complaint_days,
        "satisfaction_count": profile.satisfaction_count,
        "satisfaction_mean": (profile.satisfaction_count > 0).then_some(profile.satisfaction_mean),
        "automatic_tags": profile.automatic_tags,
        "tags": profile.tags,
        "vip": profile.vip,
        "tickets": profile.tickets.iter().map(|ticket| json!({
            "ticket_id": ticket.ticket_id,
            "channel": ticket.channel,
            "kind": kind_text(ticket.kind),
            "step": step_text(ticket.step),
            "department": ticket.department,
            "outcome": outcome_text(ticket.outcome),
            "satisfaction": (ticket.satisfaction > 0).then_some(ticket.satisfaction),
            "created_at": timestamp_json(ticket.created_at.as_ref()),
        })).collect::<Vec<_>>(),
    })
}
