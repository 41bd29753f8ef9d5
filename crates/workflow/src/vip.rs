//! The VIP flag on a customer's tickets: the one place the workflow decides which of a
//! customer's tickets take the `[sla.vip]` row.
//!
//! A customer is a VIP while the staff tag `vip` is on them (`domain::customer::staff_tags`
//! over their tickets, found through the keyed hashes of the `customer_contacts` projection).
//! Each ticket carries the flag itself (`Ticket::vip`), so that its deadlines, a
//! reclassification and a reopening take the VIP row without looking at other tickets:
//!
//! - At receipt ([`receipt_flags`]): the consumer asks whether the new ticket's customer is
//!   a VIP before it decides the first events (`domain::customer::vip_at_receipt` on the
//!   newest earlier ticket of each of their contacts: a handful of reads, however many tickets
//!   the customer has), and `received` records `vip` with the VIP deadlines
//!   (`domain::decide_receipt`).
//! - When the tag `vip` is put on or taken off ([`recompute_customer`], after
//!   `Customers.TagCustomer`): every ticket of the customer not yet archived whose flag
//!   differs records `sla_recomputed` with the deadlines the aggregate computed again
//!   (`Command::RecomputeSla`), at most [`MAX_RECOMPUTED`] tickets, newest first. The state a
//!   ticket is recomputed on is folded from its own events in the log, and the event ids
//!   derive from the ticket and the version seen, so a retry records nothing twice.
//!
//! A recomputation reads at most the newest [`MAX_LOOKED_UP`] tickets of a customer.

use crate::commands::{failure_from_log, failure_from_read, Commands};
use crate::record::{self, Provenance};
use domain::command::Command;
use domain::customer;
use domain::ids::{EventId, TicketId};
use domain::ticket::{Customer, Ticket};
use domain::types::Actor;
use eventlog::LogError;
use service::Failure;
use std::sync::Arc;
use vault::Vault;

/// The most tickets of one customer a change of the tag recomputes (the newest open ones).
pub const MAX_RECOMPUTED: usize = 100;

/// The most tickets of one customer a recomputation reads (the newest).
pub const MAX_LOOKED_UP: usize = 1_000;

/// The principal of the `sla_recomputed` events.
pub const PRINCIPAL: &str = "cloop-workflow/vip";

/// The reason `sla_recomputed` gives when the customer became a VIP.
pub const REASON_TAGGED: &str = "the customer was tagged vip";

/// The reason `sla_recomputed` gives when the customer stopped being a VIP.
pub const REASON_UNTAGGED: &str = "the vip tag was taken off the customer";

/// The contact index key, read on the blocking pool (the key store may be PostgreSQL).
pub async fn contact_index_key(vault: &Arc<Vault>) -> Result<[u8; 32], Failure> {
    let vault = Arc::clone(vault);
    tokio::task::spawn_blocking(move || {
        eventlog::postgres::on_blocking_pool(|| vault.contact_index_key())
    })
    .await
    .map_err(|error| Failure::Internal(format!("key store task failed: {error}")))?
    .map_err(|error| Failure::Unavailable(format!("key store: {error}")))
}

/// Whether the staff tag `vip` is on the customer of these tickets.
pub fn is_vip<'a>(tickets: impl IntoIterator<Item = &'a Ticket>) -> bool {
    customer::staff_tags(tickets)
        .iter()
        .any(|tag| tag == customer::VIP_TAG)
}

/// The tickets of the customer with any of `hashes`, oldest first: at most the newest
/// [`MAX_LOOKED_UP`].
pub async fn customer_tickets(
    commands: &Commands,
    hashes: Vec<Vec<u8>>,
) -> Result<Vec<(TicketId, Ticket)>, Failure> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids = commands
        .readers
        .with(move |connection| {
            projections::customers::tickets_with(connection, &hashes)
                .map_err(crate::WorkflowError::sqlite("read the customer index"))
        })
        .await
        .map_err(failure_from_read)?;
    if ids.len() > MAX_LOOKED_UP {
        ids.drain(..ids.len() - MAX_LOOKED_UP);
    }
    let mut tickets = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(ticket_id) = TicketId::parse(&id) else {
            continue;
        };
        if let Some((ticket, _)) = commands
            .readers
            .ticket(id)
            .await
            .map_err(failure_from_read)?
        {
            tickets.push((ticket_id, ticket));
        }
    }
    Ok(tickets)
}

/// For each new ticket of a batch, whether its customer is a VIP (false for `None`, a message
/// that is no new ticket, and for a customer without any contact): decided by
/// `domain::customer::vip_at_receipt` on the newest earlier ticket of each of their contacts.
/// One read of this replica's projections for the whole batch (the contact index and the
/// tickets are written there in one transaction), and only tickets whose stored state
/// mentions `vip` are parsed (`projections::customers::newest_vip_tickets`): for a batch of
/// customers none of whom was ever tagged, a few index seeks each and nothing more.
pub async fn receipt_flags(
    commands: &Commands,
    customers: &[Option<Customer>],
) -> Result<Vec<bool>, Failure> {
    let reachable = |customer: &&Customer| customer.is_reachable();
    if !customers
        .iter()
        .any(|customer| customer.as_ref().filter(reachable).is_some())
    {
        return Ok(vec![false; customers.len()]);
    }
    let key = contact_index_key(&commands.vault).await?;
    let hashes: Vec<Vec<Vec<u8>>> = customers
        .iter()
        .map(|customer| {
            customer
                .as_ref()
                .filter(reachable)
                .map(|customer| customer::ticket_contact_hashes(&key, customer))
                .unwrap_or_default()
        })
        .collect();
    commands
        .readers
        .with(move |connection| {
            hashes
                .iter()
                .map(|hashes| {
                    if hashes.is_empty() {
                        return Ok(false);
                    }
                    let newest = projections::customers::newest_vip_tickets(connection, hashes)
                        .map_err(crate::WorkflowError::Corrupt)?;
                    Ok(customer::vip_at_receipt(&newest))
                })
                .collect()
        })
        .await
        .map_err(failure_from_read)
}

/// After the tag `vip` was put on or taken off the customer with any of `hashes`: records
/// `sla_recomputed` on each of their tickets not yet archived whose flag differs from the
/// customer's (at most [`MAX_RECOMPUTED`], newest first). Returns how many tickets changed.
pub async fn recompute_customer(
    commands: &Commands,
    hashes: Vec<Vec<u8>>,
) -> Result<usize, Failure> {
    // With several replicas on one PostgreSQL log, see the mark just recorded first.
    commands.log.sync().await.map_err(failure_from_log)?;
    let tickets = customer_tickets(commands, hashes).await?;
    let vip = is_vip(tickets.iter().map(|(_, ticket)| ticket));
    let reason = if vip { REASON_TAGGED } else { REASON_UNTAGGED };
    let stale: Vec<&TicketId> = tickets
        .iter()
        .rev()
        .filter(|(_, ticket)| ticket.exists() && !ticket.is_archived() && ticket.vip != vip)
        .map(|(ticket_id, _)| ticket_id)
        .take(MAX_RECOMPUTED)
        .collect();
    let mut changed = 0;
    for ticket_id in stale {
        if recompute_ticket(commands, ticket_id, vip, reason).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Records `sla_recomputed` on one ticket when the aggregate decides one, on the state folded
/// from the ticket's events. Returns whether an event was recorded.
pub async fn recompute_ticket(
    commands: &Commands,
    ticket_id: &TicketId,
    vip: bool,
    reason: &str,
) -> Result<bool, Failure> {
    let command = Command::RecomputeSla {
        vip,
        reason: reason.to_owned(),
    };
    let ticket_text = ticket_id.to_string();
    for _ in 0..=commands.retries {
        let rows = commands
            .log
            .read_stream(&ticket_id.stream_id(), 0)
            .await
            .map_err(failure_from_log)?;
        if rows.is_empty() {
            return Ok(false);
        }
        let ticket = commands.fold_rows(rows).await?;
        let events = domain::decide(
            &ticket,
            &command,
            commands.clock.now(),
            commands.rules.as_ref(),
        )?;
        if events.is_empty() {
            return Ok(false);
        }
        let version = ticket.version;
        let provenance = Provenance {
            actor: Actor::system(PRINCIPAL),
            correlation_id: None,
            causation_id: Some(format!("vip/{ticket_text}/{version}")),
        };
        let rows = record::new_events(&events, &provenance, |index| {
            EventId::derived(&format!("vip/{ticket_text}/{version}/{index}"))
        });
        match commands.append_after(ticket_id, &ticket, rows).await {
            Ok(outcome) => return Ok(!outcome.duplicate),
            Err(LogError::Conflict { .. }) => {
                // Another writer got there first: decide again on its events.
                commands.log.sync().await.map_err(failure_from_log)?;
            }
            Err(error) => return Err(failure_from_log(error)),
        }
    }
    Err(Failure::Unavailable(format!(
        "ticket {ticket_text} kept changing while its deadlines were recomputed"
    )))
}
