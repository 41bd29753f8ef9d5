//! Erasing a customer's personal data (`Audit.EraseCustomer`): find every ticket of the
//! customer, destroy the keys their personal data is sealed with, then record a
//! `customer_erased` event on each ticket, whose projection drops the contact data in the
//! same transaction.
//!
//! The order matters: keys first, events second. A crash between the two leaves tickets
//! whose customer already reads as erased everywhere (nothing can open it), and a retry
//! appends the missing events. The log is never rewritten: it still verifies, and exports
//! show the sealed objects, which nobody can open any more.
//!
//! Which tickets: the seed is one ticket, or every ticket whose customer id is the given
//! one. The customer's identifiers on the seeds (customer id, phone, e-mail, WeChat openid)
//! each name a key in the key store (`CustomerRef`); every ticket sealed under one of those
//! keys or under a seed's own key is the customer's. The search does not chain further
//! (from a found ticket's other contacts), so two people who once shared a contact do not
//! pull in each other's tickets.

use crate::commands::{failure_from_log, failure_from_read, Commands};
use crate::queries::read_all;
use crate::record::{self, Provenance};
use domain::command::Command;
use domain::ids::{CommandId, EventId, TicketId};
use domain::ticket::Customer;
use domain::types::{Actor, Role};
use domain::DomainError;
use eventlog::LogError;
use rusqlite::OptionalExtension;
use service::Failure;
use std::collections::BTreeMap;
use std::sync::Arc;
use vault::{CustomerRef, KeyId, Vault};

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Whose personal data to erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureTarget {
    /// The customer of this ticket.
    Ticket(TicketId),
    /// The customer with this customer id.
    Customer(String),
}

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureOutcome {
    /// Tickets that got their `customer_erased` event from this command id.
    pub tickets_affected: u64,
    /// Every ticket found for the customer, in receipt order.
    pub ticket_ids: Vec<String>,
    /// Tickets an earlier erasure with another command id had already erased.
    pub tickets_already_erased: u64,
    /// The customer's keys, all destroyed now.
    pub keys: u64,
}

/// The erasure of customers.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub commands: Commands,
    pub vault: Arc<Vault>,
}

/// The key store references of every identifier of a customer, each on its own, so that a
/// key made for a submission that carried only one of them is found too.
fn references_of(customer: &Customer) -> Vec<CustomerRef> {
    let fields = [
        CustomerRef::from_fields(customer.customer_id.as_deref(), None, None, None),
        CustomerRef::from_fields(None, customer.phone.as_deref(), None, None),
        CustomerRef::from_fields(None, None, customer.email.as_deref(), None),
        CustomerRef::from_fields(None, None, None, customer.wechat_openid.as_deref()),
    ];
    fields.into_iter().flatten().collect()
}

/// The tickets and keys of one customer.
#[derive(Debug, Default)]
struct Found {
    /// Ticket id by its receipt order (`seq`).
    tickets: BTreeMap<i64, String>,
    keys: Vec<KeyId>,
}

impl Found {
    fn add_key(&mut self, key: KeyId) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }
}

impl Erasure {
    /// Erases the customer of `target`; see the module documentation. Only an admin may.
    pub async fn erase(
        &self,
        actor: &Actor,
        target: ErasureTarget,
        command_id: &CommandId,
        reason: &str,
    ) -> Result<ErasureOutcome, Failure> {
        if actor.role != Role::Admin {
            return Err(Failure::Domain(DomainError::PermissionDenied {
                reason: format!(
                    "only an admin may erase a customer's personal data, not a {}",
                    actor.role.as_str()
                ),
            }));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Failure::Domain(DomainError::invalid(
                "reason",
                "is required",
            )));
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(Failure::Domain(DomainError::invalid(
                "reason",
                format!("is longer than {MAX_REASON_CHARS} characters"),
            )));
        }
        let this = self.clone();
        let command = command_id.to_string();
        let found =
            tokio::task::spawn_blocking(move || this.find_and_destroy_keys(&target, &command))
                .await
                .map_err(|error| Failure::Internal(format!("erasure task failed: {error}")))??;
        let mut outcome = ErasureOutcome {
            keys: found.keys.len() as u64,
            ..ErasureOutcome::default()
        };
        for ticket_text in found.tickets.values() {
            let ticket_id = TicketId::parse(ticket_text)
                .map_err(|error| Failure::Internal(format!("stored ticket id: {error}")))?;
            match self
                .record_erasure(actor, &ticket_id, command_id, reason)
                .await?
            {
                Recorded::Now => outcome.tickets_affected += 1,
                Recorded::Before => outcome.tickets_already_erased += 1,
            }
            outcome.ticket_ids.push(ticket_text.clone());
        }
        if !found.tickets.is_empty() {
            self.truncate_wal().await;
        }
        tracing::info!(
            tickets = outcome.ticket_ids.len(),
            affected = outcome.tickets_affected,
            keys = outcome.keys,
            principal = %actor.principal,
            "customer erased"
        );
        Ok(outcome)
    }

    /// Finds the customer's tickets and keys, then destroys the keys. Blocking.
    fn find_and_destroy_keys(
        &self,
        target: &ErasureTarget,
        command_id: &str,
    ) -> Result<Found, Failure> {
        let readers = &self.commands.readers;
        let log = &self.commands.log;
        let mut found = Found::default();
        // A repeated command id: the tickets it erased before, whose link through the
        // customer's identifiers went with the keys.
        let command = TicketsOf::Command(command_id.to_owned());
        let earlier = readers
            .with_blocking(move |connection| tickets_of(connection, &command))
            .map_err(failure_from_read)?;
        found.tickets.extend(earlier);
        let mut customers: Vec<Customer> = Vec::new();
        // The seeds.
        match target {
            ErasureTarget::Ticket(ticket_id) => {
                let text = ticket_id.to_string();
                let (ticket, _) = readers
                    .with_blocking(|connection| {
                        projections::load_ticket(connection, &text)
                            .map_err(crate::WorkflowError::Corrupt)
                    })
                    .map_err(failure_from_read)?
                    .ok_or_else(|| DomainError::NotFound {
                        ticket_id: text.clone(),
                    })?;
                let rows = log
                    .read_stream_blocking(&ticket_id.stream_id(), 0)
                    .map_err(failure_from_log)?;
                let keys = audit::sealed_keys_of(&rows)
                    .map_err(|error| Failure::Internal(error.to_string()))?;
                keys.into_iter().for_each(|key| found.add_key(key));
                let seq = rows
                    .first()
                    .map_or(0, |row| i64::try_from(row.position).unwrap_or(i64::MAX));
                found.tickets.insert(seq, text);
                customers.push(ticket.customer);
            }
            ErasureTarget::Customer(customer_id) => {
                customers.push(Customer {
                    customer_id: Some(customer_id.clone()),
                    ..Customer::default()
                });
                let id = TicketsOf::CustomerId(customer_id.clone());
                let tickets = readers
                    .with_blocking(move |connection| tickets_of(connection, &id))
                    .map_err(failure_from_read)?;
                for (seq, ticket_id) in tickets {
                    let loaded = readers
                        .with_blocking(|connection| {
                            projections::load_ticket(connection, &ticket_id)
                                .map_err(crate::WorkflowError::Corrupt)
                        })
                        .map_err(failure_from_read)?;
                    if let Some((ticket, _)) = loaded {
                        customers.push(ticket.customer);
                    }
                    found.tickets.insert(seq, ticket_id);
                }
            }
        }
        // Every key of the seeds' identifiers, and every ticket under one of the keys.
        for customer in &customers {
            for reference in references_of(customer) {
                if let Some(key) = self.vault.key_id_of(&reference).map_err(vault_failure)? {
                    found.add_key(key);
                }
            }
        }
        for key in found.keys.clone() {
            let tickets = readers
                .with_blocking(move |connection| tickets_of(connection, &TicketsOf::Key(key)))
                .map_err(failure_from_read)?;
            found.tickets.extend(tickets);
        }
        // A ticket's rows may name keys that the identifiers did not (a key created for a
        // contact the customer no longer gives).
        let ticket_ids: Vec<String> = found.tickets.values().cloned().collect();
        for ticket_id in &ticket_ids {
            let rows = log
                .read_stream_blocking(&format!("{}{ticket_id}", record::TICKET_STREAM_PREFIX), 0)
                .map_err(failure_from_log)?;
            for key in audit::sealed_keys_of(&rows)
                .map_err(|error| Failure::Internal(error.to_string()))?
            {
                found.add_key(key);
            }
        }
        for key in &found.keys {
            self.vault.erase_key(*key).map_err(vault_failure)?;
        }
        Ok(found)
    }

    /// Records `customer_erased` on one ticket (after its keys are gone), retrying on a
    /// concurrent change.
    async fn record_erasure(
        &self,
        actor: &Actor,
        ticket_id: &TicketId,
        command_id: &CommandId,
        reason: &str,
    ) -> Result<Recorded, Failure> {
        let commands = &self.commands;
        let first = EventId::for_command(command_id, ticket_id, 0);
        let provenance = Provenance::command(actor, command_id);
        let mut attempt = 0u32;
        loop {
            if commands
                .log
                .read_event(first.as_uuid())
                .await
                .map_err(failure_from_log)?
                .is_some()
            {
                return Ok(Recorded::Now);
            }
            let ticket = commands.load_existing(ticket_id).await?;
            let events = domain::decide(
                &ticket,
                &Command::EraseCustomer,
                commands.clock.now(),
                commands.rules.as_ref(),
            )?;
            if events.is_empty() {
                return Ok(Recorded::Before);
            }
            let mut rows = record::new_events(&events, &provenance, |index| {
                EventId::for_command(command_id, ticket_id, index)
            });
            for row in &mut rows {
                // The domain's event carries only the instant; the reason sits beside it in
                // the stored payload for auditors (the fold ignores it).
                if let Some(payload) = row.payload.as_object_mut() {
                    payload.insert("reason".to_owned(), reason.into());
                }
            }
            match commands.append_after(ticket_id, &ticket, rows).await {
                Ok(_) => return Ok(Recorded::Now),
                Err(LogError::Conflict { actual, .. }) => {
                    attempt += 1;
                    if attempt > commands.retries {
                        return Err(Failure::Conflict {
                            expected: ticket.version,
                            actual,
                        });
                    }
                }
                Err(error) => return Err(failure_from_log(error)),
            }
        }
    }

    /// Checkpoints the log's WAL into the database file and truncates it, so that pages
    /// from before the erasure (with the contact data in the projections) do not linger in
    /// the WAL file. Best effort: a long reader may keep it from finishing; the next
    /// checkpoints overwrite the WAL anyway.
    async fn truncate_wal(&self) {
        let path = self.commands.log.path().to_path_buf();
        let result = tokio::task::spawn_blocking(move || {
            let connection = rusqlite::Connection::open(&path)?;
            connection.busy_timeout(std::time::Duration::from_secs(2))?;
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
        })
        .await;
        match result {
            Ok(Ok(0)) => tracing::debug!("log wal truncated after an erasure"),
            Ok(Ok(_)) => {
                tracing::info!("log wal busy after an erasure, left to the next checkpoint")
            }
            Ok(Err(error)) => tracing::warn!(%error, "truncate the log wal after an erasure"),
            Err(error) => tracing::warn!(%error, "wal truncation task failed"),
        }
    }
}

/// Whether a ticket's erasure event was recorded by this command id or before it.
enum Recorded {
    Now,
    Before,
}

fn vault_failure(error: vault::VaultError) -> Failure {
    let text = format!("key store: {error}");
    if service::disk::mentions_full_disk(&text) {
        Failure::Unavailable(service::disk::full_message(text))
    } else {
        Failure::Unavailable(text)
    }
}

/// Which tickets to read, in receipt order with their ids.
enum TicketsOf {
    /// Those whose customer id is this one.
    CustomerId(String),
    /// Those an erasure command id erased.
    Command(String),
    /// Those sealed under a key.
    Key(KeyId),
}

/// The tickets (receipt order, id) that `which` names.
fn tickets_of(
    connection: &rusqlite::Connection,
    which: &TicketsOf,
) -> Result<Vec<(i64, String)>, crate::WorkflowError> {
    let (sql, value, contexts) = match which {
        TicketsOf::CustomerId(customer_id) => (
            "SELECT seq, ticket_id FROM tickets WHERE customer_id = ?1 ORDER BY seq",
            customer_id.clone(),
            (
                "prepare tickets of a customer",
                "read tickets of a customer",
            ),
        ),
        TicketsOf::Command(command_id) => (
            "SELECT seq, ticket_id FROM ticket_erasures WHERE command_id = ?1 ORDER BY seq",
            command_id.clone(),
            (
                "prepare tickets of an erasure",
                "read tickets of an erasure",
            ),
        ),
        TicketsOf::Key(key) => (
            "SELECT seq, ticket_id FROM ticket_keys WHERE key_id = ?1 ORDER BY seq",
            key.to_string(),
            ("prepare tickets of a key", "read tickets of a key"),
        ),
    };
    read_all(connection, sql, [value], contexts, |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
}

/// Whether a ticket's customer was erased, from the projections (for tests and tools).
pub fn is_erased(
    connection: &rusqlite::Connection,
    ticket_id: &str,
) -> Result<Option<bool>, crate::WorkflowError> {
    let json: Option<String> = connection
        .query_row(
            "SELECT state_json FROM tickets WHERE ticket_id = ?1",
            [ticket_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(crate::WorkflowError::sqlite("read a ticket"))?;
    json.map(|json| {
        serde_json::from_str::<domain::Ticket>(&json)
            .map(|ticket| ticket.customer_erased)
            .map_err(|error| crate::WorkflowError::Corrupt(format!("stored ticket: {error}")))
    })
    .transpose()
}
