//! The projection tables and their indexes, created if missing.

use rusqlite::Connection;

/// Creates the projection tables and indexes if they do not exist yet.
pub fn migrate(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS tickets (
            seq INTEGER PRIMARY KEY,
            ticket_id TEXT NOT NULL UNIQUE,
            version INTEGER NOT NULL,
            last_position INTEGER NOT NULL,
            step TEXT NOT NULL,
            department TEXT,
            helpers TEXT NOT NULL,
            priority TEXT,
            kind TEXT,
            content_type TEXT,
            scope TEXT,
            channel TEXT NOT NULL,
            sla_state TEXT NOT NULL,
            customer_id TEXT,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            state_json TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS tickets_by_department ON tickets (department, step, seq);
        CREATE INDEX IF NOT EXISTS tickets_by_step ON tickets (step, seq);
        CREATE INDEX IF NOT EXISTS tickets_by_sla ON tickets (sla_state, seq);
        CREATE INDEX IF NOT EXISTS tickets_by_priority ON tickets (priority, seq);
        CREATE INDEX IF NOT EXISTS tickets_by_customer ON tickets (customer_id, seq);
        CREATE INDEX IF NOT EXISTS tickets_by_created ON tickets (created_at_ms);
        CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5 (
            content, product, order_id, keywords, tokenize = 'trigram'
        );
        CREATE TABLE IF NOT EXISTS sla_index (
            seq INTEGER PRIMARY KEY,
            ticket_id TEXT NOT NULL,
            next_check_ms INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS sla_index_by_due ON sla_index (next_check_ms);
        CREATE TABLE IF NOT EXISTS ticket_keys (
            key_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ticket_id TEXT NOT NULL,
            PRIMARY KEY (key_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ticket_erasures (
            command_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ticket_id TEXT NOT NULL,
            PRIMARY KEY (command_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS projection_state (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );",
    )?;
    crate::retention::migrate(connection)?;
    crate::order::migrate(connection)?;
    crate::customers::migrate(connection)?;
    crate::report_rows::migrate(connection)?;
    crate::assignment::migrate(connection)
}
