//! Reading stored log rows back: which ticket a stream is, and the domain event of a row.

use domain::event::Event;
use eventlog::RecordedEvent;

/// The stream id prefix of ticket streams; other streams (the configuration's) are not
/// tickets.
pub const TICKET_STREAM_PREFIX: &str = "ticket-";

/// The ticket id of a ticket stream, or `None` for other streams.
pub fn ticket_of_stream(stream_id: &str) -> Option<&str> {
    stream_id.strip_prefix(TICKET_STREAM_PREFIX)
}

/// Reads a stored row back as a domain event with sealed personal data opened from the key
/// store (an erased customer reads as an empty `Customer`). Every path that needs the
/// customer — the projector, command results, GetHistory, GetTicketAt — decodes with this.
pub fn decode_opened(row: &RecordedEvent, vault: &vault::Vault) -> Result<Event, String> {
    audit::decode_row(row, Some(vault))
        .map(|decoded| decoded.event)
        .map_err(|error| format!("event at position {}: {error}", row.position))
}

/// Reads a stored row back as a domain event WITHOUT opening sealed personal data: the
/// customer of a `received` event reads as empty. Only for readers that never look at the
/// customer (the SLA explanation); everything else uses [`decode_opened`].
pub fn decode(row: &RecordedEvent) -> Result<Event, String> {
    let payload: serde_json::Value = serde_json::from_str(&row.payload_json)
        .map_err(|error| format!("payload at position {} is not json: {error}", row.position))?;
    Event::from_parts(&row.event_type, row.schema_version, &payload)
        .map_err(|error| format!("event at position {}: {error}", row.position))
}
