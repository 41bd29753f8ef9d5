//! The suggestion pipeline after the solution: the evaluation before adoption, the delivery
//! of a planned suggestion and the monthly award.
//!
//! * `EvaluateSuggestion` in `handle`, on a suggestion without a solution waiting for
//!   approval: feasibility, cost and benefit, each 1 to 5, give the score. A later evaluation
//!   replaces the earlier one (both stay in the history).
//! * `ProposeSolution` with outcome `adopted` or `planned` needs an evaluation
//!   ([`require_evaluation`]).
//! * `MarkDelivered` on a suggestion whose accepted outcome is `planned`, in `review` or
//!   `archive` (delivery often comes months after the ticket is closed), once.
//! * `GrantAward` (the leader's duty) on an adopted or planned suggestion with an
//!   evaluation, once per ticket: a second grant records nothing.

use crate::award::accepts;
use crate::command::{check_optional_text, check_text, MAX_SHORT_CHARS, MAX_TEXT_CHARS};
use crate::event::{AwardGranted, Delivery, Evaluation, Event};
use crate::ticket::{Approval, Ticket};
use crate::types::{Kind, Outcome, Step};
use crate::DomainError;
use chrono::{DateTime, NaiveDate, Utc};

/// Refuses an adopted or planned outcome of a suggestion that was not evaluated.
pub(super) fn require_evaluation(
    state: &Ticket,
    kind: Kind,
    outcome: Outcome,
) -> Result<(), DomainError> {
    if kind == Kind::Suggestion && accepts(outcome) && state.evaluation.is_none() {
        return Err(DomainError::Precondition {
            reason: format!(
                "evaluate the suggestion first: ticket {} has no evaluation (EvaluateSuggestion) \
                 and an {outcome} outcome needs one",
                state.id_text()
            ),
        });
    }
    Ok(())
}

fn check_figure(field: &str, value: u8) -> Result<(), DomainError> {
    if (1..=5).contains(&value) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("must be between 1 and 5, got {value}"),
        ))
    }
}

fn require_suggestion(state: &Ticket, what: &str) -> Result<(), DomainError> {
    if state.kind == Some(Kind::Suggestion) {
        return Ok(());
    }
    let kind = state
        .kind
        .map_or_else(|| "an unclassified".to_owned(), |kind| format!("a {kind}"));
    Err(DomainError::Precondition {
        reason: format!(
            "only a suggestion {what}: ticket {} is {kind} ticket",
            state.id_text()
        ),
    })
}

/// The department's evaluation of a suggestion (the step is checked by the caller).
pub(super) fn decide_evaluate(
    state: &Ticket,
    (feasibility, cost, benefit): (u8, u8, u8),
    note: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    require_suggestion(state, "is evaluated")?;
    check_figure("feasibility", feasibility)?;
    check_figure("cost", cost)?;
    check_figure("benefit", benefit)?;
    check_optional_text("note", note, MAX_TEXT_CHARS)?;
    if state.approval == Approval::Pending {
        return Err(DomainError::Precondition {
            reason: "a solution is waiting for the head's approval: evaluate before proposing"
                .to_owned(),
        });
    }
    Ok(vec![Event::SuggestionEvaluated(Evaluation {
        feasibility,
        cost,
        benefit,
        score: Evaluation::score_of(feasibility, cost, benefit),
        note: note.to_owned(),
        at: now,
    })])
}

/// The delivery of a planned suggestion, in review or archive, once.
pub(super) fn decide_delivered(
    state: &Ticket,
    delivered_on: NaiveDate,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    require_suggestion(state, "is delivered")?;
    check_optional_text("note", note, MAX_TEXT_CHARS)?;
    let accepted =
        matches!(state.step, Step::Review | Step::Archive) && state.resolved_at.is_some();
    if state.outcome != Some(Outcome::Planned) || !accepted {
        return Err(DomainError::Precondition {
            reason: format!(
                "only a planned suggestion whose solution was accepted is delivered: ticket {} \
                 has outcome {} in step {}",
                state.id_text(),
                state.outcome.map_or("none", Outcome::as_str),
                state.step
            ),
        });
    }
    if let Some(delivery) = &state.delivery {
        return Err(DomainError::Precondition {
            reason: format!(
                "ticket {} was already delivered on {}",
                state.id_text(),
                delivery.delivered_on
            ),
        });
    }
    // A day later than today's UTC date is refused; a day ahead allows for the business
    // calendar's zone east of UTC.
    let latest = (now + chrono::Duration::days(1)).date_naive();
    if delivered_on > latest {
        return Err(DomainError::invalid(
            "delivered_on",
            format!("{delivered_on} is in the future"),
        ));
    }
    Ok(vec![Event::SuggestionDelivered(Delivery {
        delivered_on,
        note: note.to_owned(),
        at: now,
    })])
}

/// The award the leader's duty decided: nothing when the ticket already has one, so that the
/// duty may run twice.
pub(super) fn decide_award(
    state: &Ticket,
    (month, rank, score, reward): (&str, u32, u8, &str),
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    if state.award.is_some() {
        return Ok(Vec::new());
    }
    require_suggestion(state, "is awarded")?;
    if !state.outcome.is_some_and(accepts) || state.evaluation.is_none() {
        return Err(DomainError::Precondition {
            reason: format!(
                "ticket {} is not an evaluated, adopted or planned suggestion",
                state.id_text()
            ),
        });
    }
    crate::award::parse_month(month)?;
    check_text("reward", reward, MAX_SHORT_CHARS)?;
    if rank == 0 {
        return Err(DomainError::invalid("rank", "ranks count from 1"));
    }
    Ok(vec![Event::AwardGranted(AwardGranted {
        month: month.to_owned(),
        rank,
        score,
        reward: reward.to_owned(),
        at: now,
    })])
}
