//! The archived ticket's commands, customer erasure and the notification records.

use super::{already_exists, wrong_step};
use crate::command::{
    check_text, check_token, Command, NotificationRecord, NotificationResult, MAX_SHORT_CHARS,
    MAX_TEXT_CHARS,
};
use crate::event::{
    Archived, CustomerErased, CustomerNotified, Event, NotificationFailed, RetentionExpired,
};
use crate::ids::EventId;
use crate::ticket::Ticket;
use crate::types::NoticeKind;
use crate::DomainError;
use chrono::{DateTime, Utc};

pub(super) fn decide_archived(
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
        Command::RecordReply {
            text,
            channel,
            feedback_id,
        } => super::reply::decide_reply(state, text, channel, feedback_id, now),
        // A planned suggestion is often delivered, and awarded, after its ticket is closed.
        Command::MarkDelivered { delivered_on, note } => {
            super::suggestion::decide_delivered(state, *delivered_on, note, now)
        }
        Command::GrantAward {
            month,
            rank,
            score,
            reward,
        } => super::suggestion::decide_award(state, (month, *rank, *score, reward), now),
        Command::TagCustomer { tag, remove } => {
            crate::customer::decide_tag(state, tag, *remove, now)
        }
        // Timers of an archived ticket have nothing left to do.
        Command::RaiseSlaWarning { .. }
        | Command::RecordSlaBreach { .. }
        | Command::EscalateSla { .. } => Ok(Vec::new()),
        // Nothing to assign or hand back on an archived ticket, and no clock to recompute.
        Command::AutoAssign { .. } | Command::HandBack { .. } | Command::RecomputeSla { .. } => {
            Ok(Vec::new())
        }
        _ => Err(wrong_step(state, command)),
    }
}

/// Records a delivery attempt of a customer notice, in any step: the closing notice is sent
/// after the ticket is archived.
pub(super) fn decide_notification(
    record: &NotificationRecord,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    EventId::parse(&record.source_event_id)
        .map_err(|_| DomainError::invalid("source_event_id", "must be an event id (a uuid)"))?;
    if record.attempt == 0 {
        return Err(DomainError::invalid("attempt", "attempts count from 1"));
    }
    let recipient = match (&record.recipient, record.notice) {
        (Some(recipient), NoticeKind::StaffAlert) => {
            check_text("recipient", recipient, MAX_SHORT_CHARS)?;
            Some(recipient.trim().to_owned())
        }
        (None, NoticeKind::StaffAlert) => {
            return Err(DomainError::invalid(
                "recipient",
                "a staff alert names its recipient",
            ))
        }
        (Some(_), _) => {
            return Err(DomainError::invalid(
                "recipient",
                "only a staff alert names a recipient",
            ))
        }
        (None, _) => None,
    };
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
                recipient,
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
                recipient,
            })
        }
    };
    Ok(vec![event])
}

pub(super) fn erase_customer(state: &Ticket, now: DateTime<Utc>) -> Vec<Event> {
    if state.customer_erased {
        Vec::new()
    } else {
        vec![Event::CustomerErased(CustomerErased { at: now })]
    }
}

/// Archiving, from review once the customer's review is recorded.
pub(super) fn decide_archive(
    state: &Ticket,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    if state.satisfaction.is_none() {
        return Err(DomainError::Precondition {
            reason: "no review yet: the customer's review must be recorded before the ticket \
                     is archived"
                .to_owned(),
        });
    }
    Ok(vec![Event::Archived(Archived { at: now })])
}
