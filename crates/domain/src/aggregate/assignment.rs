//! Who handles a ticket inside its department: claim, assign, hand back, and unassign on
//! transfer.

use super::{require_step, wrong_step};
use crate::command::{check_text, Command, MAX_SHORT_CHARS};
use crate::event::{Assigned, AssignmentReason, Event, Unassigned};
use crate::ticket::Ticket;
use crate::types::{Policy, Step};
use crate::DomainError;
use chrono::{DateTime, Utc};

/// A transfer to another department takes the ticket away from its assignee.
pub(super) fn unassign_on_transfer(
    state: &Ticket,
    department: &str,
    now: DateTime<Utc>,
) -> Option<Event> {
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
pub(super) fn decide_assignment(
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
