//! The assignment read models: who has which ticket (`tickets.assignee`, indexed with the
//! step), who is away (`people`, folded from each person's `person-<name>` stream) and how many
//! tickets each department's policy has given out (`assignment_cursor`: the round robin turns
//! on it, so the same log always gives the same choices).

use domain::event::{AssignmentReason, Event};
use domain::rules::assignment::{person_of_stream, AwaySet, AWAY_SET};
use domain::ticket::Ticket;
use eventlog::RecordedEvent;
use rusqlite::{params, Connection};

/// The rows of the assignment tables, for the projections' digest.
pub const DIGEST_QUERIES: [&str; 3] = [
    "SELECT seq || '|' || ifnull(assignee, '') FROM tickets ORDER BY seq",
    "SELECT name || '|' || away || '|' || updated_at_ms FROM people ORDER BY name",
    "SELECT department || '|' || given FROM assignment_cursor ORDER BY department",
];

/// What a rebuild empties (the `assignee` column goes with the tickets).
pub const REBUILD_DELETE: &str = "DELETE FROM people; DELETE FROM assignment_cursor;";

/// Adds the `assignee` column to a tickets table made before it existed, and the tables of
/// people and cursors.
pub fn migrate(connection: &Connection) -> Result<(), rusqlite::Error> {
    let has_assignee = crate::upgrade::schema_has(
        connection,
        "SELECT name FROM pragma_table_info('tickets') WHERE name = 'assignee'",
    )?;
    if !has_assignee {
        connection.execute_batch("ALTER TABLE tickets ADD COLUMN assignee TEXT;")?;
    }
    connection.execute_batch(
        "CREATE INDEX IF NOT EXISTS tickets_by_assignee ON tickets (assignee, step, seq);
        CREATE TABLE IF NOT EXISTS people (
            name TEXT PRIMARY KEY,
            away INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS assignment_cursor (
            department TEXT PRIMARY KEY,
            given INTEGER NOT NULL
        );",
    )
}

/// Folds one ticket event into the assignment tables: the cursor of the department whose
/// policy gave the ticket out.
pub fn project_event(
    connection: &Connection,
    ticket: &Ticket,
    event: &Event,
) -> Result<(), rusqlite::Error> {
    let Event::Assigned(assigned) = event else {
        return Ok(());
    };
    if !matches!(
        assigned.reason,
        AssignmentReason::Auto | AssignmentReason::HandedBack
    ) {
        return Ok(());
    }
    let Some(department) = &ticket.department else {
        return Ok(());
    };
    connection
        .prepare_cached(
            "INSERT INTO assignment_cursor (department, given) VALUES (?1, 1) \
             ON CONFLICT(department) DO UPDATE SET given = given + 1",
        )?
        .execute([department])?;
    Ok(())
}

/// Writes the ticket's assignee column after its row was written.
pub fn project_assignee(
    connection: &Connection,
    seq: i64,
    ticket: &Ticket,
) -> Result<(), rusqlite::Error> {
    connection
        .prepare_cached("UPDATE tickets SET assignee = ?1 WHERE seq = ?2")?
        .execute(params![ticket.assignee, seq])?;
    Ok(())
}

/// Folds the rows of a person stream into `people`; other streams are left alone.
pub fn project_person(connection: &Connection, events: &[RecordedEvent]) -> Result<(), String> {
    for row in events {
        let Some(person) = person_of_stream(&row.stream_id) else {
            return Ok(());
        };
        if row.event_type != AWAY_SET {
            continue;
        }
        let set: AwaySet = serde_json::from_str(&row.payload_json)
            .map_err(|error| format!("away_set at position {}: {error}", row.position))?;
        connection
            .prepare_cached(
                "INSERT INTO people (name, away, updated_at_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(name) DO UPDATE SET away = excluded.away, \
                 updated_at_ms = excluded.updated_at_ms",
            )
            .and_then(|mut statement| {
                statement.execute(params![person, set.away, set.at.timestamp_millis()])
            })
            .map_err(|error| format!("record {person} away: {error}"))?;
    }
    Ok(())
}
