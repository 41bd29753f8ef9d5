//! `customer_contacts`: the customer lookup's index, the keyed hash of each contact of a
//! ticket's customer (`domain::customer::contact_hashes`, the key from the key store) mapped
//! to the ticket, so that a customer is found by phone, e-mail, WeChat openid or customer id
//! without a plaintext index of contacts.
//!
//! Filled when a ticket's `received` event is folded (and so on every rebuild), from the
//! customer the projector has just opened with the key store; emptied for a ticket by its
//! `customer_erased` and `retention_expired` events, so an erased customer is found by nobody
//! (and a rebuild, which can no longer open the customer, writes no row for the ticket either).

use domain::event::Event;
use rusqlite::{params, Connection};
use vault::Vault;

/// Creates the table.
pub fn migrate(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS customer_contacts (
            contact_hash BLOB NOT NULL,
            seq INTEGER NOT NULL,
            ticket_id TEXT NOT NULL,
            PRIMARY KEY (contact_hash, seq)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS customer_contacts_by_seq ON customer_contacts (seq);",
    )
}

/// Empties the table before a rebuild.
pub const REBUILD_DELETE: &str = "DELETE FROM customer_contacts;";

/// The digest's view of the table.
pub const DIGEST_QUERY: &str = "SELECT hex(contact_hash) || '|' || seq || '|' || ticket_id \
     FROM customer_contacts ORDER BY contact_hash, seq";

/// Folds one opened event of ticket `ticket_id` (first position `seq`) into the index.
pub fn project_event(
    connection: &Connection,
    seq: i64,
    ticket_id: &str,
    event: &Event,
    vault: &Vault,
) -> Result<(), String> {
    match event {
        Event::Received(received) => {
            if !received.customer.is_reachable() {
                return Ok(());
            }
            let key = vault
                .contact_index_key()
                .map_err(|error| format!("read the contact index key: {error}"))?;
            for hash in domain::customer::ticket_contact_hashes(&key, &received.customer) {
                connection
                    .prepare_cached(
                        "INSERT OR IGNORE INTO customer_contacts (contact_hash, seq, ticket_id) \
                         VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut statement| statement.execute(params![hash, seq, ticket_id]))
                    .map_err(|error| format!("index the contacts of {ticket_id}: {error}"))?;
            }
            Ok(())
        }
        Event::CustomerErased(_) | Event::RetentionExpired(_) => connection
            .prepare_cached("DELETE FROM customer_contacts WHERE seq = ?1")
            .and_then(|mut statement| statement.execute([seq]))
            .map(|_| ())
            .map_err(|error| format!("forget the contacts of {ticket_id}: {error}")),
        _ => Ok(()),
    }
}

/// The ticket ids (in receipt order, without repeats) whose customer has any of `hashes`.
pub fn tickets_with(
    connection: &Connection,
    hashes: &[Vec<u8>],
) -> Result<Vec<String>, rusqlite::Error> {
    let mut found: Vec<(i64, String)> = Vec::new();
    let mut statement = connection
        .prepare_cached("SELECT seq, ticket_id FROM customer_contacts WHERE contact_hash = ?1")?;
    for hash in hashes {
        let rows = statement.query_map([hash], |row| Ok((row.get(0)?, row.get(1)?)))?;
        for row in rows {
            found.push(row?);
        }
    }
    found.sort();
    found.dedup();
    Ok(found.into_iter().map(|(_, ticket_id)| ticket_id).collect())
}

/// The newest ticket (the last received) whose customer has `hash`, if any: one index seek.
pub fn newest_ticket_with(
    connection: &Connection,
    hash: &[u8],
) -> Result<Option<String>, rusqlite::Error> {
    use rusqlite::OptionalExtension;
    connection
        .prepare_cached(
            "SELECT ticket_id FROM customer_contacts WHERE contact_hash = ?1 \
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([hash], |row| row.get(0))
        .optional()
}
