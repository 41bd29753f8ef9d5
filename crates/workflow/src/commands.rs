//! Commands on tickets: the role check, the ticket's current state, the department check,
//! `decide`, and an append with the expected version. A repeated command id returns the first
//! result and appends nothing, but only to a caller the department check lets through (or to
//! the principal who sent the first one): authorization runs before anything is replayed. A
//! concurrent change is ABORTED when the client sent an expected version and is retried on the
//! new state otherwise.

use crate::clock::Clock;
use crate::metrics::WorkflowMetrics;
use crate::queries::Readers;
use crate::record::{self, Provenance};
use domain::authorize::{authorize, authorize_on_ticket, Action};
use domain::command::Command;
use domain::ids::{CommandId, EventId, TicketId};
use domain::ticket::Ticket;
use domain::types::{Actor, Role};
use domain::{DomainError, Rules};
use eventlog::{EventLog, ExpectedVersion, LogError};
use service::Failure;
use std::sync::Arc;
use vault::Vault;

/// Turns a log error into the failure a caller sees.
pub fn failure_from_log(error: LogError) -> Failure {
    match error {
        LogError::Conflict {
            expected, actual, ..
        } => Failure::Conflict {
            expected: match expected {
                ExpectedVersion::Exact(version) => version,
                ExpectedVersion::NoStream | ExpectedVersion::Any => 0,
            },
            actual,
        },
        error if error.is_unavailable() => Failure::Unavailable(error.to_string()),
        LogError::Invalid { field, reason } => Failure::Domain(DomainError::invalid(field, reason)),
        other => Failure::Internal(other.to_string()),
    }
}

/// Turns a projection read error into the failure a caller sees.
pub fn failure_from_read(error: crate::WorkflowError) -> Failure {
    Failure::Unavailable(error.to_string())
}

/// Refuses a role that may never run `action`, before anything about the ticket is known, so
/// that a refused role learns nothing about which tickets exist.
pub fn require_role(actor: &Actor, action: Action) -> Result<(), Failure> {
    let probe = Ticket {
        version: 1,
        department: actor.department.clone(),
        ..Ticket::default()
    };
    authorize(actor, action, Some(&probe)).map_err(Failure::from)
}

/// The command side of the workflow.
#[derive(Debug, Clone)]
pub struct Commands {
    pub log: EventLog,
    pub readers: Readers,
    pub rules: Arc<Rules>,
    pub clock: Arc<dyn Clock>,
    pub metrics: WorkflowMetrics,
    pub retries: u32,
    /// Opens the sealed customer when a ticket is folded from its rows.
    pub vault: Arc<Vault>,
}

impl Commands {
    /// The ticket as the projections hold it now.
    pub async fn load(&self, ticket_id: &TicketId) -> Result<Option<Ticket>, Failure> {
        self.readers
            .ticket(ticket_id.to_string())
            .await
            .map(|found| found.map(|(ticket, _)| ticket))
            .map_err(failure_from_read)
    }

    /// Counts a person's command by its outcome.
    pub(crate) fn count(&self, name: &str, result: &Result<Ticket, Failure>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(Failure::Domain(DomainError::PermissionDenied { .. })) => "denied",
            Err(Failure::Conflict { .. }) => "conflict",
            Err(Failure::Domain(_)) => "refused",
            Err(_) => "error",
        };
        self.metrics
            .commands
            .with_label_values(&[name, outcome])
            .inc();
    }

    /// The ticket as the projections hold it now; NOT_FOUND when there is none.
    pub(crate) async fn load_existing(&self, ticket_id: &TicketId) -> Result<Ticket, Failure> {
        self.load(ticket_id).await?.ok_or_else(|| {
            DomainError::NotFound {
                ticket_id: ticket_id.to_string(),
            }
            .into()
        })
    }

    /// Authorizes `action` on the current `ticket`, then answers an earlier command with this
    /// id with its first result. The order matters: a caller who may not act on the ticket
    /// learns nothing from a replay, not even that the id was used, unless the caller is the
    /// principal who sent that first command (a retry after the ticket moved on, say to another
    /// department, still gets its own answer). `Ok(None)`: no earlier command, go on.
    pub(crate) async fn authorize_then_replay(
        &self,
        actor: &Actor,
        action: Action,
        ticket: &Ticket,
        ticket_id: &TicketId,
        command_id: &CommandId,
    ) -> Result<Option<Ticket>, Failure> {
        let allowed = authorize_on_ticket(actor, action, ticket, &ticket_id.to_string());
        match allowed {
            Ok(()) => self.earlier_result(ticket_id, command_id, None).await,
            Err(refusal) => match self
                .earlier_result(ticket_id, command_id, Some(&actor.principal))
                .await?
            {
                Some(own) => Ok(Some(own)),
                None => Err(refusal.into()),
            },
        }
    }

    /// The ticket right after the events of the command with this id, which the log holds.
    pub(crate) async fn recorded_result(
        &self,
        ticket_id: &TicketId,
        command_id: &CommandId,
    ) -> Result<Ticket, Failure> {
        self.earlier_result(ticket_id, command_id, None)
            .await?
            .ok_or_else(|| Failure::Internal("a recorded command vanished from the log".into()))
    }

    /// Appends `rows` to the ticket's stream after the version of `ticket` the caller decided
    /// on, the customer's words among them (a reply, a review comment, the terms of a new
    /// classification: `vault::personal_members`) sealed first under the key of the
    /// ticket's customer (`seal_rows`).
    pub(crate) async fn append_after(
        &self,
        ticket_id: &TicketId,
        ticket: &Ticket,
        mut rows: Vec<eventlog::NewEvent>,
    ) -> Result<eventlog::AppendOutcome, LogError> {
        rows = self.seal_rows(ticket, rows).await?;
        self.log
            .append(
                &ticket_id.stream_id(),
                ExpectedVersion::Exact(ticket.version),
                rows,
            )
            .await
    }

    /// Seals the personal members of `rows` under the key of `ticket`'s customer, on the
    /// blocking pool (one key store read for all of them). Rows with nothing personal in
    /// them never touch the key store. A ticket with no known customer (an anonymous one, or
    /// one whose customer was erased: their contact data is gone from it) has no key to seal
    /// under, and its rows are appended as they are.
    async fn seal_rows(
        &self,
        ticket: &Ticket,
        rows: Vec<eventlog::NewEvent>,
    ) -> Result<Vec<eventlog::NewEvent>, LogError> {
        let personal = rows.iter().any(|row| {
            vault::personal_members(&row.event_type)
                .iter()
                .any(|member| row.payload.get(member).is_some())
        });
        if !personal {
            return Ok(rows);
        }
        let customer = &ticket.customer;
        let Some(reference) = vault::CustomerRef::from_fields(
            customer.customer_id.as_deref(),
            customer.phone.as_deref(),
            customer.email.as_deref(),
            customer.wechat_openid.as_deref(),
        ) else {
            return Ok(rows);
        };
        let vault = self.vault.clone();
        let unavailable = |reason: String| LogError::Unavailable { reason };
        tokio::task::spawn_blocking(move || {
            let mut rows = rows;
            let mut events: Vec<(&str, &mut serde_json::Value)> = rows
                .iter_mut()
                .map(|row| (row.event_type.as_str(), &mut row.payload))
                .collect();
            eventlog::postgres::on_blocking_pool(|| vault.seal_personal(&reference, &mut events))
                .map_err(|error| unavailable(format!("seal the customer's text: {error}")))?;
            Ok(rows)
        })
        .await
        .map_err(|error| unavailable(format!("seal task failed: {error}")))?
    }

    /// The ticket as it stood right after the events of an earlier command with this id, or
    /// `None` when no such command was recorded (or, with `sent_by`, when another principal
    /// sent it).
    pub(crate) async fn earlier_result(
        &self,
        ticket_id: &TicketId,
        command_id: &CommandId,
        sent_by: Option<&str>,
    ) -> Result<Option<Ticket>, Failure> {
        let first = EventId::for_command(command_id, ticket_id, 0);
        let stored = self
            .log
            .read_event(first.as_uuid())
            .await
            .map_err(failure_from_log)?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        if let Some(principal) = sent_by {
            let sender = serde_json::from_str::<Actor>(&stored.actor_json).ok();
            if sender.map(|sender| sender.principal).as_deref() != Some(principal) {
                return Ok(None);
            }
        }
        let rows = self
            .log
            .read_stream(&stored.stream_id, 0)
            .await
            .map_err(failure_from_log)?;
        let last_of_command = rows
            .iter()
            .rposition(|row| row.causation_id.as_deref() == Some(command_id.as_str()))
            .unwrap_or(0);
        let rows = rows[..=last_of_command.min(rows.len().saturating_sub(1))].to_vec();
        self.fold_rows(rows).await.map(Some)
    }

    /// Folds rows into a ticket, opening the sealed customer and their words with one read
    /// of the keys (on the blocking pool: the key store may be read).
    pub async fn fold_rows(
        &self,
        mut rows: Vec<eventlog::RecordedEvent>,
    ) -> Result<Ticket, Failure> {
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || {
            eventlog::postgres::on_blocking_pool(|| record::open_rows(&mut rows, &vault))
                .map_err(Failure::Internal)?;
            let mut ticket = Ticket::default();
            for row in &rows {
                let event = record::decode(row).map_err(Failure::Internal)?;
                ticket = domain::apply(ticket, &event);
            }
            Ok(ticket)
        })
        .await
        .map_err(|error| Failure::Internal(format!("fold task failed: {error}")))?
    }

    /// Runs one command of a person: checks the role, finds the ticket, checks the department
    /// (a ticket out of the caller's sight is NOT_FOUND, like a missing one), returns the first
    /// result of a repeated command id, checks the expected version, decides and appends.
    /// Returns the ticket after the command.
    pub async fn execute(
        &self,
        actor: &Actor,
        ticket_id: &TicketId,
        command_id: &CommandId,
        expected_version: Option<u64>,
        command: Command,
    ) -> Result<Ticket, Failure> {
        let name = command.name();
        let result: Result<Ticket, Failure> = async {
            let action = Action::for_command(&command).ok_or_else(|| {
                Failure::Domain(DomainError::PermissionDenied {
                    reason: format!("{} is done by the service itself", command.name()),
                })
            })?;
            require_role(actor, action)?;
            let provenance = Provenance::command(actor, command_id);
            let mut attempt = 0u32;
            // With several replicas on one PostgreSQL log, this replica's projections may not yet
            // hold what another replica just appended: before answering "not found" or "stale
            // version", catch up once with everything committed and look again.
            let mut synced = false;
            loop {
                let Some(ticket) = self.load(ticket_id).await? else {
                    if !synced {
                        synced = true;
                        self.log.sync().await.map_err(failure_from_log)?;
                        continue;
                    }
                    return Err(DomainError::NotFound {
                        ticket_id: ticket_id.to_string(),
                    }
                    .into());
                };
                if let Some(earlier) = self
                    .authorize_then_replay(actor, action, &ticket, ticket_id, command_id)
                    .await?
                {
                    return Ok(earlier);
                }
                if let Some(expected) = expected_version {
                    if expected > ticket.version && !synced {
                        synced = true;
                        self.log.sync().await.map_err(failure_from_log)?;
                        continue;
                    }
                    if expected != ticket.version {
                        return Err(Failure::Conflict {
                            expected,
                            actual: ticket.version,
                        });
                    }
                }
                let now = self.clock.now();
                let events = domain::decide(&ticket, &command, now, self.rules.as_ref())?;
                if events.is_empty() {
                    return Ok(ticket);
                }
                let rows = record::new_events(&events, &provenance, |index| {
                    EventId::for_command(command_id, ticket_id, index)
                });
                let appended = self.append_after(ticket_id, &ticket, rows).await;
                match appended {
                    Ok(outcome) if outcome.duplicate => {
                        // The same command id won a race with this call: answer its result.
                        // (The caller was authorized on this ticket just above.)
                        return self.recorded_result(ticket_id, command_id).await;
                    }
                    Ok(_) => {
                        return Ok(events.iter().fold(ticket, domain::apply));
                    }
                    Err(LogError::Conflict { actual, .. }) => {
                        if let Some(expected) = expected_version {
                            return Err(Failure::Conflict { expected, actual });
                        }
                        // Another writer got there first: see its events before deciding again.
                        self.log.sync().await.map_err(failure_from_log)?;
                        attempt += 1;
                        if attempt > self.retries {
                            return Err(Failure::Conflict {
                                expected: ticket.version,
                                actual,
                            });
                        }
                        self.metrics.command_retries.inc();
                    }
                    Err(error) => return Err(failure_from_log(error)),
                }
            }
        }
        .await;
        if let Ok(ticket) = &result {
            // A solved and reviewed problem is passed on to its children.
            self.after_command(ticket).await;
        }
        self.count(name, &result);
        if let Err(Failure::Unavailable(reason)) = &result {
            if service::disk::mentions_full_disk(reason) {
                service::disk::alarm(&self.metrics.disk_full, "event log", reason);
            }
        }
        result
    }

    /// Runs commands of the services themselves (the SLA timers) on one ticket, in order, on
    /// the state each leaves. Appends whatever they decided in one request; returns how many
    /// events were recorded. A concurrent change makes it return 0: the timers look again.
    pub async fn execute_system(
        &self,
        ticket_id: &TicketId,
        plan: impl Fn(&Ticket) -> Vec<Command>,
        principal: &str,
    ) -> Result<usize, Failure> {
        self.execute_system_in(ticket_id, plan, principal, "sla")
            .await
    }

    /// [`Commands::execute_system`] for another part of the service: `namespace` keeps the
    /// derived event ids and the causation (`<namespace>/<ticket>/<version>`) apart from the
    /// timers'.
    pub async fn execute_system_in(
        &self,
        ticket_id: &TicketId,
        plan: impl Fn(&Ticket) -> Vec<Command>,
        principal: &str,
        namespace: &str,
    ) -> Result<usize, Failure> {
        let Some(ticket) = self.load(ticket_id).await? else {
            return Ok(0);
        };
        let now = self.clock.now();
        let mut state = ticket.clone();
        let mut events = Vec::new();
        for command in plan(&ticket) {
            let decided = domain::decide(&state, &command, now, self.rules.as_ref())?;
            for event in decided {
                state = domain::apply(state, &event);
                events.push(event);
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        let provenance = Provenance {
            actor: Actor {
                principal: principal.to_owned(),
                role: Role::System,
                department: None,
            },
            correlation_id: None,
            causation_id: Some(format!("{namespace}/{ticket_id}/{}", ticket.version)),
        };
        let ticket_text = ticket_id.to_string();
        let rows = record::new_events(&events, &provenance, |index| {
            if namespace == "sla" {
                record::timer_event_id(&ticket_text, ticket.version, index)
            } else {
                EventId::derived(&format!(
                    "{namespace}/{ticket_text}/{}/{index}",
                    ticket.version
                ))
            }
        });
        match self.append_after(ticket_id, &ticket, rows).await {
            Ok(outcome) if outcome.duplicate => Ok(0),
            Ok(_) => Ok(events.len()),
            Err(LogError::Conflict { .. }) => Ok(0),
            Err(error) => Err(failure_from_log(error)),
        }
    }
}
