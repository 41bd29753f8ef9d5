//! Maintenance: pruning confirmed rows and expired idempotency keys.

use super::{PruneBefore, Pruned, PRUNE_LIMIT};
use rusqlite::{params, Connection};

pub(super) fn prune(
    connection: &Connection,
    before: PruneBefore,
) -> Result<Pruned, rusqlite::Error> {
    // Each pass deletes a bounded number of rows so that it never holds the writer for long;
    // the next pass takes the rest.
    let rows = connection.execute(
        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
             WHERE state = 2 AND confirmed_at_ms < ?1 LIMIT ?2)",
        params![before.confirmed_before_ms, PRUNE_LIMIT],
    )?;
    let external = connection.execute(
        "DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency
             WHERE kind = 0 AND created_at_ms < ?1 LIMIT ?2)",
        params![before.external_keys_before_ms, PRUNE_LIMIT],
    )?;
    let content = connection.execute(
        "DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency
             WHERE kind = 1 AND created_at_ms < ?1 LIMIT ?2)",
        params![before.content_keys_before_ms, PRUNE_LIMIT],
    )?;
    Ok(Pruned {
        rows,
        keys: external + content,
    })
}
