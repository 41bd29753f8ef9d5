//! The change stream of `WatchTickets`: the matching tickets as they are (when asked), then
//! every change to a matching ticket, with no gap between the two. The snapshot and the log
//! position it reflects are read in one read transaction; the tail then reads the log from
//! that position on, so every change after the snapshot is seen and none before it twice.
//!
//! A ticket that stops matching (moved to another department's queue, no longer overdue) is
//! sent once more in its new state, so a watcher sees it leave; for agents and heads only
//! while their department is still involved.

use super::convert::ticket_summary;
use crate::error::WorkflowError;
use crate::queries::{list_tickets, Readers, TicketFilter};
use crate::record::ticket_of_stream;
use domain::ticket::Ticket;
use eventlog::EventLog;
use futures::Stream;
use projections::{load_ticket, projected_position};
use proto::v1;
use std::collections::HashSet;
use tokio::sync::mpsc;
use tonic::Status;

/// At most this many tickets are sent as the initial state.
pub const MAX_INITIAL_TICKETS: usize = 10_000;

type Item = Result<v1::WatchTicketsResponse, Status>;

/// The tickets matching `filter` and the log position they reflect, read consistently.
fn snapshot(
    readers: &Readers,
    filter: &TicketFilter,
    include_current: bool,
) -> Result<(u64, Vec<Ticket>), WorkflowError> {
    readers.with_blocking(|connection| {
        let transaction = connection
            .unchecked_transaction()
            .map_err(WorkflowError::sqlite("begin the watch snapshot"))?;
        let position = projected_position(&transaction)
            .map_err(WorkflowError::sqlite("read the projected position"))?;
        let mut tickets = Vec::new();
        if include_current {
            let mut after = 0i64;
            loop {
                let page = list_tickets(&transaction, filter, 500, after)?;
                tickets.extend(page.tickets);
                match page.next_page_token.and_then(|token| token.parse().ok()) {
                    Some(next) if tickets.len() < MAX_INITIAL_TICKETS => after = next,
                    _ => break,
                }
            }
        }
        transaction
            .finish()
            .map_err(WorkflowError::sqlite("end the watch snapshot"))?;
        Ok((position, tickets))
    })
}

/// Ends a watch with UNAVAILABLE: what it reads failed.
async fn unavailable(sender: &mpsc::Sender<Item>, error: impl std::fmt::Display) {
    let _ = sender
        .send(Err(Status::unavailable(error.to_string())))
        .await;
}

/// Starts a watch; the stream ends when the client goes away.
pub fn watch(
    log: EventLog,
    readers: Readers,
    filter: TicketFilter,
    include_current: bool,
) -> impl Stream<Item = Item> + Send {
    let (sender, receiver) = mpsc::channel::<Item>(256);
    tokio::spawn(async move {
        let snapshot_readers = readers.clone();
        let snapshot_filter = filter.clone();
        let taken = tokio::task::spawn_blocking(move || {
            snapshot(&snapshot_readers, &snapshot_filter, include_current)
        })
        .await;
        let (mut position, tickets) = match taken {
            Ok(Ok(taken)) => taken,
            Ok(Err(error)) => return unavailable(&sender, error).await,
            Err(error) => {
                let _ = sender.send(Err(Status::internal(error.to_string()))).await;
                return;
            }
        };
        let mut sent: HashSet<String> = HashSet::new();
        for ticket in tickets {
            sent.insert(ticket.id_text());
            let item = v1::WatchTicketsResponse {
                ticket: Some(ticket_summary(&ticket)),
                event_type: String::new(),
                position: 0,
            };
            if sender.send(Ok(item)).await.is_err() {
                return;
            }
        }
        loop {
            let rows = match log.read_all(position + 1, 1_000).await {
                Ok(rows) => rows,
                Err(error) => return unavailable(&sender, error).await,
            };
            let Some(last) = rows.last().map(|row| row.position) else {
                tokio::select! {
                    _ = log.wait_for(position) => continue,
                    _ = sender.closed() => return,
                }
            };
            position = last;
            // The last change of each ticket in this batch, in log order.
            let mut changes: Vec<(String, String, u64)> = Vec::new();
            for row in &rows {
                let Some(ticket_id) = ticket_of_stream(&row.stream_id) else {
                    continue;
                };
                changes.retain(|(seen, _, _)| seen != ticket_id);
                changes.push((ticket_id.to_owned(), row.event_type.clone(), row.position));
            }
            let ids: Vec<String> = changes.iter().map(|(id, _, _)| id.clone()).collect();
            let loaded = readers
                .with(move |connection| {
                    ids.iter()
                        .map(|id| load_ticket(connection, id).map_err(WorkflowError::Corrupt))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await;
            let loaded = match loaded {
                Ok(loaded) => loaded,
                Err(error) => return unavailable(&sender, error).await,
            };
            for ((ticket_id, event_type, event_position), found) in changes.into_iter().zip(loaded)
            {
                let Some((ticket, _)) = found else {
                    continue;
                };
                let matches = filter.matches(&ticket);
                let in_scope = filter
                    .involving_department
                    .as_deref()
                    .is_none_or(|department| ticket.involves_department(department));
                let was_sent = sent.contains(&ticket_id);
                if !(matches || (was_sent && in_scope)) {
                    continue;
                }
                if matches {
                    sent.insert(ticket_id);
                } else {
                    sent.remove(&ticket_id);
                }
                let item = v1::WatchTicketsResponse {
                    ticket: Some(ticket_summary(&ticket)),
                    event_type,
                    position: event_position,
                };
                if sender.send(Ok(item)).await.is_err() {
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}
