//! The fold of the log into the SQLite read models: the [`TicketProjector`] the log's writer
//! calls inside its transaction, the rows of a ticket, and the SLA index's next instant.

use crate::record::{decode, opened, ticket_of_stream};
use crate::{assignment, failpoints, order, retention, schema};
use chrono::{DateTime, Utc};
use domain::event::Event;
use domain::ticket::Ticket;
use domain::types::{Deadline, SlaState};
use domain::Rules;
use eventlog::{LogError, Projector, RecordedEvent};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::sync::Arc;
use vault::Vault;

/// The projector the log's writer calls for every appended request.
#[derive(Debug, Clone)]
pub struct TicketProjector {
    rules: Arc<Rules>,
    vault: Arc<Vault>,
    /// A `customer_erased` row was projected since the last commit.
    erased_since_commit: bool,
}

impl TicketProjector {
    /// A projector that opens sealed personal data with `vault`.
    pub fn new(rules: Arc<Rules>, vault: Arc<Vault>) -> Self {
        Self {
            rules,
            vault,
            erased_since_commit: false,
        }
    }

    /// Folds the rows of one stream into the projections (the rows of one request, or one
    /// run of rows during a rebuild).
    pub fn project(&self, connection: &Connection, events: &[RecordedEvent]) -> Result<(), String> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let Some(ticket_id) = ticket_of_stream(&last.stream_id) else {
            assignment::project_person(connection, events)?;
            return set_position(connection, last.position).map_err(|error| error.to_string());
        };
        let (seq, mut ticket) = match stored_ticket(connection, ticket_id, "seq")? {
            Some((seq, ticket)) => (seq, ticket),
            None => (
                i64::try_from(events[0].position).unwrap_or(i64::MAX),
                Ticket::default(),
            ),
        };
        let mut text_changed = false;
        let mut assignee_changed = false;
        // The rows' sealed data is opened with one read of their keys (a ticket's received
        // and classified events, or a reply, share one); the stored rows keep the key ids.
        let opened = opened(events, &self.vault)?;
        for (row, opened) in events.iter().zip(opened.iter()) {
            record_sealed_keys(connection, seq, ticket_id, row)?;
            let event = decode(opened)?;
            crate::customers::project_event(connection, seq, ticket_id, &event, &self.vault)?;
            text_changed |= matches!(
                event,
                Event::Received(_)
                    | Event::Classified(_)
                    | Event::RetentionExpired(_)
                    | Event::CustomerErased(_)
            );
            ticket = domain::apply(ticket, &event);
            if matches!(event, Event::Assigned(_) | Event::Unassigned(_)) {
                assignee_changed = true;
                assignment::project_event(connection, &ticket, &event)
                    .map_err(|error| format!("record the assignment of {ticket_id}: {error}"))?;
            }
        }
        write_ticket(
            connection,
            seq,
            &ticket,
            last.position,
            text_changed,
            &self.rules,
        )
        .map_err(|error| format!("write ticket {ticket_id}: {error}"))?;
        if assignee_changed {
            assignment::project_assignee(connection, seq, &ticket)
                .map_err(|error| format!("write the assignee of {ticket_id}: {error}"))?;
        }
        failpoints::crash_point(failpoints::MID_PROJECTION_UPDATE);
        set_position(connection, last.position).map_err(|error| error.to_string())
    }
}

/// Remembers the key ids of the sealed objects in `row` under the ticket.
pub(crate) fn record_sealed_keys(
    connection: &Connection,
    seq: i64,
    ticket_id: &str,
    row: &RecordedEvent,
) -> Result<(), String> {
    // Most rows hold nothing sealed; only those that mention it are parsed a second time.
    let key_ids = if row.payload_json.contains("\"sealed\"") {
        let payload = row
            .payload_value()
            .map_err(|error| format!("payload at position {}: {error}", row.position))?;
        vault::sealed_key_ids(&payload)
    } else {
        Vec::new()
    };
    record_key_ids(connection, seq, ticket_id, row, &key_ids)
}

/// [`record_sealed_keys`] with the key ids of the row's sealed objects already read
/// (`vault::sealed_key_ids` on its stored payload).
pub(crate) fn record_key_ids(
    connection: &Connection,
    seq: i64,
    ticket_id: &str,
    row: &RecordedEvent,
    key_ids: &[vault::KeyId],
) -> Result<(), String> {
    if row.event_type == "customer_erased" {
        if let Some(command_id) = &row.correlation_id {
            connection
                .prepare_cached(
                    "INSERT OR IGNORE INTO ticket_erasures (command_id, seq, ticket_id) \
                     VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut statement| statement.execute(params![command_id, seq, ticket_id]))
                .map_err(|error| format!("record the erasure of ticket {ticket_id}: {error}"))?;
        }
    }
    for key_id in key_ids {
        connection
            .prepare_cached(
                "INSERT OR IGNORE INTO ticket_keys (key_id, seq, ticket_id) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut statement| {
                statement.execute(params![key_id.to_string(), seq, ticket_id])
            })
            .map_err(|error| format!("record the keys of ticket {ticket_id}: {error}"))?;
    }
    Ok(())
}

impl Projector for TicketProjector {
    fn migrate(&mut self, connection: &Connection) -> Result<(), LogError> {
        // This is the writer's connection: with secure_delete, contact data that a
        // `customer_erased` event overwrites is zeroed in the file, not left in free space.
        connection
            .pragma_update(None, "secure_delete", "ON")
            .map_err(|error| LogError::Projector {
                reason: format!("turn on secure delete: {error}"),
            })?;
        schema::migrate(connection).map_err(|error| LogError::Projector {
            reason: format!("create projection tables: {error}"),
        })
    }

    fn apply(
        &mut self,
        transaction: &Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError> {
        self.erased_since_commit |= events.iter().any(|row| row.event_type == "customer_erased");
        self.project(transaction, events)
            .map_err(LogError::projector)
    }

    /// On a replica of a PostgreSQL log, an erasure recorded by another replica reaches this
    /// replica's projections here: the pages it overwrote (with the contact data) are cleared
    /// from the projection file's write-ahead log, as the replica that ran the erasure does
    /// (`erasure.rs`). On a thread of its own, so the follower never waits for readers.
    fn after_commit(&mut self, connection: &Connection) {
        if !std::mem::take(&mut self.erased_since_commit) {
            return;
        }
        let Some(path) = connection.path().map(std::path::PathBuf::from) else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("projection-wal".to_string())
            .spawn(move || {
                let truncated = Connection::open(&path).and_then(|connection| {
                    connection.busy_timeout(std::time::Duration::from_secs(2))?;
                    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                        row.get::<_, i64>(0)
                    })
                });
                match truncated {
                    Ok(0) => tracing::debug!("projection wal truncated after an erasure"),
                    Ok(_) => tracing::info!(
                        "projection wal busy after an erasure, left to the next checkpoint"
                    ),
                    Err(error) => {
                        tracing::warn!(%error, "truncate the projection wal after an erasure")
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "start the projection wal truncation");
        }
    }
}

fn millis(instant: Option<DateTime<Utc>>) -> i64 {
    instant.map_or(0, |instant| instant.timestamp_millis())
}

/// The helpers as one text column, `,a,b,`, so that `LIKE '%,a,%'` finds a helper.
pub fn helpers_column(helpers: &[String]) -> String {
    if helpers.is_empty() {
        String::new()
    } else {
        format!(",{},", helpers.join(","))
    }
}

/// The columns of a ticket's row in `tickets`, the same in every backend's projections.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRow {
    pub ticket_id: String,
    pub version: i64,
    pub step: &'static str,
    pub department: Option<String>,
    /// `,a,b,` (see [`helpers_column`]).
    pub helpers: String,
    pub priority: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub content_type: Option<&'static str>,
    pub scope: Option<&'static str>,
    pub channel: String,
    pub sla_state: &'static str,
    pub customer_id: Option<String>,
    pub assignee: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Its place in the urgency order (see [`crate::order`]).
    pub urgency_rank: i64,
    pub next_deadline_ms: i64,
    /// Not archived.
    pub is_open: bool,
    /// The whole folded ticket.
    pub state_json: String,
}

impl TicketRow {
    /// The row of `ticket`.
    pub fn of(ticket: &Ticket) -> Result<TicketRow, serde_json::Error> {
        Ok(TicketRow {
            ticket_id: ticket.id_text(),
            version: i64::try_from(ticket.version).unwrap_or(i64::MAX),
            step: ticket.step.as_str(),
            department: ticket.department.clone(),
            helpers: helpers_column(&ticket.helpers),
            priority: ticket.priority.map(|value| value.as_str()),
            kind: ticket.kind.map(|value| value.as_str()),
            content_type: ticket.content_type.map(|value| value.as_str()),
            scope: ticket.scope.map(|value| value.as_str()),
            channel: ticket.channel.clone(),
            sla_state: ticket.sla_state.as_str(),
            customer_id: ticket.customer.customer_id.clone(),
            assignee: ticket.assignee.clone(),
            created_at_ms: millis(ticket.created_at),
            updated_at_ms: millis(ticket.updated_at),
            urgency_rank: order::urgency_rank(ticket),
            next_deadline_ms: order::next_deadline_ms(ticket),
            is_open: !ticket.is_archived(),
            state_json: serde_json::to_string(ticket)?,
        })
    }
}

fn write_ticket(
    connection: &Connection,
    seq: i64,
    ticket: &Ticket,
    position: u64,
    text_changed: bool,
    rules: &Rules,
) -> Result<(), rusqlite::Error> {
    write_ticket_rows(
        connection,
        seq,
        ticket,
        position,
        text_changed,
        false,
        rules,
    )
}

/// Writes a ticket's rows; `fresh` when the ticket has none yet (a rebuild writing it for the
/// first time), so there is nothing to delete first.
pub(crate) fn write_ticket_rows(
    connection: &Connection,
    seq: i64,
    ticket: &Ticket,
    position: u64,
    text_changed: bool,
    fresh: bool,
    rules: &Rules,
) -> Result<(), rusqlite::Error> {
    write_ticket_row(connection, seq, ticket, position)?;
    if text_changed {
        write_ticket_text(connection, seq, ticket, fresh)?;
    }
    let ticket_id = ticket.id_text();
    match next_timer_instant(ticket, rules) {
        Some(instant) => {
            connection
                .prepare_cached(
                    "INSERT INTO sla_index (seq, ticket_id, next_check_ms) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(seq) DO UPDATE SET next_check_ms = excluded.next_check_ms",
                )?
                .execute(params![seq, ticket_id, instant.timestamp_millis()])?;
        }
        None if fresh => {}
        None => {
            connection
                .prepare_cached("DELETE FROM sla_index WHERE seq = ?1")?
                .execute([seq])?;
        }
    }
    retention::project(connection, seq, ticket)
}

/// Writes (inserts or replaces) the `tickets` row of `ticket` at `seq`, folded up to log
/// `position`, and its report row ([`crate::report_rows`]): the one write of a ticket's row,
/// for the projector, rebuilds and the benchmarks that seed projections. The `assignee`
/// column is written apart ([`crate::assignment::project_assignee`]).
pub fn write_ticket_row(
    connection: &Connection,
    seq: i64,
    ticket: &Ticket,
    position: u64,
) -> Result<(), rusqlite::Error> {
    let row = TicketRow::of(ticket)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
    connection
        .prepare_cached(
            "INSERT INTO tickets (seq, ticket_id, version, last_position, step, department, \
             helpers, priority, kind, content_type, scope, channel, sla_state, customer_id, \
             created_at_ms, updated_at_ms, state_json, urgency_rank, next_deadline_ms, is_open) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20) \
             ON CONFLICT(seq) DO UPDATE SET version = excluded.version, \
             last_position = excluded.last_position, step = excluded.step, \
             department = excluded.department, helpers = excluded.helpers, \
             priority = excluded.priority, kind = excluded.kind, \
             content_type = excluded.content_type, scope = excluded.scope, \
             channel = excluded.channel, sla_state = excluded.sla_state, \
             customer_id = excluded.customer_id, created_at_ms = excluded.created_at_ms, \
             updated_at_ms = excluded.updated_at_ms, state_json = excluded.state_json, \
             urgency_rank = excluded.urgency_rank, \
             next_deadline_ms = excluded.next_deadline_ms, is_open = excluded.is_open",
        )?
        .execute(params![
            seq,
            row.ticket_id,
            row.version,
            i64::try_from(position).unwrap_or(i64::MAX),
            row.step,
            row.department,
            row.helpers,
            row.priority,
            row.kind,
            row.content_type,
            row.scope,
            row.channel,
            row.sla_state,
            row.customer_id,
            row.created_at_ms,
            row.updated_at_ms,
            row.state_json,
            row.urgency_rank,
            row.next_deadline_ms,
            row.is_open,
        ])?;
    crate::report_rows::write(connection, seq, ticket)
}

/// Writes the `tickets_fts` row of `ticket` at `seq` (its text search); `fresh` when it has
/// none yet, so there is nothing to delete first.
pub fn write_ticket_text(
    connection: &Connection,
    seq: i64,
    ticket: &Ticket,
    fresh: bool,
) -> Result<(), rusqlite::Error> {
    if !fresh {
        connection
            .prepare_cached("DELETE FROM tickets_fts WHERE rowid = ?1")?
            .execute([seq])?;
    }
    connection
        .prepare_cached(
            "INSERT INTO tickets_fts (rowid, content, product, order_id, keywords) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            seq,
            ticket.content,
            ticket.product.clone().unwrap_or_default(),
            ticket.order_id.clone().unwrap_or_default(),
            ticket.keywords.join(" "),
        ])?;
    Ok(())
}

pub(crate) fn set_position(connection: &Connection, position: u64) -> Result<(), rusqlite::Error> {
    connection
        .prepare_cached(
            "INSERT INTO projection_state (key, value) VALUES ('position', ?1) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )?
        .execute([i64::try_from(position).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// The log position the projections have folded in (0 when they are empty).
pub fn projected_position(connection: &Connection) -> Result<u64, rusqlite::Error> {
    let value: Option<i64> = connection
        .query_row(
            "SELECT value FROM projection_state WHERE key = 'position'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(value.map_or(0, |value| u64::try_from(value).unwrap_or(0)))
}

/// The deadline an SLA timer should escalate from, and the instant of the next escalation
/// level, when one is configured.
fn next_escalation(ticket: &Ticket, deadline: Deadline, rules: &Rules) -> Option<DateTime<Utc>> {
    let due = ticket.due_of(deadline)?;
    let level = usize::from(ticket.escalation_level) + 1;
    rules.escalation(due, level).map(|(_, at)| at)
}

/// The next instant at which the SLA timers must look at a ticket: the warning of a deadline
/// that is on time, the deadline itself once warned, or the next escalation level once
/// breached. `None` when nothing is left (archived, paused, or every deadline met).
pub fn next_timer_instant(ticket: &Ticket, rules: &Rules) -> Option<DateTime<Utc>> {
    if !ticket.exists() || ticket.is_archived() || ticket.is_paused() {
        return None;
    }
    let mut next: Option<DateTime<Utc>> = None;
    for deadline in [Deadline::Respond, Deadline::Resolve] {
        if !ticket.deadline_open(deadline) {
            continue;
        }
        let candidate = match ticket.sla_of(deadline) {
            SlaState::OnTime => match (ticket.warn_of(deadline), ticket.due_of(deadline)) {
                (Some(warn), Some(due)) => Some(warn.min(due)),
                (warn, due) => warn.or(due),
            },
            SlaState::Warning => ticket.due_of(deadline),
            SlaState::Breached => next_escalation(ticket, deadline, rules),
        };
        if let Some(candidate) = candidate {
            next = Some(next.map_or(candidate, |current| current.min(candidate)));
        }
    }
    next
}

/// Reads one ticket's folded state and the position of its last event.
pub fn load_ticket(
    connection: &Connection,
    ticket_id: &str,
) -> Result<Option<(Ticket, u64)>, String> {
    Ok(stored_ticket(connection, ticket_id, "last_position")?
        .map(|(position, ticket)| (ticket, u64::try_from(position).unwrap_or(0))))
}

/// A ticket's stored state with one integer column of its row (`seq` or `last_position`).
pub(crate) fn stored_ticket(
    connection: &Connection,
    ticket_id: &str,
    column: &'static str,
) -> Result<Option<(i64, Ticket)>, String> {
    let row: Option<(i64, String)> = connection
        .prepare_cached(&format!(
            "SELECT {column}, state_json FROM tickets WHERE ticket_id = ?1"
        ))
        .and_then(|mut statement| {
            statement
                .query_row([ticket_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(|error| format!("read ticket {ticket_id}: {error}"))?;
    row.map(|(value, json)| {
        serde_json::from_str(&json)
            .map(|ticket| (value, ticket))
            .map_err(|error| format!("stored ticket {ticket_id} is not valid: {error}"))
    })
    .transpose()
}
