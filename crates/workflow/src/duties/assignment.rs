//! Assignment of tickets to people: the reads of the assignment projections (who has which
//! ticket, who is away, how many tickets each department's policy has given out; the
//! `projections` crate writes them) and the assigner loop.
//!
//! The assigner runs like the SLA timers, every tick, one ticket after another: first it hands
//! back the open tickets of people who are away (to a colleague on duty by the department's
//! policy, or back to the department), then it gives every ticket waiting in step handle at a
//! department with a policy to the person the policy chooses. Each choice is made on the
//! projections as they stand after the previous one, and appended with the version the
//! assigner saw, so a change in between makes it look again at the next tick.

use crate::error::WorkflowError;
use crate::queries::{read_all, read_optional};
use chrono::{DateTime, Utc};
use domain::command::Command;
use domain::ids::{EventId, TicketId};
use domain::rules::assignment::{
    choose_assignee, members_on_duty, person_stream, AssignmentPolicy, AwaySet, AWAY_SET,
};
use domain::types::Actor;
use domain::Rules;
use eventlog::{EventLog, ExpectedVersion, LogError, NewEvent};
use rusqlite::{params, Connection};
use service::duty::Duty;
use service::shutdown::Shutdown;
use service::Failure;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The principal recorded on the policy's assignments.
pub const ASSIGNER: &str = "cloop-workflow/assign";

/// The people who are away now.
pub fn away_people(connection: &Connection) -> Result<BTreeSet<String>, WorkflowError> {
    read_all(
        connection,
        "SELECT name FROM people WHERE away = 1",
        [],
        ("prepare away people", "read away people"),
        |row| row.get::<_, String>(0),
    )
    .map(|people| people.into_iter().collect())
}

/// Whether `person` is away now.
pub fn is_away(connection: &Connection, person: &str) -> Result<bool, WorkflowError> {
    read_optional(
        connection,
        "SELECT away FROM people WHERE name = ?1",
        [person],
        "read away flag",
    )
    .map(|away| away.unwrap_or(false))
}

/// The open tickets (step handle) of each member.
pub fn open_counts(
    connection: &Connection,
    members: &[String],
) -> Result<BTreeMap<String, u64>, WorkflowError> {
    let mut counts = BTreeMap::new();
    let mut statement = connection
        .prepare_cached("SELECT COUNT(*) FROM tickets WHERE assignee = ?1 AND step = 'handle'")
        .map_err(WorkflowError::sqlite("prepare open counts"))?;
    for member in members {
        let count: i64 = statement
            .query_row([member], |row| row.get(0))
            .map_err(WorkflowError::sqlite("count open tickets"))?;
        counts.insert(member.clone(), u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// How many tickets the department's policy has given out so far.
pub fn cursor(connection: &Connection, department: &str) -> Result<u64, WorkflowError> {
    read_optional::<i64>(
        connection,
        "SELECT given FROM assignment_cursor WHERE department = ?1",
        [department],
        "read assignment cursor",
    )
    .map(|given| given.map_or(0, |given| u64::try_from(given).unwrap_or(0)))
}

/// Tickets waiting in step handle at `department` with nobody assigned, oldest first.
pub fn waiting_tickets(
    connection: &Connection,
    department: &str,
    limit: usize,
) -> Result<Vec<String>, WorkflowError> {
    read_all(
        connection,
        "SELECT ticket_id FROM tickets WHERE department = ?1 AND step = 'handle' \
         AND assignee IS NULL ORDER BY seq LIMIT ?2",
        params![department, i64::try_from(limit).unwrap_or(i64::MAX)],
        ("prepare waiting tickets", "read waiting tickets"),
        |row| row.get::<_, String>(0),
    )
}

/// Open tickets (step handle) assigned to someone who is away, with that person, oldest
/// first; only `person`'s when given.
pub fn tickets_of_away_people(
    connection: &Connection,
    person: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, String)>, WorkflowError> {
    read_all(
        connection,
        "SELECT t.ticket_id, t.assignee FROM people p \
         JOIN tickets t ON t.assignee = p.name AND t.step = 'handle' \
         WHERE p.away = 1 AND (?1 IS NULL OR p.name = ?1) ORDER BY t.seq LIMIT ?2",
        params![person, i64::try_from(limit).unwrap_or(i64::MAX)],
        (
            "prepare tickets of away people",
            "read tickets of away people",
        ),
        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
    )
}

/// Whom the department's policy chooses now, on the projections as they stand.
pub fn choose(
    connection: &Connection,
    rules: &Rules,
    department: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, WorkflowError> {
    let Some(config) = rules.config().departments.get(department) else {
        return Ok(None);
    };
    if config.assignment == AssignmentPolicy::None {
        return Ok(None);
    }
    let away = away_people(connection)?;
    let on_duty = members_on_duty(&config.members, &away, rules.calendar(), now);
    if on_duty.is_empty() {
        return Ok(None);
    }
    let counts = if config.assignment == AssignmentPolicy::FewestOpen {
        open_counts(connection, &config.members)?
    } else {
        BTreeMap::new()
    };
    let given = cursor(connection, department)?;
    Ok(
        choose_assignee(config.assignment, &config.members, &on_duty, &counts, given)
            .map(str::to_owned),
    )
}

/// The assigner loop.
#[derive(Debug, Clone)]
pub struct Assigner {
    pub sweep: super::Sweep,
    /// Held by a tick and by `SetAway` from its append to its hand-backs, so that the person's
    /// tickets are handed back (and counted) by one of them only.
    pub lock: Arc<tokio::sync::Mutex<()>>,
}

/// How often a choice is tried again when the ticket changed under it.
const ATTEMPTS: usize = 3;

impl Assigner {
    /// Runs `command` on the ticket, again on a concurrent change; returns the events
    /// recorded.
    async fn record(&self, ticket_id: &TicketId, command: Command) -> Result<usize, WorkflowError> {
        for _ in 0..ATTEMPTS {
            let attempt = command.clone();
            let recorded = self
                .sweep
                .commands
                .execute_system_in(
                    ticket_id,
                    move |_| vec![attempt.clone()],
                    ASSIGNER,
                    "assign",
                )
                .await
                .map_err(corrupt)?;
            if recorded > 0 {
                return Ok(recorded);
            }
            // Nothing recorded: the ticket changed (look again) or has nothing to do.
            let Some(ticket) = self.sweep.commands.load(ticket_id).await.map_err(corrupt)? else {
                return Ok(0);
            };
            if domain::decide(
                &ticket,
                &command,
                self.sweep.now(),
                self.sweep.rules().as_ref(),
            )
            .map(|events| events.is_empty())
            .unwrap_or(true)
            {
                return Ok(0);
            }
        }
        Ok(0)
    }

    /// The departments whose policy assigns on its own.
    fn policy_departments(&self) -> Vec<String> {
        self.sweep
            .rules()
            .config()
            .departments
            .iter()
            .filter(|(_, config)| !config.assignment.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The policy's choice for `department` now.
    async fn choose(&self, department: String) -> Result<Option<String>, WorkflowError> {
        let rules = self.sweep.rules().clone();
        let now = self.sweep.now();
        self.sweep
            .readers()
            .with(move |connection| choose(connection, &rules, &department, now))
            .await
    }

    /// Hands back the open tickets of people who are away (only `person`'s when given);
    /// returns the ids of the tickets handed back.
    pub async fn hand_back(&self, person: Option<String>) -> Result<Vec<String>, WorkflowError> {
        let batch = self.sweep.batch;
        let tickets = self
            .sweep
            .readers()
            .with(move |connection| tickets_of_away_people(connection, person.as_deref(), batch))
            .await?;
        let mut handed = Vec::new();
        for (ticket_text, person) in tickets {
            let Ok(ticket_id) = TicketId::parse(&ticket_text) else {
                continue;
            };
            let Some(ticket) = self
                .sweep
                .commands
                .load(&ticket_id)
                .await
                .map_err(corrupt)?
            else {
                continue;
            };
            let Some(department) = ticket.department.clone() else {
                continue;
            };
            let assignee = self.choose(department).await?;
            let command = Command::HandBack {
                person: person.clone(),
                assignee,
                by: ASSIGNER.to_owned(),
            };
            if self.record(&ticket_id, command).await? > 0 {
                tracing::info!(ticket = %ticket_id, "ticket handed back");
                handed.push(ticket_text);
            }
        }
        Ok(handed)
    }

    /// Gives the waiting tickets of every department with a policy to the person it chooses;
    /// returns how many were assigned.
    pub async fn assign_waiting(&self) -> Result<usize, WorkflowError> {
        let mut assigned = 0;
        for department in self.policy_departments() {
            let batch = self.sweep.batch;
            let name = department.clone();
            let waiting = self
                .sweep
                .readers()
                .with(move |connection| waiting_tickets(connection, &name, batch))
                .await?;
            for ticket_text in waiting {
                let Ok(ticket_id) = TicketId::parse(&ticket_text) else {
                    continue;
                };
                let Some(assignee) = self.choose(department.clone()).await? else {
                    // Nobody is on duty: the tickets wait for the next tick.
                    break;
                };
                let command = Command::AutoAssign {
                    department: department.clone(),
                    assignee,
                    by: ASSIGNER.to_owned(),
                };
                assigned += self.record(&ticket_id, command).await?;
            }
        }
        Ok(assigned)
    }

    /// One tick: hand-backs first, then the waiting tickets.
    pub async fn tick_once(&self) -> Result<usize, WorkflowError> {
        let _turn = self.lock.lock().await;
        let handed = self.hand_back(None).await?.len();
        Ok(handed + self.assign_waiting().await?)
    }

    /// Runs a tick every `tick` until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        if self.policy_departments().is_empty() {
            // Still hand back the tickets of people who go away.
            tracing::debug!("no department assigns automatically");
        }
        Duty::every("assignment tick", self.sweep.tick)
            .run(shutdown, || self.tick_once())
            .await;
    }
}

fn corrupt(failure: Failure) -> WorkflowError {
    WorkflowError::Corrupt(format!("{failure:?}"))
}

/// Records that `person` is away or back, unless they already are; returns whether an event
/// was recorded.
pub async fn set_away(
    log: &EventLog,
    actor: &Actor,
    person: &str,
    away: bool,
    now: DateTime<Utc>,
) -> Result<bool, LogError> {
    let stream = person_stream(person);
    for _ in 0..5 {
        let rows = log.read_stream(&stream, 0).await?;
        let current = rows
            .last()
            .and_then(|row| serde_json::from_str::<AwaySet>(&row.payload_json).ok())
            .is_some_and(|set| set.away);
        if current == away {
            return Ok(false);
        }
        let version = rows.len() as u64;
        let payload = AwaySet {
            away,
            by: actor.principal.clone(),
            at: now,
        };
        let event = NewEvent {
            event_id: EventId::derived(&format!("{stream}/{version}")).as_uuid(),
            event_type: AWAY_SET.to_owned(),
            schema_version: 1,
            occurred_at: now,
            actor: serde_json::to_value(actor).unwrap_or(serde_json::Value::Null),
            correlation_id: None,
            causation_id: None,
            payload: serde_json::to_value(&payload).unwrap_or(serde_json::Value::Null),
        };
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        };
        match log.append(&stream, expected, vec![event]).await {
            Ok(outcome) => return Ok(!outcome.duplicate),
            Err(LogError::Conflict { .. }) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(LogError::Invalid {
        field: "person".to_owned(),
        reason: format!("{person} changed too often at once; try again"),
    })
}
