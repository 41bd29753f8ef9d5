//! `apply`: folds events into the state; no rules, no failures.

use crate::event::{
    AssignmentReason, Classified, CustomerTagged, Dispatched, Event, ParentResolved, Received,
    Reopened, SolutionProposed,
};
use crate::ticket::{
    Approval, Customer, Note, RoundRecord, Solution, Ticket, Transfer, TransferredAway,
};
use crate::types::{Deadline, Deadlines, SlaState, Step};

/// Folds one event into the state. Never fails and decides nothing: every choice was made
/// by `decide` and is recorded in the event.
pub fn apply(mut state: Ticket, event: &Event) -> Ticket {
    state.version += 1;
    state.updated_at = Some(event.at());
    match event {
        Event::Received(received) => apply_received(&mut state, received),
        Event::Classified(classified) => apply_classified(&mut state, classified),
        Event::Dispatched(dispatched) => apply_dispatched(&mut state, dispatched),
        Event::Acknowledged(acknowledged) => {
            state.acknowledgement = Some(acknowledged.message.clone());
            state.responded_at = Some(acknowledged.at);
            state.new_reply = false;
        }
        Event::NoteAdded(note) => {
            state.notes.push(Note {
                text: note.text.clone(),
                to_customer: note.to_customer,
                round: state.round,
                at: note.at,
            });
            state.new_reply &= !note.to_customer;
        }
        Event::SolutionProposed(proposed) => {
            apply_proposed(&mut state, proposed);
            state.new_reply = false;
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
            state.rejection_comment = Some(rejected.comment.clone());
            state.solution = None;
            state.outcome = None;
        }
        Event::ReviewRecorded(review) => {
            state.satisfaction = Some(review.satisfaction);
            state.review_comment = Some(review.comment.clone());
        }
        Event::Reopened(reopened) => apply_reopened(&mut state, reopened),
        Event::Archived(archived) => {
            state.archived_at = Some(archived.at);
            state.step = Step::Archive;
            state.new_reply = false;
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
            state.round_paused_ms = state.round_paused_ms.saturating_add(resumed.paused_ms);
            set_deadlines(&mut state, &resumed.deadlines);
        }
        Event::SlaRecomputed(recomputed) => {
            state.vip = recomputed.vip;
            set_deadlines(&mut state, &recomputed.deadlines);
        }
        Event::SlaWarning(mark) => set_sla(&mut state, mark.deadline, SlaState::Warning),
        Event::SlaBreached(mark) => set_sla(&mut state, mark.deadline, SlaState::Breached),
        Event::SlaEscalated(escalated) => {
            state.escalation_level = escalated.level;
            state.escalated_to = escalated.to.clone();
        }
        Event::RetentionExpired(_) => expire_retention(&mut state),
        Event::CustomerErased(_) => erase_customer(&mut state),
        Event::LinkedToProblem(linked) => {
            state.parent = Some(linked.parent.clone());
            state.link_mode = Some(linked.mode);
        }
        Event::ChildLinked(linked) => state.children.push(linked.clone()),
        Event::ParentResolved(resolved) => apply_parent_resolved(&mut state, resolved),
        Event::RewardGranted(reward) => state.reward = Some(reward.clone()),
        Event::Assigned(assigned) => state.assignee = Some(assigned.assignee.clone()),
        Event::Unassigned(unassigned) => {
            if unassigned.reason == AssignmentReason::Transferred {
                let department = state
                    .transfers
                    .last()
                    .and_then(|transfer| transfer.from.clone());
                state.transferred_away.push(TransferredAway {
                    person: unassigned.previous.clone(),
                    department,
                    at: unassigned.at,
                });
            }
            state.assignee = None;
        }
        // A record of what the customer was told: history only, the ticket does not move.
        Event::CustomerNotified(_) | Event::NotificationFailed(_) => {}
        Event::CustomerReplied(replied) => {
            state.customer_replied_at = Some(replied.at);
            state.customer_replies = state.customer_replies.saturating_add(1);
            state.new_reply = true;
        }
        Event::ClassificationSuggested(suggestion) => {
            state.suggestion = Some(suggestion.clone());
        }
        Event::SuggestionEvaluated(evaluation) => state.evaluation = Some(evaluation.clone()),
        Event::SuggestionDelivered(delivery) => state.delivery = Some(delivery.clone()),
        Event::AwardGranted(award) => state.award = Some(award.clone()),
        Event::CustomerTagged(tagged) => apply_customer_tagged(&mut state, tagged),
    }
    state.sla_state = state.respond_sla.max(state.resolve_sla);
    state
}

/// The ticket keeps the last mark of each tag on its customer.
fn apply_customer_tagged(state: &mut Ticket, tagged: &CustomerTagged) {
    match state
        .customer_tags
        .iter_mut()
        .find(|mark| mark.tag == tagged.tag)
    {
        Some(mark) => *mark = tagged.clone(),
        None => state.customer_tags.push(tagged.clone()),
    }
}

/// The submission becomes the ticket, waiting to be classified.
fn apply_received(state: &mut Ticket, received: &Received) {
    state.ticket_id = Some(received.ticket_id.clone());
    state.feedback_id = Some(received.feedback_id);
    state.channel = received.channel.clone();
    state.external_id = received.external_id.clone();
    state.customer = received.customer.clone();
    state.cannot_be_told = received.cannot_be_told;
    state.language = received.language;
    state.content = received.content.clone();
    state.product = received.product.clone();
    state.order_id = received.order_id.clone();
    state.attributes = received.attributes.clone();
    state.terms = received.terms.clone();
    state.occurred_at = Some(received.occurred_at);
    state.received_at = Some(received.received_at);
    state.created_at = Some(received.received_at);
    state.vip = received.vip;
    set_deadlines(state, &received.deadlines);
    state.step = Step::Classify;
}

/// The classification and the deadlines it gives; the first moves the ticket to dispatch.
fn apply_classified(state: &mut Ticket, classified: &Classified) {
    state.kind = Some(classified.kind);
    state.content_type = Some(classified.content_type);
    state.priority = Some(classified.priority);
    state.scope = Some(classified.scope);
    state.keywords = classified.keywords.clone();
    if !classified.terms.is_empty() {
        state.terms = classified.terms.clone();
    }
    state.confidence = Some(classified.confidence);
    state.complex = classified.complex;
    state.classified_automatically = classified.automatic;
    state.classification_policy_version = Some(classified.policy_version.clone());
    state.classification_model_version = classified.model_version.clone();
    state.suggestion = None;
    set_deadlines(state, &classified.deadlines);
    if state.step == Step::Classify {
        state.step = Step::Dispatch;
    }
}

/// A department takes the ticket (a transfer withdraws a solution waiting for approval).
fn apply_dispatched(state: &mut Ticket, dispatched: &Dispatched) {
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

/// A solution: to review at once, or waiting for the head's approval.
fn apply_proposed(state: &mut Ticket, proposed: &SolutionProposed) {
    state.solution = Some(Solution {
        outcome: proposed.outcome,
        text: proposed.text.clone(),
        reason: proposed.reason.clone(),
        proposed_at: proposed.at,
    });
    state.outcome = Some(proposed.outcome);
    state.approval_comment = None;
    state.rejection_comment = None;
    if proposed.approval_required {
        state.approval = Approval::Pending;
    } else {
        state.approval = Approval::NotRequired;
        state.resolved_at = Some(proposed.at);
        state.step = Step::Review;
    }
}

/// The round is kept in the history and a new one starts in handle, with fresh deadlines.
fn apply_reopened(state: &mut Ticket, reopened: &Reopened) {
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
    state.rejection_comment = None;
    state.outcome = None;
    // The delivery belonged to the outcome of the round that ended: the new round may plan
    // and deliver again, or end in another outcome (or, reclassified, be no suggestion at
    // all). The delivery stays in the history (`suggestion_delivered`).
    state.delivery = None;
    state.satisfaction = None;
    state.review_comment = None;
    state.respond_sla = SlaState::OnTime;
    state.resolve_sla = SlaState::OnTime;
    state.paused_since = None;
    state.round_started_at = Some(reopened.at);
    state.round_paused_ms = 0;
    set_deadlines(state, &reopened.deadlines);
    state.step = Step::Handle;
}

/// The customer's texts and contact are removed; the facts of the handling stay.
fn expire_retention(state: &mut Ticket) {
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

/// The customer asked to be forgotten: their contact data and their own words (the content,
/// its terms, the order id, the attributes and their review comments) leave the ticket. The
/// staff's text (notes, the solution, the acknowledgement) stays.
fn erase_customer(state: &mut Ticket) {
    state.customer_erased = true;
    state.customer = Customer::default();
    state.content = String::new();
    state.terms.clear();
    state.order_id = None;
    state.attributes.clear();
    state.review_comment = None;
    for round in &mut state.previous_rounds {
        round.review_comment = None;
    }
}

/// The parent problem's solution becomes this ticket's, and it moves to review.
fn apply_parent_resolved(state: &mut Ticket, resolved: &ParentResolved) {
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

/// Folds events from the start of a stream.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Ticket {
    events.into_iter().fold(Ticket::default(), apply)
}

pub(super) fn set_deadlines(state: &mut Ticket, deadlines: &Deadlines) {
    state.respond_by = Some(deadlines.respond_by);
    state.resolve_by = Some(deadlines.resolve_by);
    state.warn_respond_at = Some(deadlines.warn_respond_at);
    state.warn_resolve_at = Some(deadlines.warn_resolve_at);
    state.deadlines_policy_version = Some(deadlines.policy_version.clone());
    state.deadlines_calendar_version = Some(deadlines.calendar_version.clone());
}

pub(super) fn set_sla(state: &mut Ticket, deadline: Deadline, sla: SlaState) {
    match deadline {
        Deadline::Respond => state.respond_sla = sla,
        Deadline::Resolve => state.resolve_sla = sla,
    }
}
