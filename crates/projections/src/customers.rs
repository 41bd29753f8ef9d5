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
use domain::ticket::Ticket;
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

/// The newest ticket of each of `hashes` (one contact each) that can make its customer a
/// VIP, opened, without repeats: only a ticket whose stored state holds the JSON string
/// `"vip"` (its `vip` flag, or a mark of the tag `vip`; customer text is escaped and cannot
/// hold it) is parsed, so that for a customer never tagged this costs an index seek a
/// contact. The tickets left out hold neither, so `domain::customer::vip_at_receipt` decides
/// the same on these as on all.
pub fn newest_vip_tickets(
    connection: &Connection,
    hashes: &[Vec<u8>],
) -> Result<Vec<Ticket>, String> {
    use rusqlite::OptionalExtension;
    let mut newest = connection
        .prepare_cached(
            "SELECT seq FROM customer_contacts WHERE contact_hash = ?1 ORDER BY seq DESC LIMIT 1",
        )
        .map_err(|error| format!("read the customer index: {error}"))?;
    let mut seqs = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let seq: Option<i64> = newest
            .query_row([hash], |row| row.get(0))
            .optional()
            .map_err(|error| format!("read the customer index: {error}"))?;
        seqs.extend(seq);
    }
    seqs.sort_unstable();
    seqs.dedup();
    let mut state = connection
        .prepare_cached(
            "SELECT ticket_id, state_json FROM tickets WHERE seq = ?1 \
             AND instr(state_json, '\"vip\"') > 0",
        )
        .map_err(|error| format!("read the tickets of a customer: {error}"))?;
    let mut tickets = Vec::new();
    for seq in seqs {
        let row: Option<(String, String)> = state
            .query_row([seq], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(|error| format!("read the tickets of a customer: {error}"))?;
        if let Some((ticket_id, json)) = row {
            let ticket: Ticket = serde_json::from_str(&json)
                .map_err(|error| format!("stored ticket {ticket_id}: {error}"))?;
            tickets.push(ticket);
        }
    }
    Ok(tickets)
}
