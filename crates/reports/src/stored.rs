//! Folding ticket states stored as JSON (the workflow's projections) into a report. Reading
//! the stored text, parsing it and folding overlap: the caller's thread reads, parser threads
//! (one per core, at most 4) turn batches of states into tickets, and one thread folds them.
//! A report does not depend on the order its tickets come in, so the parsers need not keep
//! it. The reports read the compact report rows ([`fold_report_rows`], see [`crate::row`]);
//! whole states ([`fold_stored`]) are what the rows are checked against.

use crate::compute::ReportBuilder;
use crate::people::PeopleBuilder;
use crate::row::ReportRow;
use crate::ReportError;
use domain::Ticket;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Stored ticket states handed to a parser thread at a time.
const PARSE_BATCH: usize = 1_000;

/// A fold of ticket states, one ticket at a time, in any order: a report's builder, or
/// several of them fed by one read.
pub trait TicketFold: Send {
    /// Folds one ticket in.
    fn add_ticket(&mut self, ticket: &Ticket);
}

impl TicketFold for ReportBuilder<'_> {
    fn add_ticket(&mut self, ticket: &Ticket) {
        self.add(ticket);
    }
}

impl TicketFold for PeopleBuilder<'_> {
    fn add_ticket(&mut self, ticket: &Ticket) {
        self.add(ticket);
    }
}

impl<F: TicketFold> TicketFold for Vec<F> {
    fn add_ticket(&mut self, ticket: &Ticket) {
        self.iter_mut().for_each(|fold| fold.add_ticket(ticket));
    }
}

impl<A: TicketFold, B: TicketFold> TicketFold for (A, B) {
    fn add_ticket(&mut self, ticket: &Ticket) {
        self.0.add_ticket(ticket);
        self.1.add_ticket(ticket);
    }
}

impl ReportBuilder<'_> {
    /// Folds in every ticket state of `states` (each the JSON of one `Ticket`), as
    /// [`fold_stored`] does.
    pub fn add_stored<E: Send>(
        &mut self,
        states: impl Iterator<Item = Result<String, E>>,
        corrupt: impl Fn(ReportError) -> E + Sync,
    ) -> Result<(), E> {
        fold_stored(self, states, corrupt)
    }
}

/// Folds in every ticket state of `states` (each the JSON of one `Ticket`). The first error
/// of `states` stops the reading and is returned; a state that is not a ticket is a
/// [`ReportError::CorruptState`], returned as `corrupt` makes it.
pub fn fold_stored<F: TicketFold, E: Send>(
    fold: &mut F,
    states: impl Iterator<Item = Result<String, E>>,
    corrupt: impl Fn(ReportError) -> E + Sync,
) -> Result<(), E> {
    fold_parsed_with(fold, states, &parse_ticket, corrupt)
}

/// Folds in every report row of `rows` (each the JSON of one [`ReportRow`], as
/// `report_rows.facts` holds it), as [`fold_stored`] folds whole ticket states: the same
/// tickets give the same report either way.
pub fn fold_report_rows<F: TicketFold, E: Send>(
    fold: &mut F,
    rows: impl Iterator<Item = Result<String, E>>,
    corrupt: impl Fn(ReportError) -> E + Sync,
) -> Result<(), E> {
    fold_parsed_with(fold, rows, &parse_report_row, corrupt)
}

/// How a parser thread reads one stored text into a ticket.
type Parse = dyn Fn(&str) -> Result<Ticket, ReportError> + Sync;

fn parse_ticket(json: &str) -> Result<Ticket, ReportError> {
    serde_json::from_str::<Ticket>(json).map_err(|error| ReportError::CorruptState {
        reason: format!("stored ticket: {error}"),
    })
}

fn parse_report_row(json: &str) -> Result<Ticket, ReportError> {
    serde_json::from_str::<ReportRow>(json)
        .map(ReportRow::into_ticket)
        .map_err(|error| ReportError::CorruptState {
            reason: format!("stored report row: {error}"),
        })
}

/// The fold of stored texts read by `parse`, on parser threads.
fn fold_parsed_with<F: TicketFold, E: Send>(
    fold: &mut F,
    states: impl Iterator<Item = Result<String, E>>,
    parse: &Parse,
    corrupt: impl Fn(ReportError) -> E + Sync,
) -> Result<(), E> {
    let parsers = std::thread::available_parallelism().map_or(1, |count| count.get().min(4));
    let corrupt = &corrupt;
    std::thread::scope(|scope| {
        let (batches, batch_inbox) = sync_channel::<Vec<String>>(2 * parsers);
        // Shared by the parsers only: when they have all stopped, sending fails.
        let batch_inbox = Arc::new(Mutex::new(batch_inbox));
        let (parsed, parsed_inbox) = sync_channel::<Result<Vec<Ticket>, E>>(2 * parsers);
        for _ in 0..parsers {
            let parsed = parsed.clone();
            let batch_inbox = Arc::clone(&batch_inbox);
            scope.spawn(move || parse_batches(&batch_inbox, &parsed, parse, corrupt));
        }
        drop(parsed);
        drop(batch_inbox);
        let folder = scope.spawn(move || fold_parsed(fold, parsed_inbox));
        let failure = send_batches(states, &batches);
        drop(batches);
        let folded = folder.join().unwrap_or_else(|_| {
            Some(corrupt(ReportError::CorruptState {
                reason: "the report's fold failed".to_owned(),
            }))
        });
        match failure.or(folded) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    })
}

/// Folds the parsed batches in; the first error of a batch is kept, later ones dropped.
fn fold_parsed<F: TicketFold, E>(
    fold: &mut F,
    parsed: Receiver<Result<Vec<Ticket>, E>>,
) -> Option<E> {
    let mut failure = None;
    for tickets in parsed {
        match tickets {
            Ok(tickets) => tickets.iter().for_each(|ticket| fold.add_ticket(ticket)),
            Err(error) => {
                failure.get_or_insert(error);
            }
        }
    }
    failure
}

/// One parser thread: batches of states in, batches of tickets out, until either side stops.
fn parse_batches<E>(
    inbox: &Mutex<Receiver<Vec<String>>>,
    parsed: &SyncSender<Result<Vec<Ticket>, E>>,
    parse: &Parse,
    corrupt: &(impl Fn(ReportError) -> E + Sync),
) {
    loop {
        let next = inbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(batch) = next else { break };
        let tickets = batch
            .iter()
            .map(|json| parse(json).map_err(corrupt))
            .collect();
        if parsed.send(tickets).is_err() {
            break;
        }
    }
}

/// Reads `states` into batches for the parsers: the first read error, if any.
fn send_batches<E>(
    states: impl Iterator<Item = Result<String, E>>,
    batches: &SyncSender<Vec<String>>,
) -> Option<E> {
    let mut batch = Vec::with_capacity(PARSE_BATCH);
    let mut failure = None;
    for state in states {
        match state {
            Ok(json) => batch.push(json),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
        if batch.len() == PARSE_BATCH
            && batches
                .send(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(PARSE_BATCH),
                ))
                .is_err()
        {
            break;
        }
    }
    if !batch.is_empty() {
        let _ = batches.send(batch);
    }
    failure
}
