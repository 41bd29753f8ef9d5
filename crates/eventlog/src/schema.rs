//! The database schema and its versioned migrations.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension};

use crate::canonical::format_timestamp;
use crate::error::{sqlite, LogError};

/// Whether the database behind `connection` has the log's `events` table.
pub fn has_events_table(connection: &Connection) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
        [],
        |row| row.get(0),
    )
}

/// One schema migration: applied once, in order, and recorded in `schema_migrations`.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration of the log, oldest first. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "create events",
    sql: r#"
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_id        BLOB    NOT NULL CHECK (length(event_id) = 16),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    occurred_at     TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    payload         TEXT    NOT NULL,
    prev_hash       BLOB    NOT NULL,
    hash            BLOB    NOT NULL,
    UNIQUE (stream_id, stream_version),
    UNIQUE (event_id)
);
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: update refused');
END;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: delete refused');
END;
"#,
}];

/// The schema version this build writes.
pub const LATEST_SCHEMA_VERSION: u32 = 1;

/// The table of applied migrations, the same in SQLite and PostgreSQL.
pub(crate) const SCHEMA_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
);";

/// Creates `schema_migrations` if needed and applies every migration newer than the
/// database's version, each in its own transaction.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), LogError> {
    connection
        .execute_batch(SCHEMA_MIGRATIONS_TABLE)
        .map_err(sqlite("create schema_migrations"))?;
    let current = current_version(connection)?;
    if current > LATEST_SCHEMA_VERSION {
        return Err(LogError::Corrupt {
            reason: format!(
                "database schema version {current} is newer than this build's {LATEST_SCHEMA_VERSION}"
            ),
        });
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
    {
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite("begin migration"))?;
        transaction
            .execute_batch(migration.sql)
            .map_err(sqlite("apply migration"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    migration.version,
                    migration.name,
                    format_timestamp(&Utc::now())
                ],
            )
            .map_err(sqlite("record migration"))?;
        transaction.commit().map_err(sqlite("commit migration"))?;
    }
    Ok(())
}

/// The highest migration recorded in the database (0 for a new one).
pub(crate) fn current_version(connection: &Connection) -> Result<u32, LogError> {
    let version: Option<u32> = connection
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sqlite("read schema version"))?
        .flatten();
    Ok(version.unwrap_or(0))
}
