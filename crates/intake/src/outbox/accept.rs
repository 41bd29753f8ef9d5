//! The accept path: a submission's row and its idempotency key, or the first answer to a key
//! seen before.

use super::{AcceptOutcome, KeyKind, OutboxRecord};
use rusqlite::{params, Connection, OptionalExtension};

/// Writes `record` (its wait for a confirmation starting at `committed_at_ms`, wall clock) or
/// finds its key.
pub(super) fn accept_one(
    connection: &Connection,
    record: &OutboxRecord,
    content_window_ms: i64,
    committed_at_ms: i64,
) -> Result<AcceptOutcome, rusqlite::Error> {
    let existing: Option<(i64, i64, Vec<u8>)> = connection
        .prepare_cached("SELECT kind, created_at_ms, response FROM idempotency WHERE key = ?1")?
        .query_row([&record.idempotency_key], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    if let Some((kind, created_at_ms, response)) = existing {
        let still_valid = kind == KeyKind::External.code()
            || created_at_ms >= record.received_at_ms.saturating_sub(content_window_ms);
        if still_valid {
            return Ok(AcceptOutcome::Duplicate { response });
        }
    }
    connection
        .prepare_cached(
            "INSERT INTO outbox
                 (feedback_id, ticket_id, subject, payload, received_at_ms, published_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            record.feedback_id,
            record.ticket_id,
            record.subject,
            record.payload,
            record.received_at_ms,
            committed_at_ms
        ])?;
    let seq = connection.last_insert_rowid();
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO idempotency (key, kind, created_at_ms, response)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            record.idempotency_key,
            record.key_kind.code(),
            record.received_at_ms,
            record.response
        ])?;
    let mut contacts = connection.prepare_cached(
        "INSERT OR IGNORE INTO ticket_contacts (ticket_id, contact_hash) VALUES (?1, ?2)",
    )?;
    for hash in &record.contact_hashes {
        contacts.execute(params![record.ticket_id, hash])?;
    }
    Ok(AcceptOutcome::Accepted { seq })
}

/// Whether one of `hashes` is a contact kept for `ticket_id` (`crate::contacts`).
pub(super) fn ticket_has_contact(
    connection: &Connection,
    ticket_id: &str,
    hashes: &[Vec<u8>],
) -> Result<bool, rusqlite::Error> {
    let mut statement = connection.prepare_cached(
        "SELECT 1 FROM ticket_contacts WHERE ticket_id = ?1 AND contact_hash = ?2",
    )?;
    for hash in hashes {
        if statement
            .query_row(params![ticket_id, hash], |_| Ok(()))
            .optional()?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}
