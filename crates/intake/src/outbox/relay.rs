//! The relay's reads and marks: unconfirmed rows after a sequence number (the catch-up read),
//! unconfirmed rows whose wait for a confirmation ran out, one row's state, the record of rows
//! published again, and the move to confirmed.

use super::{Outbox, OutboxRow, STATE_UNCONFIRMED};
use crate::error::IntakeError;
use rusqlite::{params, Connection, OptionalExtension};

/// The columns [`row_from`] reads.
const COLUMNS: &str =
    "seq, feedback_id, ticket_id, subject, payload, received_at_ms, attempts, published_at_ms";

/// How many times the wait for a confirmation doubles: a row is published again after the
/// timeout, then after 2 and 4 times the timeout. Without the doubling a backlog at workflow
/// longer than the timeout is published again whole every timeout, and the copies (past the
/// broker's duplicate window) lengthen the very backlog that caused them.
pub const MAX_BACKOFF_DOUBLINGS: i64 = 2;

/// The longest confirmation timeout the backoff computes with (about 31 years), so that the
/// shifted wait cannot overflow.
const MAX_TIMEOUT_MS: i64 = 1 << 40;

/// The instant (epoch milliseconds) at which `row` is due to be published again when
/// workflow has not confirmed it: `timeout_ms` after the start of its wait, doubled for each
/// time it was published again, [`MAX_BACKOFF_DOUBLINGS`] times at most.
pub fn due_at_ms(row: &OutboxRow, timeout_ms: i64) -> i64 {
    let timeout_ms = timeout_ms.clamp(0, MAX_TIMEOUT_MS);
    let doublings = row.attempts.clamp(0, MAX_BACKOFF_DOUBLINGS);
    row.wait_from_ms.saturating_add(timeout_ms << doublings)
}

impl Outbox {
    /// Unconfirmed rows after `after_seq`, in order, at most `limit` (published or not: the
    /// outbox does not record a first publish).
    pub async fn load_pending(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        self.handoff_stats.count_read();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE state = {STATE_UNCONFIRMED} AND seq > ?1
                 ORDER BY seq LIMIT ?2"
            ))?;
            let rows = statement
                .query_map(params![after_seq, limit as i64], row_from)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Unconfirmed rows up to sequence number `up_to_seq` whose wait for a confirmation ran
    /// out at `now_ms` ([`due_at_ms`]), in order, at most `limit`.
    pub async fn load_unconfirmed(
        &self,
        now_ms: i64,
        timeout_ms: i64,
        up_to_seq: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        let timeout_ms = timeout_ms.clamp(0, MAX_TIMEOUT_MS);
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE state = {STATE_UNCONFIRMED} AND seq <= ?4
                   AND published_at_ms + (?2 << min(max(attempts, 0), ?5)) <= ?1
                 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = statement
                .query_map(
                    params![
                        now_ms,
                        timeout_ms,
                        limit as i64,
                        up_to_seq,
                        MAX_BACKOFF_DOUBLINGS
                    ],
                    row_from,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The state of one row: "unconfirmed", "confirmed", or `None` when absent.
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
                STATE_UNCONFIRMED => "unconfirmed",
                _ => "confirmed",
            }))
        })
        .await
    }
}

pub(super) fn row_from(row: &rusqlite::Row<'_>) -> Result<OutboxRow, rusqlite::Error> {
    let payload: Vec<u8> = row.get(4)?;
    Ok(OutboxRow {
        seq: row.get(0)?,
        feedback_id: row.get(1)?,
        ticket_id: row.get(2)?,
        subject: row.get(3)?,
        payload: payload.into(),
        received_at_ms: row.get(5)?,
        attempts: row.get(6)?,
        wait_from_ms: row.get::<_, Option<i64>>(7)?.unwrap_or(0),
    })
}

/// Starts the wait of each unconfirmed row again at `now_ms`, counting one more publish for
/// those marked `true`; returns how many rows changed.
pub(super) fn record_republished(
    connection: &Connection,
    rows: &[(i64, bool)],
    now_ms: i64,
) -> Result<usize, rusqlite::Error> {
    let mut statement = connection.prepare_cached(&format!(
        "UPDATE outbox SET published_at_ms = ?2, attempts = attempts + ?3
         WHERE seq = ?1 AND state = {STATE_UNCONFIRMED}"
    ))?;
    let mut changed = 0usize;
    for (seq, again) in rows {
        changed += statement.execute(params![seq, now_ms, i64::from(*again)])?;
    }
    Ok(changed)
}

/// Returns how many unconfirmed rows became confirmed.
pub(super) fn confirm(
    connection: &Connection,
    feedback_ids: &[String],
    now_ms: i64,
) -> Result<i64, rusqlite::Error> {
    let mut statement = connection.prepare_cached(&format!(
        "UPDATE outbox SET state = 2, confirmed_at_ms = ?2
         WHERE feedback_id = ?1 AND state = {STATE_UNCONFIRMED}"
    ))?;
    let mut confirmed = 0i64;
    for feedback_id in feedback_ids {
        confirmed += statement.execute(params![feedback_id, now_ms])? as i64;
    }
    Ok(confirmed)
}
