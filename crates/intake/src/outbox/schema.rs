//! Opening the outbox database: the connection settings, the schema, and the checkpoint
//! thread that keeps the write-ahead log short.

use crate::error::is_disk_full;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// The checkpoint thread's stop signal and handle.
pub(super) type Checkpointer = (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>);

/// How often the checkpoint thread copies the write-ahead log into the database.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The write-ahead log size (in pages) at which the writer checkpoints itself, as a backstop
/// when the checkpoint thread falls behind.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 20_000;

/// The checkpoint thread: copies the write-ahead log into the database with PASSIVE
/// checkpoints (which never block the writer), so that commits do not pay for checkpoints.
pub(super) fn checkpoint_loop(connection: Connection, stop: std::sync::mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    // The writer's refused commits say so (rate-limited); five times a second
                    // here would drown the log.
                    Err(error) if is_disk_full(&error) => {}
                    Err(error) => tracing::warn!(%error, "outbox checkpoint"),
                    Ok(()) => {}
                }
            }
            _ => return,
        }
    }
}

pub(super) fn open_connection(
    path: &Path,
    synchronous_full: bool,
) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    Ok(connection)
}

/// The columns of `outbox`: `state` 0 while workflow has not confirmed the row, 2 once it
/// has; `published_at_ms` when the wait for its confirmation started (its commit, or the last
/// time it was published again), `attempts` how many times it was published again.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    feedback_id TEXT NOT NULL UNIQUE,
    ticket_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at_ms INTEGER NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    published_at_ms INTEGER,
    confirmed_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, seq);
CREATE INDEX IF NOT EXISTS outbox_confirmed ON outbox (confirmed_at_ms) WHERE state = 2;
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    kind INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    response BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (kind, created_at_ms);
CREATE TABLE IF NOT EXISTS ticket_contacts (
    ticket_id TEXT NOT NULL,
    contact_hash BLOB NOT NULL,
    PRIMARY KEY (ticket_id, contact_hash)
) WITHOUT ROWID;
";

/// Brings rows of earlier versions to the present meaning (`?1` is now): "published" rows
/// (state 1, `attempts` counting every publish) become unconfirmed ones waiting from their
/// last publish, and unconfirmed rows without a start of their wait wait from now.
pub(super) const MIGRATE: &str = "
UPDATE outbox SET
    attempts = CASE WHEN state = 1 THEN max(attempts - 1, 0) ELSE attempts END,
    published_at_ms = COALESCE(published_at_ms, ?1),
    state = 0
WHERE state = 1 OR (state = 0 AND published_at_ms IS NULL)
";
