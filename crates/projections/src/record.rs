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

/// Opens, in place, the sealed personal data of every row of `rows` that holds any, reading
/// the keys of all of them at once (`Vault::open_all_in_place`: on PostgreSQL one query for
/// the slice, so a ticket's `received` event, its replies and its review share one key
/// fetch). Each such row's `payload_json` becomes the opened payload (an erased customer
/// `{"erased": true}`, an erased text the empty value of its type): the rows are for reading
/// with [`decode`], never for checking hashes. Blocking: the key store may be read.
pub fn open_rows(rows: &mut [RecordedEvent], vault: &vault::Vault) -> Result<(), String> {
    let sealed: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| holds_sealed(row))
        .map(|(index, _)| index)
        .collect();
    if sealed.is_empty() {
        return Ok(());
    }
    let mut payloads = Vec::with_capacity(sealed.len());
    for index in &sealed {
        let row = &rows[*index];
        payloads.push(
            row.payload_value()
                .map_err(|error| format!("payload at position {}: {error}", row.position))?,
        );
    }
    vault
        .open_all_in_place(&mut payloads)
        .map_err(|error| format!("open the customer's data: {error}"))?;
    for (index, payload) in sealed.into_iter().zip(payloads) {
        rows[index].payload_json = payload.to_string();
    }
    Ok(())
}

/// `rows` with their sealed personal data opened ([`open_rows`]) for reading with
/// [`decode`], beside the stored rows (which keep the key ids): the rows themselves, not a
/// copy, when none of them holds a sealed object.
pub fn opened<'a>(
    rows: &'a [RecordedEvent],
    vault: &vault::Vault,
) -> Result<std::borrow::Cow<'a, [RecordedEvent]>, String> {
    if !rows.iter().any(holds_sealed) {
        return Ok(std::borrow::Cow::Borrowed(rows));
    }
    let mut copy = rows.to_vec();
    open_rows(&mut copy, vault)?;
    Ok(std::borrow::Cow::Owned(copy))
}

/// Whether a stored row holds a sealed object (a cheap test on its text).
fn holds_sealed(row: &RecordedEvent) -> bool {
    row.payload_json.contains("\"sealed\"")
}

/// Reads a stored row back as a domain event WITHOUT opening sealed personal data: the
/// customer of a `received` event reads as empty, and so does the customer's sealed text
/// (`domain::sealed_text`). For readers that never look at them (the SLA explanation) and
/// for rows already opened with [`open_rows`]; everything else uses [`decode_opened`].
pub fn decode(row: &RecordedEvent) -> Result<Event, String> {
    Event::from_text(&row.event_type, row.schema_version, &row.payload_json)
        .map_err(|error| format!("event at position {}: {error}", row.position))
}

/// A ticket row read for a fold: its domain event, with sealed personal data opened, and the
/// ids of the keys its stored payload is sealed under (what `ticket_keys` records).
#[derive(Debug)]
pub struct DecodedRow {
    pub event: Event,
    pub key_ids: Vec<vault::KeyId>,
}

/// Decodes every ticket row of `rows` (`None` for rows of other streams) as [`open_rows`]
/// then [`decode`] would, with the key ids of [`vault::sealed_key_ids`] on the stored
/// payload, in fewer passes: a row without sealed data is decoded straight from its text;
/// a row with some is parsed once, its key ids taken, opened in place (the keys of the
/// whole slice read at once) and decoded from the opened value. Blocking: the key store may
/// be read.
pub fn decode_rows(
    rows: &[RecordedEvent],
    vault: &vault::Vault,
) -> Result<Vec<Option<DecodedRow>>, String> {
    let mut decoded: Vec<Option<DecodedRow>> = Vec::with_capacity(rows.len());
    let mut sealed: Vec<(usize, serde_json::Value)> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if ticket_of_stream(&row.stream_id).is_none() {
            decoded.push(None);
            continue;
        }
        if holds_sealed(row) {
            let payload = row
                .payload_value()
                .map_err(|error| format!("payload at position {}: {error}", row.position))?;
            decoded.push(None);
            sealed.push((index, payload));
            continue;
        }
        let event = Event::from_text(&row.event_type, row.schema_version, &row.payload_json)
            .map_err(|error| format!("event at position {}: {error}", row.position))?;
        decoded.push(Some(DecodedRow {
            event,
            key_ids: Vec::new(),
        }));
    }
    if sealed.is_empty() {
        return Ok(decoded);
    }
    let key_ids: Vec<Vec<vault::KeyId>> = sealed
        .iter()
        .map(|(_, payload)| vault::sealed_key_ids(payload))
        .collect();
    let (indexes, mut payloads): (Vec<usize>, Vec<serde_json::Value>) = sealed.into_iter().unzip();
    vault
        .open_all_in_place(&mut payloads)
        .map_err(|error| format!("open the customer's data: {error}"))?;
    for ((index, payload), key_ids) in indexes.into_iter().zip(payloads).zip(key_ids) {
        let row = &rows[index];
        let event = Event::from_value(&row.event_type, row.schema_version, payload)
            .map_err(|error| format!("event at position {}: {error}", row.position))?;
        decoded[index] = Some(DecodedRow { event, key_ids });
    }
    Ok(decoded)
}
