//! The relay's reads and marks: pending and unconfirmed rows, one row's state, and the moves
//! from pending to published to confirmed.

use super::{Outbox, OutboxRow, STATE_PENDING, STATE_PUBLISHED};
use crate::error::IntakeError;
use rusqlite::{params, Connection, OptionalExtension};

/// Pending rows after a sequence number, in order.
const PENDING_AFTER: &str =
    "SELECT seq, feedback_id, ticket_id, subject, payload, received_at_ms, attempts
     FROM outbox WHERE state = 0 AND seq > ?1 ORDER BY seq LIMIT ?2";
/// Published rows due to be published again at an instant (`?1`), in order: a row waits the
/// confirmation timeout (`?2`) after its first publish, twice as long after its second and
/// [`MAX_BACKOFF_DOUBLINGS`] doublings after any later one.
const UNCONFIRMED_DUE: &str =
    "SELECT seq, feedback_id, ticket_id, subject, payload, received_at_ms, attempts
     FROM outbox WHERE state = 1
       AND published_at_ms + (?2 << min(max(attempts - 1, 0), ?4)) <= ?1
     ORDER BY seq LIMIT ?3";

/// How many times the wait for a confirmation doubles: a row is published again after the
/// timeout, then after 2 and 4 times the timeout. Without the doubling a backlog at workflow
/// longer than the timeout is published again whole every timeout, and the copies (past the
/// broker's duplicate window) lengthen the very backlog that caused them.
pub const MAX_BACKOFF_DOUBLINGS: i64 = 2;

/// The longest confirmation timeout the backoff computes with (about 31 years), so that the
/// shifted wait cannot overflow.
const MAX_TIMEOUT_MS: i64 = 1 << 40;

impl Outbox {
    /// Pending rows after `after_seq`, in order, at most `limit`.
    pub async fn load_pending(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        self.load_rows(PENDING_AFTER, after_seq, limit).await
    }

    /// Published rows not confirmed and due to be published again at `now_ms`, in order, at
    /// most `limit`: the first `timeout_ms` after their first publish, then with the wait
    /// doubled for each publish up to [`MAX_BACKOFF_DOUBLINGS`] times.
    pub async fn load_unconfirmed(
        &self,
        now_ms: i64,
        timeout_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        let timeout_ms = timeout_ms.clamp(0, MAX_TIMEOUT_MS);
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(UNCONFIRMED_DUE)?;
            let rows = statement
                .query_map(
                    params![now_ms, timeout_ms, limit as i64, MAX_BACKOFF_DOUBLINGS],
                    row_from,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The rows `sql` selects with `bound` as its first parameter and `limit` as its second.
    async fn load_rows(
        &self,
        sql: &'static str,
        bound: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement
                .query_map(params![bound, limit as i64], row_from)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The state of one row: "pending", "published", "confirmed", or `None` when absent.
    pub async fn state_of(&self, feedback_id: &str) -> Result<Option<&'static str>, IntakeError> {
        let feedback_id = feedback_id.to_owned();
        self.read(move |connection| {
            let state: Option<i64> = connection
                .query_row(
                    "SELECT state FROM outbox WHERE feedback_id = ?1",
                    [feedback_id],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(state.map(|state| match state {
                STATE_PENDING => "pending",
                STATE_PUBLISHED => "published",
                _ => "confirmed",
            }))
        })
        .await
    }
}

pub(super) fn row_from(row: &rusqlite::Row<'_>) -> Result<OutboxRow, rusqlite::Error> {
    Ok(OutboxRow {
        seq: row.get(0)?,
        feedback_id: row.get(1)?,
        ticket_id: row.get(2)?,
        subject: row.get(3)?,
        payload: row.get(4)?,
        received_at_ms: row.get(5)?,
        attempts: row.get(6)?,
    })
}

/// Returns (rows moved from pending to published, rows touched in all).
pub(super) fn mark_published(
    connection: &Connection,
    seqs: &[i64],
    now_ms: i64,
) -> Result<(i64, usize), rusqlite::Error> {
    let mut from_pending = connection.prepare_cached(
        "UPDATE outbox SET state = 1, published_at_ms = ?2, attempts = attempts + 1
         WHERE seq = ?1 AND state = 0",
    )?;
    let mut again = connection.prepare_cached(
        "UPDATE outbox SET published_at_ms = ?2, attempts = attempts + 1
         WHERE seq = ?1 AND state = 1",
    )?;
    let mut moved = 0i64;
    let mut total = 0usize;
    for seq in seqs {
        let changed = from_pending.execute(params![seq, now_ms])?;
        moved += changed as i64;
        total += changed;
        if changed == 0 {
            total += again.execute(params![seq, now_ms])?;
        }
    }
    Ok((moved, total))
}

/// Returns (rows confirmed while pending, rows confirmed after publishing).
pub(super) fn confirm(
    connection: &Connection,
    feedback_ids: &[String],
    now_ms: i64,
) -> Result<(i64, i64), rusqlite::Error> {
    let mut statement = connection.prepare_cached(
        "UPDATE outbox SET state = 2, confirmed_at_ms = ?3
         WHERE feedback_id = ?1 AND state = ?2",
    )?;
    let mut from_pending = 0i64;
    let mut from_published = 0i64;
    for feedback_id in feedback_ids {
        let published = statement.execute(params![feedback_id, STATE_PUBLISHED, now_ms])?;
        from_published += published as i64;
        if published == 0 {
            from_pending += statement.execute(params![feedback_id, STATE_PENDING, now_ms])? as i64;
        }
    }
    Ok((from_pending, from_published))
}
