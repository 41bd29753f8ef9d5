//! Tickets as they stood at an instant (`GetTicketAt`, `cloop ticket show ID --at TIME`).
//!
//! The instant is compared with each row's **recorded** time, not the time the event says
//! it happened: the question an auditor asks is "what did the system show at that moment",
//! and the system knew an event only once it was recorded. The fold takes the stream's
//! events in version order for as long as they were recorded at or before the instant, so
//! the result is always a state the live service really had.

use chrono::{DateTime, Utc};
use domain::Ticket;
use eventlog::RecordedEvent;
use vault::Vault;

use crate::decode::{decode_rows, TicketEvent};
use crate::error::AuditError;
use crate::source::RowSource;

/// A ticket as it stood at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketAt {
    /// The state, folded from the events recorded by then.
    pub ticket: Ticket,
    /// The global position of the last event folded in.
    pub position: u64,
}

/// Folds the events of one ticket recorded at or before `at`; `None` when the ticket did
/// not exist yet. Already decoded events.
pub fn fold_until(events: &[TicketEvent], at: DateTime<Utc>) -> Option<TicketAt> {
    let mut ticket = Ticket::default();
    let mut position = 0;
    for event in events.iter().take_while(|event| event.recorded_at <= at) {
        ticket = domain::apply(ticket, &event.event);
        position = event.position;
    }
    ticket.exists().then_some(TicketAt { ticket, position })
}

/// The ticket of `rows` (one stream, in version order) as it stood at `at`. Sealed personal
/// data is opened with `vault` when given (erased customers read as empty), else left out.
pub fn ticket_at(
    rows: &[RecordedEvent],
    at: DateTime<Utc>,
    vault: Option<&Vault>,
) -> Result<Option<TicketAt>, AuditError> {
    // The rows recorded by then are opened together: one read of the ticket's keys.
    let known = rows.iter().take_while(|row| row.recorded_at <= at).count();
    let events = decode_rows(&rows[..known], vault)?;
    let mut ticket = Ticket::default();
    let mut position = 0;
    for event in &events {
        ticket = domain::apply(ticket, &event.event);
        position = event.position;
    }
    Ok(ticket.exists().then_some(TicketAt { ticket, position }))
}

/// `ticket_at` for the stream `ticket-<ticket_id>` of a log.
pub fn ticket_at_in(
    source: &dyn RowSource,
    ticket_id: &str,
    at: DateTime<Utc>,
    vault: Option<&Vault>,
) -> Result<Option<TicketAt>, AuditError> {
    let rows = source.read_stream_rows(&format!("{}{ticket_id}", crate::TICKET_STREAM_PREFIX))?;
    ticket_at(&rows, at, vault)
}
