//! Rebuilding the read models from the whole log, in one transaction.

use crate::fold::{record_sealed_keys, set_position, stored_ticket, write_ticket_rows};
use crate::record::{decode, opened, ticket_of_stream};
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
    let mut pending: HashMap<String, PendingTicket> = HashMap::new();
    let mut from = 1u64;
    let mut replayed = 0u64;
    loop {
        let rows = log
            .read_all_blocking(from, 10_000)
            .map_err(|error| format!("read log from {from}: {error}"))?;
        let Some(last) = rows.last() else {
            break;
        };
        from = last.position + 1;
        replayed += rows.len() as u64;
        // The page's sealed data is opened with one read of its keys; the stored rows keep
        // the key ids `ticket_keys` records.
        let opened = opened(&rows, &vault)?;
        for (row, opened) in rows.iter().zip(opened.iter()) {
            fold_for_rebuild(&transaction, &mut pending, (row, opened), &vault)?;
        }
        if pending.len() >= REBUILD_PENDING_TICKETS {
            flush_rebuild(&transaction, &mut pending, &rules)?;
        }
    }
    flush_rebuild(&transaction, &mut pending, &rules)?;
    if from > 1 {
        set_position(&transaction, from - 1).map_err(|error| error.to_string())?;
    }
    schema::migrate(&transaction).map_err(|error| format!("create the indexes: {error}"))?;
    transaction
        .commit()
        .map_err(|error| format!("commit rebuild: {error}"))?;
    Ok(replayed)
}

/// Folds one row (as stored, and opened) into its pending ticket, reading the ticket from
/// the tables when an earlier flush wrote it.
fn fold_for_rebuild(
    connection: &Connection,
    pending: &mut HashMap<String, PendingTicket>,
    (row, opened): (&RecordedEvent, &RecordedEvent),
    vault: &Vault,
) -> Result<(), String> {
    let Some(ticket_id) = ticket_of_stream(&row.stream_id) else {
        return assignment::project_person(connection, std::slice::from_ref(row));
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
    record_sealed_keys(connection, entry.seq, ticket_id, row)?;
    let event = decode(opened)?;
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
