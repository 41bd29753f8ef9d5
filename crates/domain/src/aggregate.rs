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
//! * An archived ticket accepts only `ExpireRetention` and `EraseCustomer`.
//! * Problems (see `problems`): `LinkToProblem` ties a ticket to a parent problem; a merged
//!   duplicate refuses the commands of handling. `ResolveFromParent` moves an open child to
//!   review with the parent's solution. An adopted suggestion, once accepted, earns the
//!   configured reward (`RewardGranted`, once per ticket).

use crate::command::{
    check_optional_text, check_text, check_token, ClassifyCommand, Command, NotificationRecord,
    NotificationResult, Submission, MAX_HELPERS, MAX_KEYWORDS, MAX_SHORT_CHARS, MAX_TEXT_CHARS,
};
use crate::event::{
    Acknowledged, Archived, Assigned, AssignmentReason, Classified, CustomerErased,
    CustomerNotified, Dispatched, Escalated, Event, NoteAdded, NotificationFailed, Received,
    Reopened, RetentionExpired, ReviewRecorded, SlaEscalated, SlaMark, SlaPaused, SlaResumed,
    SolutionApproved, SolutionProposed, SolutionRejected, Unassigned,
};
use crate::ids::EventId;
use crate::problems::{ChildLink, LinkedToProblem, ParentResolved};
use crate::ticket::{Approval, Customer, Note, RoundRecord, Solution, Ticket, Transfer};
use crate::types::{Classification, Deadline, Deadlines, Kind, Outcome, Policy, SlaState, Step};
use crate::DomainError;
use chrono::{DateTime, Utc};

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

/// Decides what a command does to a ticket: the events to append, or why not.
pub fn decide(
    state: &Ticket,
    command: &Command,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    if let Command::Receive(submission) = command {
        return decide_receive(state, submission, now, policy);
    }
    if !state.exists() {
        return Err(DomainError::NotFound {
            ticket_id: state.id_text(),
        });
    }
    if state.is_archived() {
        return decide_archived(state, command, now);
    }
    if let Some(parent) = state.parent.as_ref().filter(|_| state.is_merged()) {
        if matches!(
            command,
            Command::Classify(_)
                | Command::Dispatch { .. }
                | Command::Acknowledge { .. }
                | Command::ProposeSolution { .. }
                | Command::ApproveSolution { .. }
                | Command::PauseSla { .. }
                | Command::ResumeSla
        ) && state.step != Step::Review
        {
            return Err(DomainError::Precondition {
                reason: format!(
                    "ticket {} was merged into problem {parent} and is handled there",
                    state.id_text()
                ),
            });
        }
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
        Command::Acknowledge { message } => {
            require_step(state, command, &[Step::Handle])?;
            check_text("message", message, MAX_TEXT_CHARS)?;
            if state.responded_at.is_some() {
                return Err(DomainError::invalid(
                    "message",
                    "the ticket was already acknowledged in this round; add a note to the customer instead",
                ));
            }
            Ok(vec![Event::Acknowledged(Acknowledged {
                message: message.clone(),
                at: now,
            })])
        }
        Command::AddNote { text, to_customer } => {
            require_step(
                state,
                command,
                &[Step::Classify, Step::Dispatch, Step::Handle, Step::Review],
            )?;
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
                text: text.clone(),
                to_customer: *to_customer,
                at: now,
            })])
        }
        Command::ProposeSolution {
            outcome,
            text,
            reason,
        } => decide_propose(state, command, *outcome, text, reason, now, policy),
        Command::ApproveSolution { approve, comment } => {
            require_step(state, command, &[Step::Handle])?;
            if state.approval != Approval::Pending {
                return Err(DomainError::invalid(
                    "approve",
                    "no solution is waiting for approval",
                ));
            }
            check_optional_text("comment", comment, MAX_TEXT_CHARS)?;
            if *approve {
                let mut events = resume_if_paused(state, now);
                events.push(Event::SolutionApproved(SolutionApproved {
                    comment: comment.clone(),
                    at: now,
                }));
                let outcome = state.solution.as_ref().map(|solution| solution.outcome);
                events.extend(reward_for(state, outcome, now, policy));
                Ok(events)
            } else {
                if comment.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "comment",
                        "a rejection needs a comment for the department",
                    ));
                }
                Ok(vec![Event::SolutionRejected(SolutionRejected {
                    comment: comment.clone(),
                    at: now,
                })])
            }
        }
        Command::RecordReview {
            satisfaction,
            comment,
        } => decide_review(state, command, *satisfaction, comment, now, policy),
        Command::Archive => {
            require_step(state, command, &[Step::Review])?;
            if state.satisfaction.is_none() {
                return Err(DomainError::invalid(
                    "satisfaction",
                    "the customer's review must be recorded before the ticket is archived",
                ));
            }
            Ok(vec![Event::Archived(Archived { at: now })])
        }
        Command::Escalate { reason } => {
            require_step(
                state,
                command,
                &[Step::Classify, Step::Dispatch, Step::Handle, Step::Review],
            )?;
            check_text("reason", reason, MAX_TEXT_CHARS)?;
            Ok(vec![Event::Escalated(Escalated {
                level: state.escalation_level.saturating_add(1),
                reason: reason.clone(),
                at: now,
            })])
        }
        Command::PauseSla { reason } => {
            require_step(state, command, &[Step::Handle])?;
            check_text("reason", reason, MAX_TEXT_CHARS)?;
            if state.is_paused() {
                return Err(DomainError::invalid(
                    "reason",
                    "the sla clock is already paused",
                ));
            }
            Ok(vec![Event::SlaPaused(SlaPaused {
                reason: reason.clone(),
                at: now,
            })])
        }
        Command::ResumeSla => {
            require_step(state, command, &[Step::Handle])?;
            if !state.is_paused() {
                return Err(DomainError::invalid("sla", "the sla clock is not paused"));
            }
            Ok(resume_if_paused(state, now))
        }
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
    }
}

/// The reward of an adopted suggestion accepted now, unless one was granted already.
fn reward_for(
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
fn decide_resolve_from_parent(
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

/// Folds one event into the state. Never fails and decides nothing: every choice was made
/// by `decide` and is recorded in the event.
pub fn apply(mut state: Ticket, event: &Event) -> Ticket {
    state.version += 1;
    state.updated_at = Some(event.at());
    match event {
        Event::Received(received) => {
            state.ticket_id = Some(received.ticket_id.clone());
            state.feedback_id = Some(received.feedback_id);
            state.channel = received.channel.clone();
            state.external_id = received.external_id.clone();
            state.customer = received.customer.clone();
            state.content = received.content.clone();
            state.product = received.product.clone();
            state.order_id = received.order_id.clone();
            state.attributes = received.attributes.clone();
            state.occurred_at = Some(received.occurred_at);
            state.received_at = Some(received.received_at);
            state.created_at = Some(received.received_at);
            set_deadlines(&mut state, &received.deadlines);
            state.step = Step::Classify;
        }
        Event::Classified(classified) => {
            state.kind = Some(classified.kind);
            state.content_type = Some(classified.content_type);
            state.priority = Some(classified.priority);
            state.scope = Some(classified.scope);
            state.keywords = classified.keywords.clone();
            state.confidence = Some(classified.confidence);
            state.complex = classified.complex;
            state.classified_automatically = classified.automatic;
            state.classification_policy_version = Some(classified.policy_version.clone());
            set_deadlines(&mut state, &classified.deadlines);
            if state.step == Step::Classify {
                state.step = Step::Dispatch;
            }
        }
        Event::Dispatched(dispatched) => {
            state.department = Some(dispatched.department.clone());
            state.helpers = dispatched.helpers.clone();
            state.transfers.push(Transfer {
                from: dispatched.from.clone(),
                to: dispatched.department.clone(),
                helpers: dispatched.helpers.clone(),
                reason: dispatched.reason.clone(),
                automatic: dispatched.automatic,
                at: dispatched.at,
            });
            if dispatched.solution_withdrawn {
                state.solution = None;
                state.outcome = None;
                state.approval = Approval::NotRequired;
            }
            state.step = Step::Handle;
        }
        Event::Acknowledged(acknowledged) => {
            state.acknowledgement = Some(acknowledged.message.clone());
            state.responded_at = Some(acknowledged.at);
        }
        Event::NoteAdded(note) => state.notes.push(Note {
            text: note.text.clone(),
            to_customer: note.to_customer,
            round: state.round,
            at: note.at,
        }),
        Event::SolutionProposed(proposed) => {
            state.solution = Some(Solution {
                outcome: proposed.outcome,
                text: proposed.text.clone(),
                reason: proposed.reason.clone(),
                proposed_at: proposed.at,
            });
            state.outcome = Some(proposed.outcome);
            state.approval_comment = None;
            if proposed.approval_required {
                state.approval = Approval::Pending;
            } else {
                state.approval = Approval::NotRequired;
                state.resolved_at = Some(proposed.at);
                state.step = Step::Review;
            }
        }
        Event::SolutionApproved(approved) => {
            state.approval = Approval::Approved;
            state.approval_comment = Some(approved.comment.clone());
            state.resolved_at = Some(approved.at);
            state.step = Step::Review;
        }
        Event::SolutionRejected(rejected) => {
            state.approval = Approval::NotRequired;
            state.approval_comment = Some(rejected.comment.clone());
            state.solution = None;
            state.outcome = None;
        }
        Event::ReviewRecorded(review) => {
            state.satisfaction = Some(review.satisfaction);
            state.review_comment = Some(review.comment.clone());
        }
        Event::Reopened(reopened) => {
            state.previous_rounds.push(RoundRecord {
                round: state.round,
                department: state.department.clone(),
                respond_by: state.respond_by,
                resolve_by: state.resolve_by,
                responded_at: state.responded_at,
                resolved_at: state.resolved_at,
                respond_sla: state.respond_sla,
                resolve_sla: state.resolve_sla,
                outcome: state.outcome,
                satisfaction: state.satisfaction,
                review_comment: state.review_comment.clone(),
            });
            state.round = reopened.round;
            state.acknowledgement = None;
            state.responded_at = None;
            state.resolved_at = None;
            state.solution = None;
            state.approval = Approval::NotRequired;
            state.approval_comment = None;
            state.outcome = None;
            state.satisfaction = None;
            state.review_comment = None;
            state.respond_sla = SlaState::OnTime;
            state.resolve_sla = SlaState::OnTime;
            state.paused_since = None;
            set_deadlines(&mut state, &reopened.deadlines);
            state.step = Step::Handle;
        }
        Event::Archived(archived) => {
            state.archived_at = Some(archived.at);
            state.step = Step::Archive;
        }
        Event::Escalated(escalated) => {
            state.escalation_level = escalated.level;
        }
        Event::SlaPaused(paused) => {
            state.paused_since = Some(paused.at);
        }
        Event::SlaResumed(resumed) => {
            state.paused_since = None;
            state.paused_total_ms = state.paused_total_ms.saturating_add(resumed.paused_ms);
            set_deadlines(&mut state, &resumed.deadlines);
        }
        Event::SlaWarning(mark) => set_sla(&mut state, mark.deadline, SlaState::Warning),
        Event::SlaBreached(mark) => set_sla(&mut state, mark.deadline, SlaState::Breached),
        Event::SlaEscalated(escalated) => {
            state.escalation_level = escalated.level;
            state.escalated_to = escalated.to.clone();
        }
        Event::RetentionExpired(_) => {
            state.retention_expired = true;
            state.customer = Customer::default();
            state.content = String::new();
            state.order_id = None;
            state.attributes.clear();
            state.acknowledgement = None;
            state.review_comment = None;
            for note in &mut state.notes {
                note.text = String::new();
            }
            for round in &mut state.previous_rounds {
                round.review_comment = None;
            }
        }
        Event::CustomerErased(_) => {
            state.customer_erased = true;
            state.customer = Customer::default();
        }
        Event::LinkedToProblem(linked) => {
            state.parent = Some(linked.parent.clone());
            state.link_mode = Some(linked.mode);
        }
        Event::ChildLinked(linked) => state.children.push(ChildLink {
            child: linked.child.clone(),
            mode: linked.mode,
            at: linked.at,
        }),
        Event::ParentResolved(resolved) => {
            state.solution = Some(Solution {
                outcome: resolved.outcome,
                text: resolved.solution.clone(),
                reason: String::new(),
                proposed_at: resolved.at,
            });
            state.outcome = Some(resolved.outcome);
            state.approval = Approval::NotRequired;
            state.responded_at.get_or_insert(resolved.at);
            state.resolved_at = Some(resolved.at);
            state.step = Step::Review;
        }
        Event::RewardGranted(reward) => state.reward = Some(reward.clone()),
        Event::Assigned(assigned) => state.assignee = Some(assigned.assignee.clone()),
        Event::Unassigned(_) => state.assignee = None,
        // A record of what the customer was told: history only, the ticket does not move.
        Event::CustomerNotified(_) | Event::NotificationFailed(_) => {}
    }
    state.sla_state = state.respond_sla.max(state.resolve_sla);
    state
}

/// Folds events from the start of a stream.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Ticket {
    events.into_iter().fold(Ticket::default(), apply)
}

fn set_deadlines(state: &mut Ticket, deadlines: &Deadlines) {
    state.respond_by = Some(deadlines.respond_by);
    state.resolve_by = Some(deadlines.resolve_by);
    state.warn_respond_at = Some(deadlines.warn_respond_at);
    state.warn_resolve_at = Some(deadlines.warn_resolve_at);
    state.deadlines_policy_version = Some(deadlines.policy_version.clone());
    state.deadlines_calendar_version = Some(deadlines.calendar_version.clone());
}

fn set_sla(state: &mut Ticket, deadline: Deadline, sla: SlaState) {
    match deadline {
        Deadline::Respond => state.respond_sla = sla,
        Deadline::Resolve => state.resolve_sla = sla,
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

/// The automatic dispatch event, when a routing rule names a configured department.
fn automatic_dispatch(
    classification: &Classification,
    product: Option<&str>,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Option<Event> {
    let route = policy.route(classification, product)?;
    if !policy.is_department(&route.department) {
        return None;
    }
    let reason = if route.rule.trim().is_empty() {
        "routing rules".to_owned()
    } else {
        route.rule.clone()
    };
    Some(Event::Dispatched(Dispatched {
        from: None,
        helpers: usable_helpers(&route.department, &route.helpers, policy),
        department: route.department,
        reason,
        automatic: true,
        solution_withdrawn: false,
        at: now,
    }))
}

fn decide_receive(
    state: &Ticket,
    submission: &Submission,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    if state.exists() {
        return Err(already_exists(state));
    }
    submission.validate()?;
    let classification = sanitize_classification(
        policy.classify(&submission.content, submission.product.as_deref()),
    );
    let deadlines = policy.deadlines(submission.received_at, &classification);
    let mut events = vec![Event::Received(Box::new(Received {
        ticket_id: submission.ticket_id.clone(),
        feedback_id: submission.feedback_id,
        channel: submission.channel.clone(),
        external_id: submission.external_id.clone(),
        customer: submission.customer.clone(),
        content: submission.content.clone(),
        occurred_at: submission.occurred_at.unwrap_or(submission.received_at),
        received_at: submission.received_at,
        product: submission.product.clone(),
        order_id: submission.order_id.clone(),
        attributes: submission.attributes.clone(),
        deadlines: deadlines.clone(),
        at: now,
    }))];
    if classification.confident {
        events.push(Event::Classified(Classified {
            kind: classification.kind,
            content_type: classification.content_type,
            priority: classification.priority,
            scope: classification.scope,
            keywords: classification.keywords.clone(),
            confidence: classification.confidence,
            complex: classification.complex,
            automatic: true,
            reason: "classification rules".to_owned(),
            policy_version: policy.version(),
            deadlines,
            at: now,
        }));
        events.extend(automatic_dispatch(
            &classification,
            submission.product.as_deref(),
            now,
            policy,
        ));
    }
    Ok(events)
}

fn decide_archived(
    state: &Ticket,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::Receive(_) => Err(already_exists(state)),
        Command::ExpireRetention if state.retention_expired => Ok(Vec::new()),
        Command::ExpireRetention => Ok(vec![Event::RetentionExpired(RetentionExpired { at: now })]),
        Command::EraseCustomer => Ok(erase_customer(state, now)),
        Command::ResolveFromParent { .. } => Ok(Vec::new()),
        Command::RecordNotification(record) => decide_notification(record, now),
        // Timers of an archived ticket have nothing left to do.
        Command::RaiseSlaWarning { .. }
        | Command::RecordSlaBreach { .. }
        | Command::EscalateSla { .. } => Ok(Vec::new()),
        // Nothing to assign or hand back on an archived ticket.
        Command::AutoAssign { .. } | Command::HandBack { .. } => Ok(Vec::new()),
        _ => Err(wrong_step(state, command)),
    }
}

/// Records a delivery attempt of a customer notice, in any step: the closing notice is sent
/// after the ticket is archived.
fn decide_notification(
    record: &NotificationRecord,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    EventId::parse(&record.source_event_id)
        .map_err(|_| DomainError::invalid("source_event_id", "must be an event id (a uuid)"))?;
    if record.attempt == 0 {
        return Err(DomainError::invalid("attempt", "attempts count from 1"));
    }
    let event = match &record.result {
        NotificationResult::Delivered {
            channel,
            sender,
            to_masked,
        } => {
            check_token("channel", channel)?;
            check_token("sender", sender)?;
            check_text("to_masked", to_masked, MAX_SHORT_CHARS)?;
            Event::CustomerNotified(CustomerNotified {
                notice: record.notice,
                channel: channel.clone(),
                sender: sender.clone(),
                to_masked: to_masked.clone(),
                source_event_id: record.source_event_id.trim().to_owned(),
                attempt: record.attempt,
                at: now,
            })
        }
        NotificationResult::Failed {
            reason,
            final_attempt,
        } => {
            check_text("reason", reason, MAX_TEXT_CHARS)?;
            Event::NotificationFailed(NotificationFailed {
                notice: record.notice,
                source_event_id: record.source_event_id.trim().to_owned(),
                attempt: record.attempt,
                reason: reason.clone(),
                final_attempt: *final_attempt,
                at: now,
            })
        }
    };
    Ok(vec![event])
}

fn erase_customer(state: &Ticket, now: DateTime<Utc>) -> Vec<Event> {
    if state.customer_erased {
        Vec::new()
    } else {
        vec![Event::CustomerErased(CustomerErased { at: now })]
    }
}

fn decide_classify(
    state: &Ticket,
    classify: &ClassifyCommand,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    let command = Command::Classify(classify.clone());
    require_step(
        state,
        &command,
        &[Step::Classify, Step::Dispatch, Step::Handle],
    )?;
    if classify.keywords.len() > MAX_KEYWORDS {
        return Err(DomainError::invalid(
            "keywords",
            format!(
                "at most {MAX_KEYWORDS} keywords, got {}",
                classify.keywords.len()
            ),
        ));
    }
    for keyword in &classify.keywords {
        check_text("keywords", keyword, MAX_SHORT_CHARS)?;
    }
    check_optional_text("reason", &classify.reason, MAX_TEXT_CHARS)?;
    if let (Approval::Pending, Some(solution)) = (state.approval, &state.solution) {
        if !allowed_outcomes(classify.kind).contains(&solution.outcome) {
            return Err(DomainError::invalid(
                "kind",
                format!(
                    "a solution with outcome {} waits for approval and does not fit a {} ticket; reject it first",
                    solution.outcome, classify.kind
                ),
            ));
        }
    }
    let classification = Classification {
        kind: classify.kind,
        content_type: classify.content_type,
        priority: classify.priority,
        scope: classify.scope,
        keywords: unique_keywords(&classify.keywords),
        confidence: 1.0,
        confident: true,
        complex: classify.complex,
    };
    let received_at = state.received_at.unwrap_or(now);
    let deadlines = shift_deadlines(
        policy.deadlines(received_at, &classification),
        state.paused_total_ms,
    );
    let mut events = vec![Event::Classified(Classified {
        kind: classification.kind,
        content_type: classification.content_type,
        priority: classification.priority,
        scope: classification.scope,
        keywords: classification.keywords.clone(),
        confidence: classification.confidence,
        complex: classification.complex,
        automatic: false,
        reason: classify.reason.clone(),
        policy_version: policy.version(),
        deadlines,
        at: now,
    })];
    if state.step == Step::Classify {
        events.extend(automatic_dispatch(
            &classification,
            state.product.as_deref(),
            now,
            policy,
        ));
    }
    Ok(events)
}

fn decide_dispatch(
    state: &Ticket,
    command: &Command,
    department: &str,
    helpers: &[String],
    reason: &str,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    require_step(state, command, &[Step::Dispatch, Step::Handle])?;
    check_token("department", department)?;
    if !policy.is_department(department) {
        return Err(DomainError::invalid(
            "department",
            format!("{department:?} is not a configured department"),
        ));
    }
    if helpers.len() > MAX_HELPERS {
        return Err(DomainError::invalid(
            "helpers",
            format!(
                "at most {MAX_HELPERS} helper departments, got {}",
                helpers.len()
            ),
        ));
    }
    for (index, helper) in helpers.iter().enumerate() {
        check_token("helpers", helper)?;
        if !policy.is_department(helper) {
            return Err(DomainError::invalid(
                "helpers",
                format!("{helper:?} is not a configured department"),
            ));
        }
        if helper == department {
            return Err(DomainError::invalid(
                "helpers",
                format!("{helper:?} is the lead department and cannot also help"),
            ));
        }
        if helpers[..index].contains(helper) {
            return Err(DomainError::invalid(
                "helpers",
                format!("{helper:?} is named twice"),
            ));
        }
    }
    check_optional_text("reason", reason, MAX_TEXT_CHARS)?;
    let transfer = state.step == Step::Handle;
    if transfer {
        if state.department.as_deref() == Some(department) && state.helpers == helpers {
            return Err(DomainError::invalid(
                "department",
                format!("the ticket is already with {department}"),
            ));
        }
        if reason.trim().is_empty() {
            return Err(DomainError::invalid(
                "reason",
                "a transfer needs a reason for the history",
            ));
        }
    }
    Ok(vec![Event::Dispatched(Dispatched {
        from: state.department.clone(),
        department: department.to_owned(),
        helpers: helpers.to_vec(),
        reason: reason.to_owned(),
        automatic: false,
        solution_withdrawn: transfer && state.approval == Approval::Pending,
        at: now,
    })])
}

fn decide_propose(
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

fn decide_review(
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
            deadlines: policy.deadlines(now, &classification),
            at: now,
        }));
    }
    Ok(events)
}

/// The resume event when the clock is paused: deadlines move by the time spent paused.
fn resume_if_paused(state: &Ticket, now: DateTime<Utc>) -> Vec<Event> {
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
fn decide_sla_mark(
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

fn decide_sla_escalation(
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

/// A transfer to another department takes the ticket away from its assignee.
fn unassign_on_transfer(state: &Ticket, department: &str, now: DateTime<Utc>) -> Option<Event> {
    let previous = state.assignee.clone()?;
    if state.department.as_deref() == Some(department) {
        return None;
    }
    Some(Event::Unassigned(Unassigned {
        previous,
        reason: AssignmentReason::Transferred,
        at: now,
    }))
}

/// Claim, Assign, and the policy's AutoAssign and HandBack. A ticket is assigned only while
/// its department handles it; the system commands return no events when the ticket has
/// moved on since the choice was made, so a late or repeated choice changes nothing.
fn decide_assignment(
    state: &Ticket,
    command: &Command,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    let assigned = |assignee: &str, by: &str, reason: AssignmentReason| {
        Event::Assigned(Assigned {
            assignee: assignee.to_owned(),
            by: by.to_owned(),
            reason,
            previous: state.assignee.clone(),
            at: now,
        })
    };
    match command {
        Command::Claim { person } => {
            require_step(state, command, &[Step::Handle])?;
            check_text("person", person, MAX_SHORT_CHARS)?;
            match state.assignee.as_deref() {
                Some(current) if current == person => Ok(Vec::new()),
                Some(current) => Err(DomainError::invalid(
                    "ticket_id",
                    format!("the ticket is assigned to {current}; the head may reassign it"),
                )),
                None => Ok(vec![assigned(person, person, AssignmentReason::Claimed)]),
            }
        }
        Command::Assign { assignee, by } => {
            require_step(state, command, &[Step::Handle])?;
            check_text("assignee", assignee, MAX_SHORT_CHARS)?;
            let department = state.department.as_deref().unwrap_or("");
            if !policy.is_member(department, assignee) {
                return Err(DomainError::invalid(
                    "assignee",
                    format!("{assignee} is not a member of department {department}"),
                ));
            }
            if state.assignee.as_deref() == Some(assignee.as_str()) {
                return Ok(Vec::new());
            }
            Ok(vec![assigned(assignee, by, AssignmentReason::Assigned)])
        }
        Command::AutoAssign {
            department,
            assignee,
            by,
        } => {
            let waiting = state.step == Step::Handle
                && state.assignee.is_none()
                && state.department.as_deref() == Some(department.as_str());
            if !waiting {
                return Ok(Vec::new());
            }
            Ok(vec![assigned(assignee, by, AssignmentReason::Auto)])
        }
        Command::HandBack {
            person,
            assignee,
            by,
        } => {
            if state.step != Step::Handle || state.assignee.as_deref() != Some(person.as_str()) {
                return Ok(Vec::new());
            }
            Ok(match assignee {
                Some(next) if next != person => {
                    vec![assigned(next, by, AssignmentReason::HandedBack)]
                }
                _ => vec![Event::Unassigned(Unassigned {
                    previous: person.clone(),
                    reason: AssignmentReason::HandedBack,
                    at: now,
                })],
            })
        }
        _ => Err(wrong_step(state, command)),
    }
}
