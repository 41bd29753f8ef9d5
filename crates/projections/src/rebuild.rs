//! Rebuilding the read models from the whole log, in one transaction.

use crate::fold::{record_key_ids, set_position, stored_ticket, write_ticket_rows};
use crate::record::{decode_rows, ticket_of_stream, DecodedRow};
use crate::{assignment, retention, schema};
use domain::event::Event;
use domain::ticket::Ticket;
use domain::Rules;
use eventlog::{EventLog, RecordedEvent};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::Arc;
use vault::Vault;

/// Tickets a rebuild keeps folded in memory before it writes them out (a few hundred MB at
/// most); each is written once per flush instead of once per event.
const REBUILD_PENDING_TICKETS: usize = 100_000;

/// The indexes of `tickets` that a rebuild drops and creates again after the bulk load
/// (`schema::migrate` creates them): building an index once over sorted keys is cheaper than
/// keeping it up to date row by row.
const REBUILD_DEFERRED_INDEXES: [&str; 6] = [
    "tickets_by_department",
    "tickets_by_step",
    "tickets_by_sla",
    "tickets_by_priority",
    "tickets_by_customer",
    "tickets_by_created",
];

/// A ticket folded by a rebuild and not written yet.
struct PendingTicket {
    seq: i64,
    ticket: Ticket,
    last_position: u64,
    text_changed: bool,
    assignee_changed: bool,
    /// Whether the ticket already has rows in the projection tables (written by an earlier
    /// flush of this rebuild).
    stored: bool,
}

/// Empties the projections and folds the whole log into them again, in one transaction.
/// Returns the number of rows replayed.
///
/// The result is the same as projecting every row as it was appended: each ticket is folded
/// in memory and written when the rebuild flushes (every `REBUILD_PENDING_TICKETS` tickets and
/// at the end), with the rows the projector would have left after its last event; the key
/// and erasure rows are recorded row by row as the projector does.
pub fn rebuild(
    connection: &mut Connection,
    log: &EventLog,
    rules: Arc<Rules>,
    vault: Arc<Vault>,
) -> Result<u64, String> {
    connection
        .pragma_update(None, "secure_delete", "ON")
        .map_err(|error| format!("turn on secure delete: {error}"))?;
    schema::migrate(connection).map_err(|error| format!("create projection tables: {error}"))?;
    let transaction = connection
        .transaction()
        .map_err(|error| format!("begin rebuild: {error}"))?;
    transaction
        .execute_batch(
            "DELETE FROM tickets; DELETE FROM tickets_fts; DELETE FROM sla_index; \
             DELETE FROM ticket_keys; DELETE FROM ticket_erasures; \
             DELETE FROM projection_state;",
        )
        .and_then(|()| transaction.execute_batch(retention::REBUILD_DELETE))
        .and_then(|()| transaction.execute_batch(assignment::REBUILD_DELETE))
        .and_then(|()| transaction.execute_batch(crate::customers::REBUILD_DELETE))
        .and_then(|()| transaction.execute_batch(crate::report_rows::REBUILD_DELETE))
        .map_err(|error| format!("empty projections: {error}"))?;
    for index in REBUILD_DEFERRED_INDEXES {
        transaction
            .execute_batch(&format!("DROP INDEX IF EXISTS {index};"))
            .map_err(|error| format!("drop index {index}: {error}"))?;
    }
    // Two threads: this one folds and writes while a reader reads the next pages of the log
    // and decodes them (opening the sealed data with the key store); pages come in order.
    let read = std::thread::scope(|scope| {
        let (pages, received) = std::sync::mpsc::sync_channel(REBUILD_PAGES_AHEAD);
        let reader = std::thread::Builder::new()
            .name("rebuild-reader".to_owned())
            .spawn_scoped(scope, || read_pages(log, &vault, pages))
            .map_err(|error| format!("start the rebuild's reader: {error}"))?;
        let folded = fold_pages(&transaction, received, &vault, &rules);
        reader
            .join()
            .map_err(|_| "the rebuild's reader stopped unexpectedly".to_owned())?;
        folded
    })?;
    let (replayed, last_position) = read;
    if last_position > 0 {
        set_position(&transaction, last_position).map_err(|error| error.to_string())?;
    }
    schema::migrate(&transaction).map_err(|error| format!("create the indexes: {error}"))?;
    transaction
        .commit()
        .map_err(|error| format!("commit rebuild: {error}"))?;
    Ok(replayed)
}

/// Rows a rebuild reads (and decodes) at a time.
const REBUILD_PAGE_ROWS: usize = 10_000;

/// Pages read and decoded ahead of the fold.
const REBUILD_PAGES_AHEAD: usize = 2;

/// One page of the log, read and decoded for the fold.
struct Page {
    rows: Vec<RecordedEvent>,
    /// One per row: `None` for rows of other streams than tickets'.
    decoded: Vec<Option<DecodedRow>>,
}

/// Reads the log from its start, page after page, decodes each page and hands it to the
/// fold, until the log ends (an empty page is sent), a read fails (the error is sent) or the
/// fold stops taking pages (it failed, and says why).
fn read_pages(
    log: &EventLog,
    vault: &Vault,
    pages: std::sync::mpsc::SyncSender<Result<Page, String>>,
) {
    let mut from = 1u64;
    loop {
        let page = log
            .read_all_blocking(from, REBUILD_PAGE_ROWS)
            .map_err(|error| format!("read log from {from}: {error}"))
            .and_then(|rows| {
                let decoded = decode_rows(&rows, vault)?;
                Ok(Page { rows, decoded })
            });
        let last = match &page {
            Ok(page) => page.rows.last().map(|row| row.position),
            Err(_) => None,
        };
        if pages.send(page).is_err() {
            return;
        }
        match last {
            Some(position) => from = position + 1,
            None => return,
        }
    }
}

/// Folds the pages into the projections as they come, writing the pending tickets every
/// `REBUILD_PENDING_TICKETS` tickets and at the end. Returns the number of rows folded and
/// the position of the last.
fn fold_pages(
    connection: &Connection,
    pages: std::sync::mpsc::Receiver<Result<Page, String>>,
    vault: &Vault,
    rules: &Rules,
) -> Result<(u64, u64), String> {
    let mut pending: HashMap<String, PendingTicket> = HashMap::new();
    let mut replayed = 0u64;
    let mut last_position = 0u64;
    let mut ended = false;
    for page in pages {
        let page = page?;
        let Some(last) = page.rows.last() else {
            ended = true;
            break;
        };
        last_position = last.position;
        replayed += page.rows.len() as u64;
        for (row, decoded) in page.rows.iter().zip(page.decoded) {
            fold_for_rebuild(connection, &mut pending, row, decoded, vault)?;
        }
        if pending.len() >= REBUILD_PENDING_TICKETS {
            flush_rebuild(connection, &mut pending, rules)?;
        }
    }
    if !ended {
        return Err("the rebuild's reader stopped before the end of the log".to_owned());
    }
    flush_rebuild(connection, &mut pending, rules)?;
    Ok((replayed, last_position))
}

/// Folds one row (as stored, and decoded with its sealed data opened) into its pending
/// ticket, reading the ticket from the tables when an earlier flush wrote it.
fn fold_for_rebuild(
    connection: &Connection,
    pending: &mut HashMap<String, PendingTicket>,
    row: &RecordedEvent,
    decoded: Option<DecodedRow>,
    vault: &Vault,
) -> Result<(), String> {
    let Some(ticket_id) = ticket_of_stream(&row.stream_id) else {
        return assignment::project_person(connection, std::slice::from_ref(row));
    };
    let Some(DecodedRow { event, key_ids }) = decoded else {
        return Err(format!(
            "the row at position {} was not decoded",
            row.position
        ));
    };
    let entry = match pending.get_mut(ticket_id) {
        Some(entry) => entry,
        None => {
            let entry = match stored_ticket(connection, ticket_id, "seq")? {
                Some((seq, ticket)) => PendingTicket {
                    seq,
                    ticket,
                    last_position: row.position,
                    text_changed: false,
                    assignee_changed: false,
                    stored: true,
                },
                None => PendingTicket {
                    seq: i64::try_from(row.position).unwrap_or(i64::MAX),
                    ticket: Ticket::default(),
                    last_position: row.position,
                    text_changed: false,
                    assignee_changed: false,
                    stored: false,
                },
            };
            pending.entry(ticket_id.to_owned()).or_insert(entry)
        }
    };
    record_key_ids(connection, entry.seq, ticket_id, row, &key_ids)?;
    crate::customers::project_event(connection, entry.seq, ticket_id, &event, vault)?;
    entry.text_changed |= matches!(
        event,
        Event::Received(_)
            | Event::Classified(_)
            | Event::RetentionExpired(_)
            | Event::CustomerErased(_)
    );
    entry.ticket = domain::apply(std::mem::take(&mut entry.ticket), &event);
    if matches!(event, Event::Assigned(_) | Event::Unassigned(_)) {
        entry.assignee_changed = true;
        assignment::project_event(connection, &entry.ticket, &event)
            .map_err(|error| format!("record the assignment of {ticket_id}: {error}"))?;
    }
    entry.last_position = row.position;
    Ok(())
}

/// Writes every pending ticket, in `seq` order, and forgets them.
fn flush_rebuild(
    connection: &Connection,
    pending: &mut HashMap<String, PendingTicket>,
    rules: &Rules,
) -> Result<(), String> {
    let mut tickets: Vec<PendingTicket> = pending.drain().map(|(_, ticket)| ticket).collect();
    tickets.sort_unstable_by_key(|ticket| ticket.seq);
    for entry in tickets {
        write_ticket_rows(
            connection,
            entry.seq,
            &entry.ticket,
            entry.last_position,
            entry.text_changed,
            !entry.stored,
            rules,
        )
        .map_err(|error| format!("write ticket {}: {error}", entry.ticket.id_text()))?;
        if entry.assignee_changed {
            assignment::project_assignee(connection, entry.seq, &entry.ticket).map_err(
                |error| format!("write the assignee of {}: {error}", entry.ticket.id_text()),
            )?;
        }
    }
    Ok(())
}
