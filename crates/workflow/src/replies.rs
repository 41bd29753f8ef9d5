//! Replies on FEEDBACK: a `FeedbackReceived` whose submission names `reply_to_ticket_id` is
//! the customer writing again on that ticket. Intake has already checked that the customer is
//! the ticket's own (a keyed hash of the ticket's contacts, `docs/adapters.md`); here it
//! becomes `customer_replied` on that ticket's stream, never a new ticket.
//!
//! The reply's first event id derives from the feedback id, like a `received` event's, so a
//! redelivered message finds it and changes nothing; its payload names the feedback id, which
//! intake's confirmation reads.

use crate::commands::{failure_from_log, Commands};
use crate::record::{self, feedback_event_id, Provenance};
use domain::command::Command;
use domain::ids::{EventId, FeedbackId, TicketId};
use domain::types::Actor;
use eventlog::LogError;
use prost::Message as _;
use proto::v1;
use service::Failure;

/// The principal recorded on replies that came through a channel adapter.
pub const REPLY_PRINCIPAL: &str = "customer";

/// A reply read from a FEEDBACK message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyMessage {
    pub feedback_id: FeedbackId,
    pub ticket_id: TicketId,
    pub channel: String,
    pub text: String,
}

/// What became of one reply.
#[derive(Debug)]
pub enum ReplyOutcome {
    Recorded,
    /// Recorded before (a redelivery): the first event's id.
    Duplicate(EventId),
    /// The ticket is not in the log yet (its own message may still be on its way).
    NotYet(String),
    /// It can never be recorded (the domain refused it).
    Refused(String),
}

/// The reply a message carries; `None` for a new ticket's submission.
pub fn reply_from_message(payload: &[u8]) -> Result<Option<ReplyMessage>, String> {
    let message = v1::FeedbackReceived::decode(payload)
        .map_err(|error| format!("not a FeedbackReceived message: {error}"))?;
    let submission = message.submission.unwrap_or_default();
    let target = submission.reply_to_ticket_id.trim();
    if target.is_empty() {
        return Ok(None);
    }
    let ticket_id = TicketId::parse(target).map_err(|error| error.to_string())?;
    if message.ticket_id.trim() != ticket_id.as_str() {
        return Err(format!(
            "a reply names ticket {ticket_id} in reply_to_ticket_id and {:?} in ticket_id",
            message.ticket_id
        ));
    }
    Ok(Some(ReplyMessage {
        feedback_id: FeedbackId::parse(&message.feedback_id).map_err(|error| error.to_string())?,
        ticket_id,
        channel: submission.channel,
        text: submission.content,
    }))
}

impl Commands {
    /// Records one reply on its ticket, deciding again after a concurrent change.
    pub async fn record_reply(&self, reply: &ReplyMessage) -> Result<ReplyOutcome, Failure> {
        let first_id = feedback_event_id(&reply.feedback_id, 0);
        let feedback_text = reply.feedback_id.to_string();
        let provenance = Provenance {
            actor: Actor::system(REPLY_PRINCIPAL),
            correlation_id: Some(feedback_text.clone()),
            causation_id: Some(feedback_text.clone()),
        };
        let command = Command::RecordReply {
            text: reply.text.clone(),
            channel: reply.channel.clone(),
            feedback_id: Some(feedback_text),
        };
        let mut synced = false;
        for _ in 0..=self.retries {
            if self
                .log
                .read_event(first_id.as_uuid())
                .await
                .map_err(failure_from_log)?
                .is_some()
            {
                return Ok(ReplyOutcome::Duplicate(first_id));
            }
            let Some(ticket) = self.load(&reply.ticket_id).await? else {
                if !synced {
                    synced = true;
                    self.log.sync().await.map_err(failure_from_log)?;
                    continue;
                }
                return Ok(ReplyOutcome::NotYet(format!(
                    "ticket {} is not in the log yet",
                    reply.ticket_id
                )));
            };
            let events = match domain::decide(&ticket, &command, self.clock.now(), &*self.rules) {
                Ok(events) => events,
                Err(refusal) => return Ok(ReplyOutcome::Refused(refusal.to_string())),
            };
            let rows = record::new_events(&events, &provenance, |index| {
                feedback_event_id(&reply.feedback_id, index)
            });
            match self.append_after(&reply.ticket_id, &ticket, rows).await {
                Ok(outcome) if outcome.duplicate => return Ok(ReplyOutcome::Duplicate(first_id)),
                Ok(_) => return Ok(ReplyOutcome::Recorded),
                Err(LogError::Conflict { .. }) => {
                    self.log.sync().await.map_err(failure_from_log)?;
                    self.metrics.command_retries.inc();
                }
                Err(error) => return Err(failure_from_log(error)),
            }
        }
        Err(Failure::Unavailable(format!(
            "ticket {} kept changing while its reply was recorded",
            reply.ticket_id
        )))
    }
}
