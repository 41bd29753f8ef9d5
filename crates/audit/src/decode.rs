//! Reading log rows back as ticket events: `TicketEvent` keeps the row's position, id and
//! times beside the domain event, so that every finding can name the rows that show it.

use chrono::{DateTime, Utc};
use domain::Event;
use eventlog::RecordedEvent;
use uuid::Uuid;
use vault::Vault;

use crate::error::AuditError;

/// The stream id prefix of ticket streams; other streams (the configuration's) are skipped.
pub const TICKET_STREAM_PREFIX: &str = "ticket-";

/// Whether a stream holds a ticket.
pub fn is_ticket_stream(stream_id: &str) -> bool {
    stream_id.starts_with(TICKET_STREAM_PREFIX)
}

/// One ticket event with the envelope fields an auditor cites.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketEvent {
    /// Global position of the row.
    pub position: u64,
    /// The stream, `ticket-<id>`.
    pub stream_id: String,
    /// The event's version in its stream.
    pub stream_version: u64,
    /// The event id.
    pub event_id: Uuid,
    /// When the log recorded it: when the system knew it.
    pub recorded_at: DateTime<Utc>,
    /// The event.
    pub event: Event,
}

/// Decodes one row. With a key store, sealed personal data is opened (an erased customer
/// becomes `{"erased": true}`, which reads as an empty customer, and an erased text the
/// empty value of its type); without one it is replaced by `{"redacted": true}`, which
/// reads as empty too.
pub fn decode_row(row: &RecordedEvent, vault: Option<&Vault>) -> Result<TicketEvent, AuditError> {
    Ok(enveloped(row, decode_event(row, vault)?))
}

/// `event` in the envelope of `row`.
fn enveloped(row: &RecordedEvent, event: Event) -> TicketEvent {
    TicketEvent {
        position: row.position,
        stream_id: row.stream_id.clone(),
        stream_version: row.stream_version,
        event_id: row.event_id,
        recorded_at: row.recorded_at,
        event,
    }
}

/// Decodes one row's event alone, like [`decode_row`] without the envelope (for folds that
/// need nothing else, such as a replay).
pub fn decode_event(row: &RecordedEvent, vault: Option<&Vault>) -> Result<Event, AuditError> {
    let mut payload = row.payload_value()?;
    match vault {
        Some(vault) => {
            vault.open_in_place(&mut payload)?;
        }
        None => {
            vault::redact_sealed(&mut payload);
        }
    }
    event_of(row, &payload)
}

/// The domain event of `row` from its (opened or redacted) payload.
fn event_of(row: &RecordedEvent, payload: &serde_json::Value) -> Result<Event, AuditError> {
    Event::from_parts(&row.event_type, row.schema_version, payload).map_err(|error| {
        AuditError::MalformedRow {
            position: row.position,
            reason: error.to_string(),
        }
    })
}

/// Decodes the rows of one ticket stream, in order, like [`decode_row`] on each but opening
/// the sealed personal data of all of them with one read of their keys
/// (`Vault::open_all_in_place`): a ticket's `received` event, its replies and its review
/// share one key fetch.
pub fn decode_rows(
    rows: &[RecordedEvent],
    vault: Option<&Vault>,
) -> Result<Vec<TicketEvent>, AuditError> {
    let Some(vault) = vault else {
        return rows.iter().map(|row| decode_row(row, None)).collect();
    };
    let mut payloads = rows
        .iter()
        .map(RecordedEvent::payload_value)
        .collect::<Result<Vec<_>, _>>()?;
    vault.open_all_in_place(&mut payloads)?;
    rows.iter()
        .zip(&payloads)
        .map(|(row, payload)| Ok(enveloped(row, event_of(row, payload)?)))
        .collect()
}
