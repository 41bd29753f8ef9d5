//! The customer's own words on their ticket: a reply through a channel (a submission naming
//! the ticket) or through the status page. It never makes a new ticket.

use super::sla::resume_if_paused;
use crate::command::{check_text, MAX_SHORT_CHARS, MAX_TEXT_CHARS};
use crate::event::{CustomerReplied, Event};
use crate::ticket::Ticket;
use crate::types::Step;
use crate::DomainError;
use chrono::{DateTime, Utc};

/// The most replies one ticket takes from its customer: the log must not be filled through a
/// ticket number.
pub const MAX_REPLIES_PER_TICKET: u32 = 50;

/// Records the reply, then resumes a clock paused while waiting for the customer (their
/// answer is what it waited for). In every step once the ticket exists; on an archived ticket
/// it is history only.
pub(super) fn decide_reply(
    state: &Ticket,
    text: &str,
    channel: &str,
    feedback_id: &Option<String>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    check_text("text", text, MAX_TEXT_CHARS)?;
    check_text("channel", channel, MAX_SHORT_CHARS)?;
    if state.customer_replies >= MAX_REPLIES_PER_TICKET {
        return Err(DomainError::LimitReached {
            limit: "replies per ticket".to_owned(),
            reason: format!(
                "ticket {} has {} replies of the customer, the most it may have is \
                 {MAX_REPLIES_PER_TICKET}; customer service will be in touch",
                state.id_text(),
                state.customer_replies
            ),
        });
    }
    // The reply comes first, then what it causes: a reply through intake keeps the first
    // event id derived from its feedback id, which intake's confirmation looks for.
    let mut events = vec![Event::CustomerReplied(CustomerReplied {
        text: text.trim().to_owned(),
        channel: channel.trim().to_owned(),
        feedback_id: feedback_id.clone(),
        at: now,
    })];
    if state.step == Step::Handle {
        events.extend(resume_if_paused(state, now));
    }
    Ok(events)
}
