//! The writer thread: group commit of queued commands, answers after the commit, the hand-off
//! of the committed rows to the relay, and relief of the write-ahead log when the disk runs
//! low.

use super::handoff::HandoffSender;
use super::{
    accept_one, confirm, prune, record_republished, AcceptOutcome, Command, OutboxCounters,
    OutboxOptions, OutboxRecord, OutboxRow, Pruned, Reply, StoreFailure,
};
use rusqlite::Connection;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The writer thread: takes one command, then everything else already queued (up to the batch
/// limit), runs them all in one transaction, commits, hands the new rows to the relay, then
/// answers every caller.
pub(super) fn writer_loop(
    mut connection: Connection,
    mut receiver: mpsc::Receiver<Command>,
    options: OutboxOptions,
    (counters, new_rows): (Arc<OutboxCounters>, Arc<tokio::sync::Notify>),
    mut handoff: HandoffSender,
) {
    let content_window_ms = i64::try_from(options.content_window.as_millis()).unwrap_or(i64::MAX);
    let mut batch: Vec<Command> = Vec::with_capacity(options.max_batch);
    let mut stopping = false;
    let mut wal = WalRelief::default();
    while let Some(first) = receiver.blocking_recv() {
        if matches!(first, Command::Stop) {
            break;
        }
        batch.push(first);
        while batch.len() < options.max_batch {
            match receiver.try_recv() {
                Ok(Command::Stop) => {
                    stopping = true;
                    break;
                }
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        let size = batch.len();
        let mut finished = Vec::with_capacity(size);
        // The wait for confirmations is measured on the wall clock, whatever instant the
        // submissions say they were received at.
        let committed_at_ms = chrono::Utc::now().timestamp_millis();
        let outcome = run_batch(
            &mut connection,
            &mut batch,
            &mut finished,
            (content_window_ms, committed_at_ms),
        );
        match outcome {
            Ok(()) => {
                if finished
                    .iter()
                    .any(|(answer, _)| matches!(answer, Answer::Accept(..)))
                {
                    crate::failpoints::crash_point(crate::failpoints::AFTER_OUTBOX_COMMIT);
                }
                let mut added = Vec::new();
                let mut answers = Vec::with_capacity(finished.len());
                let mut disk_full = false;
                for (answer, effect) in finished {
                    if let Some(failure) = answer.disk_full() {
                        disk_full = true;
                        if let Some(callback) = &options.on_disk_full {
                            callback(&failure.message);
                        }
                    }
                    match effect {
                        Effect::None => {}
                        Effect::Added(row) => added.push(row),
                        Effect::Confirmed(rows) => {
                            counters.unconfirmed.fetch_sub(rows, Ordering::Relaxed);
                        }
                    }
                    answers.push(answer);
                }
                // Counted and handed over before anyone is answered.
                if !added.is_empty() {
                    counters
                        .unconfirmed
                        .fetch_add(added.len() as i64, Ordering::Relaxed);
                    handoff.committed(added);
                    new_rows.notify_one();
                }
                for answer in answers {
                    answer.send();
                }
                if let Some(callback) = &options.on_commit {
                    callback(size);
                }
                wal.after_batch(&connection, disk_full);
            }
            Err(error) => {
                // Nothing of the batch was stored: every caller in it is told so.
                let failure = StoreFailure::from_sqlite(&error);
                match &options.on_disk_full {
                    Some(callback) if failure.disk_full => callback(&failure.message),
                    _ => tracing::error!(%error, batch = size, "outbox commit failed"),
                }
                for (answer, _) in finished.drain(..) {
                    answer.failed(failure.clone()).send();
                }
                for command in batch.drain(..) {
                    Answer::fail(command, failure.clone()).send();
                }
                wal.after_batch(&connection, failure.disk_full);
            }
        }
        batch.clear();
        if stopping {
            break;
        }
    }
    // Dropping the receiver makes every later call fail with `WriterStopped`.
}

/// How long the writer keeps its write-ahead log small after a write found the disk full.
const LOW_SPACE_PERIOD: Duration = Duration::from_secs(600);

/// The write-ahead log size above which the writer truncates it while space is low.
const LOW_SPACE_WAL_BYTES: u64 = 1024 * 1024;

/// Keeps the write-ahead log small for a while after a write found the disk full: at most
/// once a second, when the log is over [`LOW_SPACE_WAL_BYTES`] (or the disk was just found
/// full), the writer copies it into the database and truncates it to nothing. Under steady
/// load readers keep the passive checkpoints from ever finishing, so the log only grows; on a
/// small disk it would take all the space again right after space is freed, and then hold the
/// space the database needs to take it back. Fails harmlessly while nothing is free.
#[derive(Default)]
struct WalRelief {
    low_space_until: Option<std::time::Instant>,
    last_try: Option<std::time::Instant>,
}

impl WalRelief {
    fn after_batch(&mut self, connection: &Connection, disk_full: bool) {
        let now = std::time::Instant::now();
        if disk_full {
            self.low_space_until = Some(now + LOW_SPACE_PERIOD);
        }
        if self.low_space_until.is_none_or(|until| now >= until)
            || self
                .last_try
                .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        let wal_bytes = connection
            .path()
            .and_then(|path| std::fs::metadata(format!("{path}-wal")).ok())
            .map_or(0, |meta| meta.len());
        if !disk_full && wal_bytes < LOW_SPACE_WAL_BYTES {
            return;
        }
        self.last_try = Some(now);
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::debug!(%error, "truncate the outbox write-ahead log");
        }
    }
}

/// A reply waiting for the commit.
enum Answer {
    Accept(Reply<AcceptOutcome>, Result<AcceptOutcome, StoreFailure>),
    Count(Reply<usize>, Result<usize, StoreFailure>),
    Prune(Reply<Pruned>, Result<Pruned, StoreFailure>),
    None,
}

impl Answer {
    fn send(self) {
        // A caller that gave up (timed out, disconnected) no longer listens; that is fine.
        match self {
            Answer::Accept(reply, value) => drop(reply.send(value)),
            Answer::Count(reply, value) => drop(reply.send(value)),
            Answer::Prune(reply, value) => drop(reply.send(value)),
            Answer::None => {}
        }
    }

    fn fail(command: Command, failure: StoreFailure) -> Self {
        match command {
            Command::Accept(_, reply) => Answer::Accept(reply, Err(failure)),
            Command::Republished(_, _, reply) | Command::Confirm(_, _, reply) => {
                Answer::Count(reply, Err(failure))
            }
            Command::Prune(_, reply) => Answer::Prune(reply, Err(failure)),
            Command::Stop => Answer::None,
        }
    }

    /// The same reply, failed (its transaction did not commit after all).
    fn failed(self, failure: StoreFailure) -> Self {
        match self {
            Answer::Accept(reply, _) => Answer::Accept(reply, Err(failure)),
            Answer::Count(reply, _) => Answer::Count(reply, Err(failure)),
            Answer::Prune(reply, _) => Answer::Prune(reply, Err(failure)),
            Answer::None => Answer::None,
        }
    }

    /// The failure of a command refused because the disk is full.
    fn disk_full(&self) -> Option<&StoreFailure> {
        let failure = match self {
            Answer::Accept(_, Err(failure))
            | Answer::Count(_, Err(failure))
            | Answer::Prune(_, Err(failure)) => failure,
            _ => return None,
        };
        failure.disk_full.then_some(failure)
    }
}

/// What a committed command changes beyond its answer.
enum Effect {
    None,
    /// A new row, for the counters and the hand-off to the relay.
    Added(OutboxRow),
    /// This many rows confirmed.
    Confirmed(i64),
}

/// Runs a batch in one transaction, each command in its own savepoint: a command that fails
/// leaves nothing behind (never half a submission), and the others still commit. Fails as a
/// whole when the transaction cannot go on (SQLite rolled it back, as a full disk may make it
/// do) or cannot commit; `finished` then holds the answers to fail.
fn run_batch(
    connection: &mut Connection,
    batch: &mut Vec<Command>,
    finished: &mut Vec<(Answer, Effect)>,
    times: (i64, i64),
) -> Result<(), rusqlite::Error> {
    if !connection.is_autocommit() {
        // A transaction left open by a failed commit whose rollback failed too.
        connection.execute_batch("ROLLBACK")?;
    }
    let mut transaction = connection.transaction()?;
    for command in batch.drain(..) {
        let savepoint = transaction.savepoint()?;
        let (answer, effect, error) = run_command(&savepoint, command, times);
        match error {
            None => savepoint.commit()?,
            Some(error) => {
                // Dropping the savepoint rolls back to it.
                drop(savepoint);
                if transaction.is_autocommit() {
                    finished.push((answer, effect));
                    return Err(error);
                }
            }
        }
        finished.push((answer, effect));
    }
    transaction.commit()
}

/// Runs one command; returns its answer, its effect once committed, and the error when it
/// failed (its savepoint must then be rolled back). `times` holds the content dedupe window
/// and the wall-clock instant of the commit, in milliseconds.
fn run_command(
    connection: &Connection,
    command: Command,
    (content_window_ms, committed_at_ms): (i64, i64),
) -> (Answer, Effect, Option<rusqlite::Error>) {
    fn failed<T>(error: rusqlite::Error) -> (Result<T, StoreFailure>, Option<rusqlite::Error>) {
        (Err(StoreFailure::from_sqlite(&error)), Some(error))
    }
    match command {
        Command::Accept(record, reply) => {
            match accept_one(connection, &record, content_window_ms, committed_at_ms) {
                Ok(AcceptOutcome::Accepted { seq }) => (
                    Answer::Accept(reply, Ok(AcceptOutcome::Accepted { seq })),
                    Effect::Added(committed_row(seq, record, committed_at_ms)),
                    None,
                ),
                Ok(outcome) => (Answer::Accept(reply, Ok(outcome)), Effect::None, None),
                Err(error) => {
                    let (result, error) = failed(error);
                    (Answer::Accept(reply, result), Effect::None, error)
                }
            }
        }
        Command::Republished(rows, now_ms, reply) => {
            match record_republished(connection, &rows, now_ms) {
                Ok(changed) => (Answer::Count(reply, Ok(changed)), Effect::None, None),
                Err(error) => {
                    let (result, error) = failed(error);
                    (Answer::Count(reply, result), Effect::None, error)
                }
            }
        }
        Command::Confirm(ids, now_ms, reply) => match confirm(connection, &ids, now_ms) {
            Ok(confirmed) => (
                Answer::Count(reply, Ok(confirmed as usize)),
                Effect::Confirmed(confirmed),
                None,
            ),
            Err(error) => {
                let (result, error) = failed(error);
                (Answer::Count(reply, result), Effect::None, error)
            }
        },
        Command::Prune(before, reply) => match prune(connection, before) {
            Ok(pruned) => (Answer::Prune(reply, Ok(pruned)), Effect::None, None),
            Err(error) => {
                let (result, error) = failed(error);
                (Answer::Prune(reply, result), Effect::None, error)
            }
        },
        Command::Stop => (Answer::None, Effect::None, None),
    }
}

/// The row just written for `record`, as the relay publishes it.
fn committed_row(seq: i64, record: OutboxRecord, committed_at_ms: i64) -> OutboxRow {
    OutboxRow {
        seq,
        feedback_id: record.feedback_id,
        ticket_id: record.ticket_id,
        subject: record.subject,
        payload: record.payload.into(),
        received_at_ms: record.received_at_ms,
        attempts: 0,
        wait_from_ms: committed_at_ms,
    }
}
