//! The retention read models: `retention_index`, the archived tickets waiting for their
//! expiry (by archiving time), and `retention_expired`, the tickets whose retention expired
//! (which lists, search and watches leave out).

use domain::ticket::Ticket;
use rusqlite::{params, Connection};

/// The retention tables: archived tickets waiting for their expiry (by archiving time), and
/// the tickets whose retention expired (which lists leave out).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS retention_index (
        seq INTEGER PRIMARY KEY,
        ticket_id TEXT NOT NULL,
        archived_at_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS retention_index_by_archived ON retention_index (archived_at_ms);
    CREATE TABLE IF NOT EXISTS retention_expired (seq INTEGER PRIMARY KEY);";

/// The condition `ListTickets` adds so that expired tickets leave every list.
pub const LIST_CONDITION: &str = "seq NOT IN (SELECT seq FROM retention_expired)";

/// Emptied by a rebuild before the log is folded again.
pub const REBUILD_DELETE: &str = "DELETE FROM retention_index; DELETE FROM retention_expired;";

/// The rows of the retention tables, for the projections' digest.
pub const DIGEST_QUERIES: [&str; 2] = [
    "SELECT seq || '|' || ticket_id || '|' || archived_at_ms FROM retention_index ORDER BY seq",
    "SELECT seq FROM retention_expired ORDER BY seq",
];

/// Creates the retention tables. When they are new in a database that already has tickets
/// (a service upgraded in place), they are filled from the archived tickets, so that they
/// are what a rebuild from the log would make.
pub fn migrate(connection: &Connection) -> Result<(), rusqlite::Error> {
    let existed = crate::upgrade::schema_has(
        connection,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'retention_index'",
    )?;
    connection.execute_batch(SCHEMA)?;
    if existed {
        return Ok(());
    }
    let archived: Vec<(i64, String)> = {
        let mut statement =
            connection.prepare("SELECT seq, state_json FROM tickets WHERE step = 'archive'")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (seq, json) in archived {
        let ticket: Ticket = serde_json::from_str(&json)
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
        project(connection, seq, &ticket)?;
    }
    Ok(())
}

/// Updates the retention tables for the ticket at `seq` after its state changed; the
/// projector calls it after writing the ticket's other rows (it removes the search row of an
/// expired ticket).
pub fn project(connection: &Connection, seq: i64, ticket: &Ticket) -> Result<(), rusqlite::Error> {
    if !ticket.is_archived() {
        // Archiving is final: a ticket that is not archived was never in these tables.
        return Ok(());
    }
    if ticket.retention_expired {
        connection
            .prepare_cached("DELETE FROM retention_index WHERE seq = ?1")?
            .execute([seq])?;
        connection
            .prepare_cached("INSERT OR IGNORE INTO retention_expired (seq) VALUES (?1)")?
            .execute([seq])?;
        connection
            .prepare_cached("DELETE FROM tickets_fts WHERE rowid = ?1")?
            .execute([seq])?;
    } else if let Some(archived_at) = ticket.archived_at {
        connection
            .prepare_cached(
                "INSERT INTO retention_index (seq, ticket_id, archived_at_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(seq) DO UPDATE SET archived_at_ms = excluded.archived_at_ms",
            )?
            .execute(params![
                seq,
                ticket.id_text(),
                archived_at.timestamp_millis()
            ])?;
    }
    Ok(())
}
