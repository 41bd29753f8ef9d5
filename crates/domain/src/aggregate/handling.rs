//! Handling a ticket: solutions, their approval, reviews, rewards and the resolution from
//! a parent problem.

use super::sla::resume_if_paused;
use super::{allowed_outcomes, current_classification, refuse_when, require_step};
use crate::command::{check_optional_text, check_text, Command, MAX_TEXT_CHARS};
use crate::event::{
    Acknowledged, Event, NoteAdded, ParentResolved, Reopened, ReviewRecorded, SolutionApproved,
    SolutionProposed, SolutionRejected,
};
use crate::ticket::{Approval, Ticket};
use crate::types::{Kind, Outcome, Policy, Step};
use crate::DomainError;
use chrono::{DateTime, Utc};

/// The reward of an adopted suggestion accepted now, unless one was granted already.
pub(super) fn reward_for(
    state: &Ticket,
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Option<Event> {
    if state.kind != Some(Kind::Suggestion)
        || outcome != Some(Outcome::Adopted)
        || state.reward.is_some()
    {
        return None;
    }
    policy
        .reward()
        .map(|rule| Event::RewardGranted(rule.grant(now)))
}

/// A child takes its parent's solution: nothing when it is not (or no longer) open or not a
/// child of `parent`, so that the cascade may run twice.
pub(super) fn decide_resolve_from_parent(
    state: &Ticket,
    parent: &crate::ids::TicketId,
    outcome: Outcome,
    solution: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    if state.parent.as_ref() != Some(parent) || !crate::problems::is_open(state) {
        return Ok(Vec::new());
    }
    let mut events = resume_if_paused(state, now);
    events.push(Event::ParentResolved(ParentResolved {
        parent: parent.clone(),
        outcome,
        solution: solution.to_owned(),
        at: now,
    }));
    Ok(events)
}

pub(super) fn decide_propose(
    state: &Ticket,
    command: &Command,
    outcome: Outcome,
    text: &str,
    reason: &str,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    require_step(state, command, &[Step::Handle])?;
    if state.approval == Approval::Pending {
        return Err(DomainError::invalid(
            "outcome",
            "a solution is already waiting for the head's approval",
        ));
    }
    let classification = current_classification(state).ok_or_else(|| DomainError::WrongStep {
        command: command.name().to_owned(),
        step: Step::Classify,
    })?;
    let allowed = allowed_outcomes(classification.kind);
    if !allowed.contains(&outcome) {
        let names: Vec<&str> = allowed.iter().map(|outcome| outcome.as_str()).collect();
        return Err(DomainError::invalid(
            "outcome",
            format!(
                "{outcome} does not fit a {} ticket; use one of: {}",
                classification.kind,
                names.join(", ")
            ),
        ));
    }
    super::suggestion::require_evaluation(state, classification.kind, outcome)?;
    check_text("text", text, MAX_TEXT_CHARS)?;
    check_optional_text("reason", reason, MAX_TEXT_CHARS)?;
    if outcome == Outcome::Declined && reason.trim().is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "a declined suggestion needs a reason",
        ));
    }
    let approval_required = policy.requires_approval(&classification, outcome);
    let mut events = Vec::new();
    if state.responded_at.is_none() {
        // A solution is also the department's first response.
        events.push(Event::Acknowledged(Acknowledged {
            message: text.to_owned(),
            at: now,
        }));
    }
    if !approval_required {
        events.extend(resume_if_paused(state, now));
    }
    events.push(Event::SolutionProposed(SolutionProposed {
        outcome,
        text: text.to_owned(),
        reason: reason.to_owned(),
        approval_required,
        policy_version: policy.version(),
        at: now,
    }));
    if !approval_required {
        events.extend(reward_for(state, Some(outcome), now, policy));
    }
    Ok(events)
}

pub(super) fn decide_review(
    state: &Ticket,
    command: &Command,
    satisfaction: u8,
    comment: &str,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    require_step(state, command, &[Step::Review])?;
    if !(1..=5).contains(&satisfaction) {
        return Err(DomainError::invalid(
            "satisfaction",
            format!("must be between 1 and 5, got {satisfaction}"),
        ));
    }
    if state.satisfaction.is_some() {
        return Err(DomainError::invalid(
            "satisfaction",
            "the review of this round is already recorded",
        ));
    }
    check_optional_text("comment", comment, MAX_TEXT_CHARS)?;
    let threshold = policy.satisfied_threshold();
    let satisfied = satisfaction >= threshold;
    let mut events = vec![Event::ReviewRecorded(ReviewRecorded {
        satisfaction,
        comment: comment.to_owned(),
        satisfied_threshold: threshold,
        satisfied,
        policy_version: policy.version(),
        at: now,
    })];
    if !satisfied {
        let classification =
            current_classification(state).ok_or_else(|| DomainError::WrongStep {
                command: command.name().to_owned(),
                step: Step::Classify,
            })?;
        events.push(Event::Reopened(Reopened {
            round: state.round.saturating_add(1),
            deadlines: policy.deadlines_for(now, &classification, state.vip),
            at: now,
        }));
    }
    Ok(events)
}

/// The department's first response, once per round.
pub(super) fn decide_acknowledge(
    state: &Ticket,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    check_text("message", message, MAX_TEXT_CHARS)?;
    refuse_when(
        state.responded_at.is_some(),
        "message",
        "the ticket was already acknowledged in this round; add a note to the customer instead",
    )?;
    Ok(vec![Event::Acknowledged(Acknowledged {
        message: message.to_owned(),
        at: now,
    })])
}

/// A note, internal or to the customer, up to the policy's most notes per ticket.
pub(super) fn decide_note(
    state: &Ticket,
    text: &str,
    to_customer: bool,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    check_text("text", text, MAX_TEXT_CHARS)?;
    let max_notes = policy.max_notes_per_ticket();
    if state.notes.len() >= max_notes {
        return Err(DomainError::LimitReached {
            limit: "limits.notes_max_per_ticket".to_owned(),
            reason: format!(
                "ticket {} has {} notes, the most a ticket may have is {max_notes}",
                state.id_text(),
                state.notes.len()
            ),
        });
    }
    Ok(vec![Event::NoteAdded(NoteAdded {
        text: text.to_owned(),
        to_customer,
        at: now,
    })])
}

/// The head approves a solution waiting for approval (moving to review, with the reward of
/// an adopted suggestion) or rejects it with a comment.
pub(super) fn decide_approval(
    state: &Ticket,
    approve: bool,
    comment: &str,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    let pending = state.approval == Approval::Pending;
    refuse_when(!pending, "approve", "no solution is waiting for approval")?;
    check_optional_text("comment", comment, MAX_TEXT_CHARS)?;
    if approve {
        let mut events = resume_if_paused(state, now);
        events.push(Event::SolutionApproved(SolutionApproved {
            comment: comment.to_owned(),
            at: now,
        }));
        let outcome = state.solution.as_ref().map(|solution| solution.outcome);
        events.extend(reward_for(state, outcome, now, policy));
        return Ok(events);
    }
    let reason = "a rejection needs a comment for the department";
    refuse_when(comment.trim().is_empty(), "comment", reason)?;
    Ok(vec![Event::SolutionRejected(SolutionRejected {
        comment: comment.to_owned(),
        at: now,
    })])
}
