//! A ticket's history: the timeline of its events, as text and as JSON.

use super::{human_duration, or_dash, stars, timestamp_json, when, View};
use crate::names::role_text;
use crate::style::Paint;
use crate::table::{truncate, Table};
use proto::v1;
use serde_json::{json, Value};

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
        Event::Classified(classified) => classified_detail(classified),
        Event::Dispatched(dispatched) => dispatched_detail(dispatched),
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
            when(proposed.approval_required, " (waits for approval)")
        ),
        Event::SolutionApproved(approved) if approved.comment.is_empty() => "approved".to_owned(),
        Event::SolutionApproved(approved) => format!("approved: {}", approved.comment),
        Event::SolutionRejected(rejected) => format!("rejected: {}", rejected.comment),
        Event::ReviewRecorded(review) => review_detail(review),
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
            "{} notice to {}{} via {} ({}), attempt {}",
            notified.notice,
            notified
                .recipient
                .as_ref()
                .map_or_else(String::new, |recipient| format!("{recipient} ")),
            notified.to_masked,
            notified.channel,
            notified.sender,
            notified.attempt
        ),
        Event::NotificationFailed(failed) => format!(
            "{} notice{}, attempt {}{}: {}",
            failed.notice,
            failed
                .recipient
                .as_ref()
                .map_or_else(String::new, |recipient| format!(" to {recipient}")),
            failed.attempt,
            when(failed.final_attempt, " (gave up)"),
            failed.reason
        ),
        Event::CustomerReplied(replied) => {
            format!(
                "the customer replied via {}: {}",
                replied.channel, replied.text
            )
        }
        Event::ClassificationSuggested(suggestion) => suggested_detail(suggestion),
        Event::CustomerTagged(tagged) if tagged.removed => {
            format!("customer tag {} taken off", tagged.tag)
        }
        Event::CustomerTagged(tagged) => format!("customer tagged {}", tagged.tag),
        Event::SlaRecomputed(recomputed) => format!(
            "{}: respond by {}, resolve by {}",
            recomputed.reason,
            view.instant_text(recomputed.deadlines.respond_by),
            view.instant_text(recomputed.deadlines.resolve_by)
        ),
        Event::SuggestionEvaluated(_) | Event::SuggestionDelivered(_) | Event::AwardGranted(_) => {
            pipeline_detail(event)
        }
    }
}

/// The suggestion pipeline's events: "score 13 (feasibility 4, cost 2, benefit 5): note",
/// "delivered on 2026-03-20: note", "award of 2026-03, rank 1: 500 points".
fn pipeline_detail(event: &domain::Event) -> String {
    use domain::Event;
    let with_note = |text: String, note: &str| {
        if note.trim().is_empty() {
            text
        } else {
            format!("{text}: {note}")
        }
    };
    match event {
        Event::SuggestionEvaluated(evaluation) => with_note(
            format!(
                "score {} (feasibility {}, cost {}, benefit {})",
                evaluation.score, evaluation.feasibility, evaluation.cost, evaluation.benefit
            ),
            &evaluation.note,
        ),
        Event::SuggestionDelivered(delivery) => with_note(
            format!("delivered on {}", delivery.delivered_on),
            &delivery.note,
        ),
        Event::AwardGranted(award) => format!(
            "award of {}, rank {}: {}",
            award.month, award.rank, award.reward
        ),
        _ => String::new(),
    }
}

/// "suggested complaint · service · high → customer_service (62%, sha256:…)".
fn suggested_detail(suggestion: &domain::event::Suggestion) -> String {
    let top = |field: &str| suggestion.top(field).unwrap_or("-");
    format!(
        "suggested {} · {} · {} → {} ({:.0}%, {})",
        top("kind"),
        top("content_type"),
        top("priority"),
        top("department"),
        suggestion.confidence * 100.0,
        suggestion.model_version
    )
}

/// "complaint · product · urgent · complex (by the rules)".
fn classified_detail(classified: &domain::event::Classified) -> String {
    format!(
        "{} · {} · {}{}{}",
        classified.kind,
        classified.content_type,
        classified.priority,
        when(classified.complex, " · complex"),
        match (
            classified.by_model,
            classified.automatic,
            &classified.model_version
        ) {
            (true, _, Some(model)) => format!(" (by the classifier {model})"),
            (_, true, _) => " (by the rules)".to_owned(),
            (_, false, Some(model)) => format!(" (confirmed the classifier's suggestion, {model})"),
            (_, false, None) => String::new(),
        }
    )
}

/// "logistics → billing + support: wrong department".
fn dispatched_detail(dispatched: &domain::event::Dispatched) -> String {
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

/// "★★★★☆ 4/5: comment".
fn review_detail(review: &domain::event::ReviewRecorded) -> String {
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
