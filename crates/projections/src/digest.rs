//! The digest of the read models: equal digests mean equal state.

use crate::{assignment, retention};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

/// A SHA-256 over every projection row in a fixed order: equal digests mean equal state.
pub fn digest(connection: &Connection) -> Result<String, rusqlite::Error> {
    let mut hasher = Sha256::new();
    let queries = [
        "SELECT seq || '|' || ticket_id || '|' || version || '|' || last_position || '|' || \
         step || '|' || ifnull(department, '') || '|' || helpers || '|' || ifnull(priority, '') \
         || '|' || ifnull(kind, '') || '|' || ifnull(content_type, '') || '|' || \
         ifnull(scope, '') || '|' || channel || '|' || sla_state || '|' || \
         ifnull(customer_id, '') || '|' || created_at_ms || '|' || updated_at_ms || '|' || \
         state_json FROM tickets ORDER BY seq",
        "SELECT rowid || '|' || content || '|' || product || '|' || order_id || '|' || keywords \
         FROM tickets_fts ORDER BY rowid",
        "SELECT seq || '|' || ticket_id || '|' || next_check_ms FROM sla_index ORDER BY seq",
        "SELECT key_id || '|' || seq || '|' || ticket_id FROM ticket_keys ORDER BY key_id, seq",
        "SELECT command_id || '|' || seq || '|' || ticket_id FROM ticket_erasures \
         ORDER BY command_id, seq",
        retention::DIGEST_QUERIES[0],
        retention::DIGEST_QUERIES[1],
        assignment::DIGEST_QUERIES[0],
        assignment::DIGEST_QUERIES[1],
        assignment::DIGEST_QUERIES[2],
        crate::order::DIGEST_QUERY,
        crate::customers::DIGEST_QUERY,
    ];
    for (index, query) in queries.iter().enumerate() {
        hasher.update(format!("table {index}\n").as_bytes());
        let mut statement = connection.prepare(query)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let line: String = row.get(0)?;
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
    }
    Ok(hex::encode(hasher.finalize()))
}
