//! The ticket aggregate: `decide` turns a command into events (every rule lives here) and
//! `apply` folds one event into the state (no rules, no failures).
//!
//! # The step model
//!
//! ```text
//! receive ──▶ classify ──▶ dispatch ──▶ handle ──▶ review ──▶ archive
//!                                          ▲          │
//!                                          └─reopen───┘  (satisfaction below the threshold)
//! ```
//!
//! * `Receive` records the submission (step `classify`). When the rules are confident it
//!   also classifies (step `dispatch`), and when a routing rule names a configured
//!   department it also dispatches (step `handle`), all in the events of that one command.
//! * `Classify` is allowed in `classify`, `dispatch` and `handle` (a correction); it
//!   recomputes the deadlines from the time of receipt (plus any time spent paused). In step
//!   `classify` it is followed by automatic dispatch when a routing rule matches. It may not
//!   change the kind under a solution waiting for approval whose outcome would no longer fit.
//! * `Dispatch` is allowed in `dispatch` (first dispatch) and `handle` (a transfer, which
//!   needs a reason and withdraws a solution still waiting for approval).
//! * In `handle`: `Acknowledge` once per round; `ProposeSolution`, which acknowledges too
//!   when nobody has yet, and moves to `review` unless the policy wants the head's approval;
//!   `ApproveSolution` moves to `review` or, rejected, leaves the department working on.
//!   Outcomes: `adopted`, `planned`, `declined` for suggestions; `fixed`, `explained` for
//!   every other kind. `declined` needs a reason, a rejection needs a comment.
//! * `RecordReview` in `review`, once per round: below the policy's threshold the ticket is
//!   reopened (round + 1, back to `handle` at the same department, fresh deadlines from now);
//!   otherwise it stays in `review`, ready for `Archive`, which needs a satisfied review.
//! * `PauseSla` in `handle` stops the clock while waiting for the customer; `ResumeSla` moves
//!   the deadlines by the time spent paused. Leaving `handle` resumes the clock first.
//! * The SLA system commands return no events when their deadline is met, already marked,
//!   not yet due, paused, or the ticket is archived, so timers firing twice change nothing.
//! * `RecordReply`, the customer's own words on their ticket (a reply through a channel or
//!   the status page), in every step once the ticket exists: it resumes a paused clock and
//!   marks the ticket as having a new reply until the staff answer.
//! * An archived ticket accepts only `ExpireRetention`, `EraseCustomer` and the records of
//!   notices and replies (history only).
//! * Problems (see `problems`): `LinkToProblem` ties a ticket to a parent problem; a merged
//!   duplicate refuses the commands of handling. `ResolveFromParent` moves an open child to
//!   review with the parent's solution. An adopted suggestion, once accepted, earns the
//!   configured reward (`RewardGranted`, once per ticket).
//! * Suggestions (see `suggestion`): `EvaluateSuggestion` in `handle` before an `adopted` or
//!   `planned` outcome is allowed; `MarkDelivered` for a planned one in `review` or `archive`;
//!   the monthly award (`GrantAward`, the leader's duty) once per ticket.

mod apply;
mod archive;
mod assignment;
mod handling;
mod intake;
mod reply;
mod sla;
mod suggestion;

use crate::command::{Command, MAX_HELPERS, MAX_KEYWORDS, MAX_SHORT_CHARS};
use crate::event::{Event, LinkedToProblem};
use crate::ticket::Ticket;
use crate::types::{Classification, Deadlines, Kind, Outcome, Policy, Step};
use crate::DomainError;
pub use apply::{apply, fold};
use archive::{decide_archive, decide_archived, decide_notification, erase_customer};
use assignment::{decide_assignment, unassign_on_transfer};
use chrono::{DateTime, Utc};
use handling::{
    decide_acknowledge, decide_approval, decide_note, decide_propose, decide_resolve_from_parent,
    decide_review,
};
use intake::{decide_classify, decide_dispatch, decide_receive};
use sla::{
    decide_escalate, decide_pause, decide_recompute, decide_resume, decide_sla_escalation,
    decide_sla_mark,
};

/// The steps a ticket may move to from `step`. Every step change an event makes is one of
/// these; staying in the same step is always allowed.
pub fn allowed_next_steps(step: Step) -> &'static [Step] {
    match step {
        Step::Receive => &[Step::Classify],
        // A linked child moves to review when its parent problem is solved (`ParentResolved`),
        // wherever it stood.
        Step::Classify => &[Step::Dispatch, Step::Review],
        Step::Dispatch => &[Step::Handle, Step::Review],
        Step::Handle => &[Step::Review],
        Step::Review => &[Step::Handle, Step::Archive],
        Step::Archive => &[],
    }
}

/// The outcomes a solution may have for a ticket of `kind`.
pub fn allowed_outcomes(kind: Kind) -> &'static [Outcome] {
    match kind {
        Kind::Suggestion => &[Outcome::Adopted, Outcome::Planned, Outcome::Declined],
        Kind::Complaint | Kind::Problem | Kind::Inquiry | Kind::Praise => {
            &[Outcome::Fixed, Outcome::Explained]
        }
    }
}

/// The steps in which a ticket takes notes and escalations: every step but the first and the
/// last.
const ACTIVE_STEPS: &[Step] = &[Step::Classify, Step::Dispatch, Step::Handle, Step::Review];

/// Decides what a command does to a ticket: the events to append, or why not.
pub fn decide(
    state: &Ticket,
    command: &Command,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    if let Command::Receive(submission) = command {
        return decide_receive(state, submission, false, now, policy);
    }
    if !state.exists() {
        return Err(DomainError::NotFound {
            ticket_id: state.id_text(),
        });
    }
    if state.is_archived() {
        return decide_archived(state, command, now);
    }
    refuse_if_merged(state, command)?;
    decide_open(state, command, now, policy)
}

/// `decide` of `Receive` for a customer known to be a VIP (`vip`, the staff tag `vip` on
/// their earlier tickets): the first deadlines, and those of a classification made at once,
/// take the VIP row, and `received` records it. `decide` receives with `vip` false.
pub fn decide_receipt(
    state: &Ticket,
    submission: &crate::command::Submission,
    vip: bool,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    decide_receive(state, submission, vip, now, policy)
}

/// A merged duplicate is handled through its parent: it refuses the commands of handling
/// until it reaches review.
fn refuse_if_merged(state: &Ticket, command: &Command) -> Result<(), DomainError> {
    let Some(parent) = state.parent.as_ref().filter(|_| state.is_merged()) else {
        return Ok(());
    };
    let handling = matches!(
        command,
        Command::Classify(_)
            | Command::Dispatch { .. }
            | Command::Acknowledge { .. }
            | Command::ProposeSolution { .. }
            | Command::ApproveSolution { .. }
            | Command::PauseSla { .. }
            | Command::ResumeSla
            | Command::EvaluateSuggestion { .. }
    );
    if handling && state.step != Step::Review {
        return Err(DomainError::Precondition {
            reason: format!(
                "ticket {} was merged into problem {parent} and is handled there",
                state.id_text()
            ),
        });
    }
    Ok(())
}

/// The steps that accept each of the plain commands of handling; `None` for the commands
/// that check their step themselves.
fn accepting_steps(command: &Command) -> Option<&'static [Step]> {
    match command {
        Command::Acknowledge { .. }
        | Command::ApproveSolution { .. }
        | Command::PauseSla { .. }
        | Command::ResumeSla
        | Command::EvaluateSuggestion { .. } => Some(&[Step::Handle]),
        Command::AddNote { .. } | Command::Escalate { .. } => Some(ACTIVE_STEPS),
        Command::Archive => Some(&[Step::Review]),
        _ => None,
    }
}

/// `decide` for a ticket that exists and is not archived: one step function per command.
fn decide_open(
    state: &Ticket,
    command: &Command,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    if let Some(steps) = accepting_steps(command) {
        require_step(state, command, steps)?;
    }
    match command {
        Command::Receive(_) => Err(already_exists(state)),
        Command::Classify(classify) => decide_classify(state, classify, now, policy),
        Command::Dispatch {
            department,
            helpers,
            reason,
        } => {
            let mut events =
                decide_dispatch(state, command, department, helpers, reason, now, policy)?;
            events.extend(unassign_on_transfer(state, department, now));
            Ok(events)
        }
        Command::Acknowledge { message } => decide_acknowledge(state, message, now),
        Command::AddNote { text, to_customer } => {
            decide_note(state, text, *to_customer, now, policy)
        }
        Command::ProposeSolution {
            outcome,
            text,
            reason,
        } => decide_propose(state, command, *outcome, text, reason, now, policy),
        Command::ApproveSolution { approve, comment } => {
            decide_approval(state, *approve, comment, now, policy)
        }
        Command::RecordReview {
            satisfaction,
            comment,
        } => decide_review(state, command, *satisfaction, comment, now, policy),
        Command::Archive => decide_archive(state, now),
        Command::Escalate { reason } => decide_escalate(state, reason, now),
        Command::PauseSla { reason } => decide_pause(state, reason, now),
        Command::ResumeSla => decide_resume(state, now),
        Command::RaiseSlaWarning { deadline } => Ok(decide_sla_mark(state, *deadline, now, false)),
        Command::RecordSlaBreach { deadline } => Ok(decide_sla_mark(state, *deadline, now, true)),
        Command::EscalateSla {
            deadline,
            level,
            to,
        } => decide_sla_escalation(state, *deadline, *level, to, now),
        Command::ExpireRetention => Err(wrong_step(state, command)),
        Command::EraseCustomer => Ok(erase_customer(state, now)),
        Command::LinkToProblem {
            parent_ticket_id,
            mode,
        } => {
            crate::problems::check_child(state, parent_ticket_id)?;
            Ok(vec![Event::LinkedToProblem(LinkedToProblem {
                parent: parent_ticket_id.clone(),
                mode: *mode,
                at: now,
            })])
        }
        Command::ResolveFromParent {
            parent,
            outcome,
            solution,
        } => decide_resolve_from_parent(state, parent, *outcome, solution, now),
        Command::Claim { .. }
        | Command::Assign { .. }
        | Command::AutoAssign { .. }
        | Command::HandBack { .. } => decide_assignment(state, command, now, policy),
        Command::RecordNotification(record) => decide_notification(record, now),
        Command::RecordReply {
            text,
            channel,
            feedback_id,
        } => reply::decide_reply(state, text, channel, feedback_id, now),
        Command::EvaluateSuggestion {
            feasibility,
            cost,
            benefit,
            note,
        } => suggestion::decide_evaluate(state, (*feasibility, *cost, *benefit), note, now),
        Command::MarkDelivered { delivered_on, note } => {
            suggestion::decide_delivered(state, *delivered_on, note, now)
        }
        Command::GrantAward {
            month,
            rank,
            score,
            reward,
        } => suggestion::decide_award(state, (month, *rank, *score, reward), now),
        Command::TagCustomer { tag, remove } => {
            crate::customer::decide_tag(state, tag, *remove, now)
        }
        Command::RecomputeSla { vip, reason } => decide_recompute(state, *vip, reason, now, policy),
    }
}

fn wrong_step(state: &Ticket, command: &Command) -> DomainError {
    DomainError::WrongStep {
        command: command.name().to_owned(),
        step: state.step,
    }
}

fn already_exists(state: &Ticket) -> DomainError {
    DomainError::AlreadyExists {
        ticket_id: state.id_text(),
    }
}

/// An invalid-argument error naming `field` when `refused`.
fn refuse_when(refused: bool, field: &str, reason: &str) -> Result<(), DomainError> {
    if refused {
        Err(DomainError::invalid(field, reason))
    } else {
        Ok(())
    }
}

fn require_step(state: &Ticket, command: &Command, steps: &[Step]) -> Result<(), DomainError> {
    if steps.contains(&state.step) {
        Ok(())
    } else {
        Err(wrong_step(state, command))
    }
}

/// The deadlines the ticket has now, as one value.
fn current_deadlines(state: &Ticket) -> Option<Deadlines> {
    Some(Deadlines {
        respond_by: state.respond_by?,
        resolve_by: state.resolve_by?,
        warn_respond_at: state.warn_respond_at?,
        warn_resolve_at: state.warn_resolve_at?,
        policy_version: state.deadlines_policy_version.clone()?,
        calendar_version: state.deadlines_calendar_version.clone()?,
    })
}

/// The ticket's classification as the policy sees it, once it has one.
fn current_classification(state: &Ticket) -> Option<Classification> {
    Some(Classification {
        kind: state.kind?,
        content_type: state.content_type?,
        priority: state.priority?,
        scope: state.scope?,
        keywords: state.keywords.clone(),
        confidence: state.confidence.unwrap_or(1.0),
        confident: true,
        complex: state.complex,
        terms: state.terms.clone(),
    })
}

/// Moves every instant of `deadlines` later by `milliseconds`.
fn shift_deadlines(mut deadlines: Deadlines, milliseconds: i64) -> Deadlines {
    let shift = chrono::Duration::milliseconds(milliseconds);
    deadlines.respond_by += shift;
    deadlines.resolve_by += shift;
    deadlines.warn_respond_at += shift;
    deadlines.warn_resolve_at += shift;
    deadlines
}

/// Keeps a classification from the rules within bounds: confidence in 0..=1, keywords
/// trimmed, non-empty, short, unique and at most [`MAX_KEYWORDS`].
fn sanitize_classification(mut classification: Classification) -> Classification {
    classification.confidence = if classification.confidence.is_finite() {
        classification.confidence.clamp(0.0, 1.0)
    } else {
        0.0
    };
    classification.keywords = unique_keywords(&classification.keywords);
    classification.terms = unique_keywords(&classification.terms);
    classification
}

fn unique_keywords(keywords: &[String]) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for keyword in keywords {
        let keyword = keyword.trim();
        if keyword.is_empty()
            || keyword.chars().count() > MAX_SHORT_CHARS
            || unique.iter().any(|seen| seen == keyword)
        {
            continue;
        }
        unique.push(keyword.to_owned());
        if unique.len() == MAX_KEYWORDS {
            break;
        }
    }
    unique
}

/// Helper departments that are configured, unique and not the lead department.
fn usable_helpers(lead: &str, helpers: &[String], policy: &dyn Policy) -> Vec<String> {
    let mut usable: Vec<String> = Vec::new();
    for helper in helpers {
        if helper != lead && policy.is_department(helper) && !usable.contains(helper) {
            usable.push(helper.clone());
        }
    }
    usable.truncate(MAX_HELPERS);
    usable
}
