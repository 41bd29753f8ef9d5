//! The SLA clock: pausing, resuming, warnings, breaches and escalations.

use super::{
    current_classification, current_deadlines, refuse_when, sanitize_classification,
    shift_deadlines,
};
use crate::command::{check_text, MAX_SHORT_CHARS, MAX_TEXT_CHARS};
use crate::event::{Escalated, Event, SlaEscalated, SlaMark, SlaPaused, SlaRecomputed, SlaResumed};
use crate::ticket::Ticket;
use crate::types::{Deadline, Deadlines, Policy, SlaState};
use crate::DomainError;
use chrono::{DateTime, Utc};

/// The resume event when the clock is paused: deadlines move by the time spent paused.
pub(super) fn resume_if_paused(state: &Ticket, now: DateTime<Utc>) -> Vec<Event> {
    let (Some(paused_since), Some(deadlines)) = (state.paused_since, current_deadlines(state))
    else {
        return Vec::new();
    };
    let paused_ms = (now - paused_since).num_milliseconds().max(0);
    vec![Event::SlaResumed(SlaResumed {
        paused_ms,
        deadlines: shift_deadlines(deadlines, paused_ms),
        at: now,
    })]
}

/// A warning (`breach == false`) or breach mark, or nothing when it is not (or no longer)
/// due.
pub(super) fn decide_sla_mark(
    state: &Ticket,
    deadline: Deadline,
    now: DateTime<Utc>,
    breach: bool,
) -> Vec<Event> {
    if !state.deadline_open(deadline) || state.is_paused() {
        return Vec::new();
    }
    let current = state.sla_of(deadline);
    let (Some(due), Some(warn_at), Some(policy_version), Some(calendar_version)) = (
        state.due_of(deadline),
        state.warn_of(deadline),
        state.deadlines_policy_version.clone(),
        state.deadlines_calendar_version.clone(),
    ) else {
        return Vec::new();
    };
    let mark = SlaMark {
        deadline,
        due,
        policy_version,
        calendar_version,
        at: now,
    };
    if breach {
        if current == SlaState::Breached || now < due {
            return Vec::new();
        }
        vec![Event::SlaBreached(mark)]
    } else {
        if current != SlaState::OnTime || now < warn_at {
            return Vec::new();
        }
        vec![Event::SlaWarning(mark)]
    }
}

pub(super) fn decide_sla_escalation(
    state: &Ticket,
    deadline: Deadline,
    level: u8,
    to: &Option<String>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    if let Some(to) = to {
        check_text("to", to, MAX_SHORT_CHARS)?;
    }
    if level == 0 {
        return Err(DomainError::invalid("level", "must be at least 1"));
    }
    if !state.deadline_open(deadline)
        || state.sla_of(deadline) != SlaState::Breached
        || level <= state.escalation_level
    {
        return Ok(Vec::new());
    }
    Ok(vec![Event::SlaEscalated(SlaEscalated {
        deadline,
        level,
        to: to.clone(),
        policy_version: state.deadlines_policy_version.clone().unwrap_or_default(),
        calendar_version: state.deadlines_calendar_version.clone().unwrap_or_default(),
        at: now,
    })])
}

/// A person escalates the ticket one level.
pub(super) fn decide_escalate(
    state: &Ticket,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    check_text("reason", reason, MAX_TEXT_CHARS)?;
    Ok(vec![Event::Escalated(Escalated {
        level: state.escalation_level.saturating_add(1),
        reason: reason.to_owned(),
        at: now,
    })])
}

/// The clock stops while the department waits for the customer.
pub(super) fn decide_pause(
    state: &Ticket,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    check_text("reason", reason, MAX_TEXT_CHARS)?;
    refuse_when(
        state.is_paused(),
        "reason",
        "the sla clock is already paused",
    )?;
    Ok(vec![Event::SlaPaused(SlaPaused {
        reason: reason.to_owned(),
        at: now,
    })])
}

/// The clock runs again; the deadlines move by the time spent paused.
pub(super) fn decide_resume(state: &Ticket, now: DateTime<Utc>) -> Result<Vec<Event>, DomainError> {
    refuse_when(!state.is_paused(), "sla", "the sla clock is not paused")?;
    Ok(resume_if_paused(state, now))
}

/// The customer became a VIP (or stopped being one): the deadlines still open are computed
/// again from the start of the round's clock (receipt, or the reopening) with the ticket's
/// classification (the rules' provisional one while it has none), with or without the VIP
/// row, and moved by the time spent paused in the round. A deadline already met keeps its
/// instant and warning. Nothing when the ticket already has this `vip`.
pub(super) fn decide_recompute(
    state: &Ticket,
    vip: bool,
    reason: &str,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    check_text("reason", reason, MAX_TEXT_CHARS)?;
    if state.vip == vip {
        return Ok(Vec::new());
    }
    let classification = current_classification(state).unwrap_or_else(|| {
        sanitize_classification(policy.classify(&state.content, state.product.as_deref()))
    });
    let start = (state.round_started_at)
        .or(state.received_at)
        .unwrap_or(now);
    let fresh = shift_deadlines(
        policy.deadlines_for(start, &classification, vip),
        state.round_paused_ms,
    );
    let deadlines = match current_deadlines(state) {
        Some(current) => keep_met_deadlines(state, current, fresh),
        None => fresh,
    };
    Ok(vec![Event::SlaRecomputed(SlaRecomputed {
        vip,
        reason: reason.trim().to_owned(),
        deadlines,
        at: now,
    })])
}

/// `fresh`, except that a deadline no longer open (met, or the ticket merged) keeps its
/// `current` instant and warning.
fn keep_met_deadlines(state: &Ticket, current: Deadlines, fresh: Deadlines) -> Deadlines {
    let respond_open = state.deadline_open(Deadline::Respond);
    let resolve_open = state.deadline_open(Deadline::Resolve);
    Deadlines {
        respond_by: if respond_open {
            fresh.respond_by
        } else {
            current.respond_by
        },
        warn_respond_at: if respond_open {
            fresh.warn_respond_at
        } else {
            current.warn_respond_at
        },
        resolve_by: if resolve_open {
            fresh.resolve_by
        } else {
            current.resolve_by
        },
        warn_resolve_at: if resolve_open {
            fresh.warn_resolve_at
        } else {
            current.warn_resolve_at
        },
        policy_version: fresh.policy_version,
        calendar_version: fresh.calendar_version,
    }
}
