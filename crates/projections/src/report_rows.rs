//! `report_rows`: one compact row per ticket holding only the facts the reports read
//! ([`reports::ReportRow`], about a tenth of `state_json`), so that a report over a million
//! tickets reads and parses no whole ticket. Written with the ticket's `tickets` row
//! ([`crate::write_ticket_row`]), by the projector and by a rebuild; read by receipt time
//! (`created_at_ms`, the same column and rounding as `tickets.created_at_ms`).
//!
//! The row is a pure function of the ticket state: what an erasure or the end of retention
//! takes out of `state_json` (the customer's words, the terms) leaves the row in the same
//! write. For the same reason the row is not part of the projections' digest: the digest
//! hashes `state_json`, which determines it.

use domain::ticket::Ticket;
use reports::ReportRow;
use rusqlite::{params, Connection};

/// Clustered by receipt time (`WITHOUT ROWID`, keyed by `created_at_ms` then `seq`): a
/// period's rows lie side by side in the file, so a report reads them in one sequential
/// range scan. A table keyed by `seq` with an index on the receipt time looked every row up
/// by its `seq` in index order, which is not the order the tickets were stored in when they
/// arrived out of order or came from a rebuild: about 4× slower over a million rows. A
/// ticket's receipt time never changes once received, so its key is fixed.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS report_rows (
        created_at_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        facts TEXT NOT NULL,
        PRIMARY KEY (created_at_ms, seq)
    ) WITHOUT ROWID;";

/// The read of the report rows received in `[?1, ?2)` (milliseconds, as
/// `tickets.created_at_ms`); the reports check the exact instant.
pub const PERIOD_QUERY: &str =
    "SELECT facts FROM report_rows WHERE created_at_ms >= ?1 AND created_at_ms < ?2";

/// Emptied by a rebuild before the log is folded again.
pub const REBUILD_DELETE: &str = "DELETE FROM report_rows;";

/// Tickets filled per batch when an older database gets the table.
const FILL_BATCH: i64 = 1_000;

/// Creates `report_rows`. When it is new in a database that already has tickets (a service
/// upgraded in place), it is filled from each ticket's `state_json`, in batches, in one
/// savepoint: a start stopped half way leaves no table, and the next start fills it again.
pub fn migrate(connection: &Connection) -> Result<(), rusqlite::Error> {
    let existed = crate::upgrade::schema_has(
        connection,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'report_rows'",
    )?;
    if existed {
        return Ok(());
    }
    connection.execute_batch("SAVEPOINT report_rows_fill;")?;
    match create_and_fill(connection) {
        Ok(()) => connection.execute_batch("RELEASE report_rows_fill;"),
        Err(error) => {
            let _ =
                connection.execute_batch("ROLLBACK TO report_rows_fill; RELEASE report_rows_fill;");
            Err(error)
        }
    }
}

fn create_and_fill(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.execute_batch(SCHEMA)?;
    let total: i64 = connection.query_row("SELECT count(*) FROM tickets", [], |row| row.get(0))?;
    if total == 0 {
        return Ok(());
    }
    tracing::info!(
        tickets = total,
        "filling the report rows from the ticket states"
    );
    let mut read = connection
        .prepare("SELECT seq, state_json FROM tickets WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let mut after = i64::MIN;
    let mut filled: i64 = 0;
    loop {
        let batch: Vec<(i64, String)> = read
            .query_map(params![after, FILL_BATCH], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let Some((last, _)) = batch.last() else {
            break;
        };
        after = *last;
        for (seq, json) in &batch {
            let ticket: Ticket = serde_json::from_str(json)
                .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
            write(connection, *seq, &ticket)?;
        }
        let before = filled;
        filled += i64::try_from(batch.len()).unwrap_or(i64::MAX);
        if filled / 100_000 != before / 100_000 || filled == total {
            tracing::info!(filled, tickets = total, "filling the report rows");
        }
    }
    Ok(())
}

/// Writes (inserts or replaces) the report row of `ticket` at `seq`. A ticket not received
/// yet (no receipt time) has none: no report counts it, and its key would change.
pub fn write(connection: &Connection, seq: i64, ticket: &Ticket) -> Result<(), rusqlite::Error> {
    let Some(created_at) = ticket.created_at else {
        return Ok(());
    };
    let facts = ReportRow::json_of(ticket)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
    connection
        .prepare_cached(
            "INSERT INTO report_rows (created_at_ms, seq, facts) VALUES (?1, ?2, ?3) \
             ON CONFLICT(created_at_ms, seq) DO UPDATE SET facts = excluded.facts",
        )?
        .execute(params![created_at.timestamp_millis(), seq, facts])?;
    Ok(())
}
