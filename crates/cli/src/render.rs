//! Rendering of what the services answer, for people and for scripts: ticket tables and
//! details, the timeline of a ticket's history, the live queue, SLA explanations, submission
//! receipts and the monthly report. Pure functions from data to text or JSON, so snapshot
//! tests render fixed data without a server.

use crate::names::{
    content_type_text, kind_text, language_text, outcome_text, priority_text, role_text,
    scope_text, sla_text, step_text,
};
use crate::style::{Paint, Style};
use crate::table::{key_values, truncate, Table};
use chrono::{DateTime, FixedOffset, Utc};
use proto::v1;
use serde_json::{json, Value};

/// How to show things: the UTC offset instants are printed in, and colours.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub offset: FixedOffset,
    pub style: Style,
}

/// A protobuf timestamp as an instant; `None` when unset or bad ([`proto::time::instant`]).
pub fn instant(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    proto::time::instant(timestamp?).ok()
}

/// A protobuf timestamp as RFC 3339 text in UTC, or JSON null.
pub fn timestamp_json(timestamp: Option<&prost_types::Timestamp>) -> Value {
    instant(timestamp).map_or(Value::Null, |at| {
        Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    })
}

/// A protobuf duration in milliseconds.
pub fn duration_ms(duration: Option<&prost_types::Duration>) -> Option<i64> {
    let duration = duration?;
    Some(
        duration
            .seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(duration.nanos / 1_000_000)),
    )
}

/// A duration in milliseconds as "2 h 05 min", "14 min" or "35 s".
pub fn human_duration(milliseconds: i64) -> String {
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

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// "78.9% (15/19)", or "–" when nothing was due.
fn rate_with_counts(rate: f64, numerator: u64, denominator: u64) -> String {
    if denominator == 0 {
        "–".to_owned()
    } else {
        format!("{} ({numerator}/{denominator})", percent(rate))
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "–".to_owned()
    } else {
        text
    }
}

impl View {
    /// An instant as "2026-11-02 10:00" in the view's offset, or "–".
    pub fn time(&self, timestamp: Option<&prost_types::Timestamp>) -> String {
        instant(timestamp).map_or_else(
            || "–".to_owned(),
            |at| {
                at.with_timezone(&self.offset)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            },
        )
    }

    /// An instant as "2026-11-02 10:00:05" in the view's offset, or "–".
    pub fn time_seconds(&self, timestamp: Option<&prost_types::Timestamp>) -> String {
        instant(timestamp).map_or_else(
            || "–".to_owned(),
            |at| {
                at.with_timezone(&self.offset)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            },
        )
    }

    fn instant_text(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.offset)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// The deadline a ticket is working towards now: respond-by until it is acknowledged, then
/// resolve-by until a solution is accepted; `None` after that.
pub fn next_due(ticket: &v1::Ticket) -> Option<&prost_types::Timestamp> {
    if ticket.step == v1::Step::Archive as i32 {
        return None;
    }
    if ticket.responded_at.is_none() {
        ticket.respond_by.as_ref()
    } else if ticket.resolved_at.is_none() {
        ticket.resolve_by.as_ref()
    } else {
        None
    }
}

/// Tickets as a table: one line each.
pub fn ticket_table(tickets: &[v1::Ticket], view: &View) -> String {
    let mut table = Table::new(&[
        "TICKET",
        "STEP",
        "PRIORITY",
        "KIND",
        "DEPARTMENT",
        "ASSIGNEE",
        "SLA",
        "DUE",
        "CONTENT",
    ]);
    for ticket in tickets {
        table.row(vec![
            ticket.ticket_id.clone(),
            step_text(ticket.step),
            or_dash(priority_text(ticket.priority)),
            or_dash(kind_text(ticket.kind)),
            or_dash(ticket.department.clone()),
            or_dash(ticket.assignee.clone()),
            view.style.sla(&sla_text(ticket.sla_state)),
            next_due(ticket).map_or_else(|| "–".to_owned(), |due| view.time(Some(due))),
            truncate(&ticket.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no tickets\n".to_owned();
    }
    table.render()
}

fn stars(score: u32) -> String {
    let score = score.min(5) as usize;
    format!("{}{}", "★".repeat(score), "☆".repeat(5 - score))
}

/// One ticket in detail.
pub fn ticket_detail(ticket: &v1::Ticket, view: &View) -> String {
    let customer = ticket.customer.clone().unwrap_or_default();
    let reach: Vec<String> = [
        customer.name.clone(),
        customer.phone.clone(),
        customer.email.clone(),
        customer
            .wechat_openid
            .is_empty()
            .then(String::new)
            .unwrap_or_else(|| format!("wechat {}", customer.wechat_openid)),
        customer
            .customer_id
            .is_empty()
            .then(String::new)
            .unwrap_or_else(|| format!("id {}", customer.customer_id)),
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .collect();
    let classification = if ticket.kind == 0 {
        "not classified yet".to_owned()
    } else {
        format!(
            "{} · {} · {} · {}{}",
            kind_text(ticket.kind),
            content_type_text(ticket.content_type),
            priority_text(ticket.priority),
            scope_text(ticket.scope),
            if ticket.complex { " · complex" } else { "" }
        )
    };
    let mut department = or_dash(ticket.department.clone());
    if !ticket.helpers.is_empty() {
        department.push_str(&format!(" (helped by {})", ticket.helpers.join(", ")));
    }
    let deadline = |due: Option<&prost_types::Timestamp>,
                    done: Option<&prost_types::Timestamp>,
                    verb: &str| {
        match instant(done) {
            Some(_) => format!("{} ({verb} {})", view.time(due), view.time(done)),
            None => view.time(due),
        }
    };
    let mut sla = view.style.sla(&sla_text(ticket.sla_state));
    if ticket.sla_paused {
        sla.push_str(" (paused)");
    }
    let mut pairs: Vec<(&str, String)> = vec![
        ("ticket", view.style.paint(Paint::Bold, &ticket.ticket_id)),
        (
            "step",
            format!(
                "{} (round {}, version {})",
                step_text(ticket.step),
                ticket.round.max(1),
                ticket.version
            ),
        ),
        ("channel", or_dash(ticket.channel.clone())),
        ("customer", or_dash(reach.join(", "))),
        ("received", view.time(ticket.created_at.as_ref())),
        ("classification", classification),
        ("keywords", or_dash(ticket.keywords.join(", "))),
        ("product", or_dash(ticket.product.clone())),
        ("order", or_dash(ticket.order_id.clone())),
        ("department", department),
        ("assignee", or_dash(ticket.assignee.clone())),
        (
            "respond by",
            deadline(
                ticket.respond_by.as_ref(),
                ticket.responded_at.as_ref(),
                "responded",
            ),
        ),
        (
            "resolve by",
            deadline(
                ticket.resolve_by.as_ref(),
                ticket.resolved_at.as_ref(),
                "resolved",
            ),
        ),
        ("sla", sla),
    ];
    if ticket.outcome != 0 {
        let mut outcome = outcome_text(ticket.outcome);
        if ticket.awaiting_approval {
            outcome.push_str(" (waiting for the head's approval)");
        }
        pairs.push(("outcome", outcome));
        pairs.push(("solution", truncate(&ticket.solution, 100)));
    }
    if !ticket.decline_reason.is_empty() {
        pairs.push(("declined because", truncate(&ticket.decline_reason, 100)));
    }
    if ticket.satisfaction > 0 {
        let mut review = format!("{} {}/5", stars(ticket.satisfaction), ticket.satisfaction);
        if !ticket.review_comment.is_empty() {
            review.push_str(&format!(": {}", truncate(&ticket.review_comment, 80)));
        }
        pairs.push(("review", review));
    }
    if ticket.escalated {
        pairs.push((
            "escalated",
            view.style
                .paint(Paint::Red, &or_dash(ticket.escalation_reason.clone())),
        ));
    }
    if ticket.archived_at.is_some() {
        pairs.push(("archived", view.time(ticket.archived_at.as_ref())));
    }
    if !ticket.parent_ticket_id.is_empty() {
        let how = if ticket.merged_duplicate {
            "merged into"
        } else {
            "linked to"
        };
        pairs.push(("problem", format!("{how} {}", ticket.parent_ticket_id)));
    }
    if ticket.children_count > 0 {
        pairs.push((
            "reporters",
            format!(
                "{} ({} linked tickets)",
                ticket.children_count + 1,
                ticket.children_count
            ),
        ));
    }
    let mut text = key_values(&pairs);
    text.push('\n');
    for line in ticket.content.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// One ticket as JSON, every field with its stable name.
pub fn ticket_json(ticket: &v1::Ticket) -> Value {
    let customer = ticket.customer.clone().unwrap_or_default();
    let mut value = json!({
        "ticket_id": ticket.ticket_id,
        "version": ticket.version,
        "step": step_text(ticket.step),
        "channel": ticket.channel,
        "customer": {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "phone": customer.phone,
            "email": customer.email,
            "wechat_openid": customer.wechat_openid,
        },
        "content": ticket.content,
        "kind": kind_text(ticket.kind),
        "content_type": content_type_text(ticket.content_type),
        "priority": priority_text(ticket.priority),
        "scope": scope_text(ticket.scope),
        "department": ticket.department,
        "complex": ticket.complex,
        "classification_confidence": ticket.classification_confidence,
        "department": ticket.department,
        "helpers": ticket.helpers,
        "respond_by": timestamp_json(ticket.respond_by.as_ref()),
        "resolve_by": timestamp_json(ticket.resolve_by.as_ref()),
        "responded_at": timestamp_json(ticket.responded_at.as_ref()),
        "resolved_at": timestamp_json(ticket.resolved_at.as_ref()),
        "sla_state": sla_text(ticket.sla_state),
        "sla_paused": ticket.sla_paused,
        "paused_for_ms": duration_ms(ticket.paused_for.as_ref()),
        "round": ticket.round,
        "outcome": outcome_text(ticket.outcome),
        "solution": ticket.solution,
        "decline_reason": ticket.decline_reason,
        "awaiting_approval": ticket.awaiting_approval,
        "satisfaction": ticket.satisfaction,
        "review_comment": ticket.review_comment,
        "escalated": ticket.escalated,
        "escalation_reason": ticket.escalation_reason,
        "created_at": timestamp_json(ticket.created_at.as_ref()),
        "updated_at": timestamp_json(ticket.updated_at.as_ref()),
        "archived_at": timestamp_json(ticket.archived_at.as_ref()),
        "occurred_at": timestamp_json(ticket.occurred_at.as_ref()),
        "feedback_id": ticket.feedback_id,
        "external_id": ticket.external_id,
        "product": ticket.product,
        "order_id": ticket.order_id,
        "attributes": ticket.attributes,
        "language": language_text(ticket.language),
    });
    // Problem links appear only on tickets that have them.
    if let Value::Object(fields) = &mut value {
        if !ticket.parent_ticket_id.is_empty() {
            fields.insert(
                "parent_ticket_id".to_owned(),
                json!(ticket.parent_ticket_id),
            );
            fields.insert(
                "merged_duplicate".to_owned(),
                json!(ticket.merged_duplicate),
            );
        }
        if ticket.children_count > 0 {
            fields.insert("children_count".to_owned(), json!(ticket.children_count));
        }
    }
    if let Some(fields) = value.as_object_mut() {
        fields.insert("assignee".to_owned(), json!(ticket.assignee));
    }
    value
}

/// Suggested duplicates: each ticket with its keyword overlap.
pub fn similar_table(tickets: &[v1::Ticket], scores: &[f64], view: &View) -> String {
    let mut table = Table::new(&[
        "TICKET",
        "SIMILARITY",
        "STEP",
        "DEPARTMENT",
        "RECEIVED",
        "CONTENT",
    ]);
    for (ticket, score) in tickets.iter().zip(scores) {
        table.row(vec![
            ticket.ticket_id.clone(),
            format!("{:.0}%", score * 100.0),
            step_text(ticket.step),
            or_dash(ticket.department.clone()),
            view.time(ticket.created_at.as_ref()),
            truncate(&ticket.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no similar open tickets\n".to_owned();
    }
    table.render()
}

/// The actor of an event as "li.si (agent, logistics)".
pub fn actor_text(actor: Option<&v1::Actor>) -> String {
    let Some(actor) = actor else {
        return "–".to_owned();
    };
    let role = role_text(actor.role);
    match (role.is_empty(), actor.department.is_empty()) {
        (true, _) => or_dash(actor.principal.clone()),
        (false, true) => format!("{} ({role})", actor.principal),
        (false, false) => format!("{} ({role}, {})", actor.principal, actor.department),
    }
}

/// A one-line summary of a domain event for the timeline.
fn event_detail(event: &domain::Event, view: &View) -> String {
    use domain::Event;
    match event {
        Event::Received(received) => format!("via {}: {}", received.channel, received.content),
        Event::Classified(classified) => format!(
            "{} · {} · {}{}{}",
            classified.kind,
            classified.content_type,
            classified.priority,
            if classified.complex {
                " · complex"
            } else {
                ""
            },
            if classified.automatic {
                " (by the rules)"
            } else {
                ""
            }
        ),
        Event::Dispatched(dispatched) => {
            let mut text = match &dispatched.from {
                Some(from) => format!("{from} → {}", dispatched.department),
                None => format!("→ {}", dispatched.department),
            };
            if !dispatched.helpers.is_empty() {
                text.push_str(&format!(" + {}", dispatched.helpers.join(", ")));
            }
            if !dispatched.reason.is_empty() {
                text.push_str(&format!(": {}", dispatched.reason));
            }
            text
        }
        Event::Acknowledged(acknowledged) => acknowledged.message.clone(),
        Event::NoteAdded(note) => format!(
            "{} {}",
            if note.to_customer {
                "(to customer)"
            } else {
                "(internal)"
            },
            note.text
        ),
        Event::SolutionProposed(proposed) => format!(
            "{}: {}{}",
            proposed.outcome,
            proposed.text,
            if proposed.approval_required {
                " (waits for approval)"
            } else {
                ""
            }
        ),
        Event::SolutionApproved(approved) if approved.comment.is_empty() => "approved".to_owned(),
        Event::SolutionApproved(approved) => format!("approved: {}", approved.comment),
        Event::SolutionRejected(rejected) => format!("rejected: {}", rejected.comment),
        Event::ReviewRecorded(review) => {
            let mut text = format!(
                "{} {}/5",
                stars(u32::from(review.satisfaction)),
                review.satisfaction
            );
            if !review.comment.is_empty() {
                text.push_str(&format!(": {}", review.comment));
            }
            text
        }
        Event::Reopened(reopened) => format!(
            "round {}: respond by {}, resolve by {}",
            reopened.round,
            view.instant_text(reopened.deadlines.respond_by),
            view.instant_text(reopened.deadlines.resolve_by)
        ),
        Event::Archived(_) => "closed".to_owned(),
        Event::Escalated(escalated) => format!("level {}: {}", escalated.level, escalated.reason),
        Event::SlaPaused(paused) => paused.reason.clone(),
        Event::SlaResumed(resumed) => format!("after {}", human_duration(resumed.paused_ms)),
        Event::SlaWarning(mark) | Event::SlaBreached(mark) => {
            format!("{} due {}", mark.deadline, view.instant_text(mark.due))
        }
        Event::SlaEscalated(escalated) => match &escalated.to {
            Some(to) => format!("{} level {} to {to}", escalated.deadline, escalated.level),
            None => format!("{} level {}", escalated.deadline, escalated.level),
        },
        Event::RetentionExpired(_) => "content redacted".to_owned(),
        Event::CustomerErased(_) => "personal data erased".to_owned(),
        Event::LinkedToProblem(linked) => match linked.mode {
            domain::types::LinkMode::Link => format!("linked to problem {}", linked.parent),
            domain::types::LinkMode::MergeDuplicate => {
                format!("merged into problem {} as a duplicate", linked.parent)
            }
        },
        Event::ChildLinked(linked) => format!("{} {}", linked.mode, linked.child),
        Event::ParentResolved(resolved) => format!(
            "problem {} solved, {}: {}",
            resolved.parent, resolved.outcome, resolved.solution
        ),
        Event::RewardGranted(reward) => format!(
            "{} {} valid until {}",
            reward.amount,
            reward.kind,
            view.instant_text(reward.valid_until)
        ),
        Event::Assigned(assigned) => match &assigned.previous {
            Some(previous) => format!(
                "{previous} → {} ({})",
                assigned.assignee,
                assigned.reason.as_str()
            ),
            None => format!("→ {} ({})", assigned.assignee, assigned.reason.as_str()),
        },
        Event::Unassigned(unassigned) => format!(
            "{} → nobody ({})",
            unassigned.previous,
            unassigned.reason.as_str()
        ),
        Event::CustomerNotified(notified) => format!(
            "{} notice to {} via {} ({}), attempt {}",
            notified.notice,
            notified.to_masked,
            notified.channel,
            notified.sender,
            notified.attempt
        ),
        Event::NotificationFailed(failed) => format!(
            "{} notice, attempt {}{}: {}",
            failed.notice,
            failed.attempt,
            if failed.final_attempt {
                " (gave up)"
            } else {
                ""
            },
            failed.reason
        ),
    }
}

/// Reads a log event back as a domain event.
pub fn domain_event(event: &v1::LogEvent) -> Option<domain::Event> {
    let payload: Value = serde_json::from_str(&event.payload).ok()?;
    domain::Event::from_parts(&event.event_type, event.schema_version.max(1), &payload).ok()
}

/// The timeline of one ticket: each event with its time, version, the step the ticket was in
/// after it, the actor and what happened.
pub fn timeline(events: &[v1::LogEvent], view: &View) -> String {
    let mut table = Table::new(&["TIME", "#", "STEP", "EVENT", "ACTOR", "WHAT"]).right(&[1]);
    let mut state = domain::Ticket::default();
    for event in events {
        let decoded = domain_event(event);
        let (step, detail) = match &decoded {
            Some(domain_event) => {
                state = domain::apply(state, domain_event);
                (
                    state.step.as_str().to_owned(),
                    event_detail(domain_event, view),
                )
            }
            None => (
                "?".to_owned(),
                "(payload not readable by this version)".to_owned(),
            ),
        };
        let event_name = match event.event_type.as_str() {
            "sla_breached" | "sla_escalated" | "escalated" => {
                view.style.paint(Paint::Red, &event.event_type)
            }
            "sla_warning" => view.style.paint(Paint::Yellow, &event.event_type),
            _ => event.event_type.clone(),
        };
        table.row(vec![
            view.time_seconds(event.occurred_at.as_ref()),
            event.version.to_string(),
            step,
            event_name,
            actor_text(event.actor.as_ref()),
            truncate(&detail, 60),
        ]);
    }
    if table.is_empty() {
        return "no events\n".to_owned();
    }
    table.render()
}

/// One log event as JSON, with the payload parsed and the step after it.
pub fn event_json(event: &v1::LogEvent) -> Value {
    let actor = event.actor.clone().unwrap_or_default();
    json!({
        "position": event.position,
        "stream_id": event.stream_id,
        "ticket_id": event.ticket_id,
        "version": event.version,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "occurred_at": timestamp_json(event.occurred_at.as_ref()),
        "recorded_at": timestamp_json(event.recorded_at.as_ref()),
        "actor": {
            "principal": actor.principal,
            "role": role_text(actor.role),
            "department": actor.department,
        },
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "payload": serde_json::from_str::<Value>(&event.payload).unwrap_or(Value::String(event.payload.clone())),
        "previous_hash": event.previous_hash,
        "hash": event.hash,
    })
}

/// History as JSON: the events, each with the step the ticket was in after it.
pub fn history_json(events: &[v1::LogEvent]) -> Value {
    let mut state = domain::Ticket::default();
    let items: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut value = event_json(event);
            if let Some(domain_event) = domain_event(event) {
                state = domain::apply(std::mem::take(&mut state), &domain_event);
                value["step_after"] = Value::String(state.step.as_str().to_owned());
            }
            value
        })
        .collect();
    Value::Array(items)
}

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

/// The receipt of one submission.
pub fn submit_text(response: &v1::SubmitResponse, view: &View) -> String {
    let mut pairs = vec![
        ("ticket", view.style.paint(Paint::Bold, &response.ticket_id)),
        ("received", view.time(response.received_at.as_ref())),
        ("respond by", view.time(response.respond_by.as_ref())),
        ("resolve by", view.time(response.resolve_by.as_ref())),
    ];
    if response.duplicate {
        pairs.push((
            "duplicate",
            "yes: this submission was received before".to_owned(),
        ));
    }
    let mut text = key_values(&pairs);
    if !response.notice.is_empty() {
        text.push('\n');
        text.push_str(&response.notice);
        text.push('\n');
    }
    text
}

/// The receipt of one submission as JSON.
pub fn submit_json(response: &v1::SubmitResponse) -> Value {
    json!({
        "ticket_id": response.ticket_id,
        "feedback_id": response.feedback_id,
        "duplicate": response.duplicate,
        "received_at": timestamp_json(response.received_at.as_ref()),
        "respond_by": timestamp_json(response.respond_by.as_ref()),
        "resolve_by": timestamp_json(response.resolve_by.as_ref()),
        "priority": priority_text(response.priority),
        "notice": response.notice,
    })
}

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

/// Adopted suggestions for public display.
pub fn adopted_table(suggestions: &[v1::AdoptedSuggestion], view: &View) -> String {
    let mut table = Table::new(&[
        "ADOPTED",
        "TICKET",
        "DEPARTMENT",
        "CUSTOMER",
        "OUTCOME",
        "REWARD",
        "SUGGESTION",
    ]);
    for suggestion in suggestions {
        table.row(vec![
            view.time(suggestion.adopted_at.as_ref()),
            suggestion.ticket_id.clone(),
            suggestion.department.clone(),
            suggestion.customer_display_name.clone(),
            outcome_text(suggestion.outcome),
            reward_text(suggestion, view),
            truncate(&suggestion.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no adopted suggestions\n".to_owned();
    }
    table.render()
}

/// One adopted suggestion as JSON.
pub fn adopted_json(suggestion: &v1::AdoptedSuggestion) -> Value {
    json!({
        "ticket_id": suggestion.ticket_id,
        "department": suggestion.department,
        "content": suggestion.content,
        "product": suggestion.product,
        "solution": suggestion.solution,
        "adopted_at": timestamp_json(suggestion.adopted_at.as_ref()),
        "customer_told": suggestion.customer_told,
        "customer_display_name": suggestion.customer_display_name,
        "outcome": outcome_text(suggestion.outcome),
        "reward": if suggestion.reward_kind.is_empty() {
            Value::Null
        } else {
            json!({
                "kind": suggestion.reward_kind,
                "amount": suggestion.reward_amount,
                "valid_until": timestamp_json(suggestion.reward_valid_until.as_ref()),
            })
        },
    })
}

/// The reward of an adopted suggestion as "100 points until 2026-04-15", or "–".
fn reward_text(suggestion: &v1::AdoptedSuggestion, view: &View) -> String {
    if suggestion.reward_kind.is_empty() {
        return "–".to_owned();
    }
    format!(
        "{} {} until {}",
        suggestion.reward_amount,
        suggestion.reward_kind,
        view.time(suggestion.reward_valid_until.as_ref())
    )
}
