//! The SQLite outbox: one writer thread that commits many submissions per transaction (group
//! commit, `synchronous = FULL`), the idempotency table that remembers the first answer to each
//! key, the hand-off of committed rows to the relay (`handoff`), and the row states
//! (unconfirmed → confirmed → pruned).
//!
//! A publish is not recorded row by row: a row is published again when workflow has not
//! confirmed it within the timeout counted from its commit (or from the last time it was
//! published again), and after a restart every unconfirmed row is published again; the broker's
//! duplicate window and workflow's idempotency make a second publish harmless. Only publishes
//! again, and first publishes that came late, are stored (`record_republished`).
//!
//! Architecture invariant: a submission is answered only after the transaction holding its
//! row has committed; a row is forgotten only after workflow confirmed it.

use crate::error::{is_disk_full, IntakeError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

mod accept;
pub mod handoff;
mod maintenance;
mod relay;
mod schema;
mod writer;

#[cfg(test)]
mod tests;

use accept::accept_one;
use handoff::{HandoffStats, HandoffStatsSource, RowFeed};
use maintenance::prune;
use relay::{confirm, record_republished};
pub use relay::{due_at_ms, MAX_BACKOFF_DOUBLINGS};
use schema::{
    checkpoint_loop, open_connection, Checkpointer, MIGRATE, SCHEMA, WRITER_AUTOCHECKPOINT_PAGES,
};
use writer::writer_loop;

/// Row states: not yet confirmed by workflow (published or not), and confirmed. Earlier
/// versions also stored "published" (1); opening the outbox turns such rows back into
/// unconfirmed ones.
const STATE_UNCONFIRMED: i64 = 0;

/// Rows deleted per prune pass at most, per table.
const PRUNE_LIMIT: i64 = 10_000;

/// Whether an idempotency key came from the adapter or from the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `(channel, external_id)`: remembered for the retention period.
    External,
    /// Content-derived: a repeat counts as a duplicate only within the dedupe window.
    Content,
}

impl KeyKind {
    fn code(self) -> i64 {
        match self {
            KeyKind::External => 0,
            KeyKind::Content => 1,
        }
    }
}

/// One accepted submission, ready to be written.
#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub feedback_id: String,
    pub ticket_id: String,
    pub subject: String,
    /// The encoded `FeedbackReceived`.
    pub payload: Vec<u8>,
    pub received_at_ms: i64,
    pub idempotency_key: String,
    pub key_kind: KeyKind,
    /// The encoded `SubmitResponse` to give again to a duplicate.
    pub response: Vec<u8>,
    /// The keyed hashes of the customer's contacts, kept for `ticket_id` so that replies on
    /// it can be checked (`crate::contacts`); empty for a reply.
    pub contact_hashes: Vec<Vec<u8>>,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// A new row was written at this sequence number.
    Accepted { seq: i64 },
    /// The key was seen before: the first answer, encoded.
    Duplicate { response: Vec<u8> },
}

/// A row the relay must publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: i64,
    pub feedback_id: String,
    pub ticket_id: String,
    pub subject: String,
    pub payload: bytes::Bytes,
    pub received_at_ms: i64,
    /// How many times the row was published again after its wait for a confirmation ran out.
    pub attempts: i64,
    /// When the wait for its confirmation started (epoch milliseconds, wall clock): its commit,
    /// or the last time it was published again.
    pub wait_from_ms: i64,
}

/// How many rows still count: not confirmed, and of those not yet acknowledged by JetStream.
#[derive(Debug, Default)]
pub struct OutboxCounters {
    /// Rows not yet confirmed by workflow (kept by the writer).
    pub unconfirmed: AtomicI64,
    /// Of those, the rows JetStream has not acknowledged since the outbox was opened (kept by
    /// the relay; every unconfirmed row at opening, since all are published again).
    pub pending: AtomicI64,
}

impl OutboxCounters {
    /// Rows not yet confirmed by workflow.
    pub fn depth(&self) -> i64 {
        self.unconfirmed.load(Ordering::Relaxed).max(0)
    }

    /// Unconfirmed rows JetStream has not acknowledged since the start.
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::Relaxed).clamp(0, self.depth())
    }

    /// Unconfirmed rows JetStream has acknowledged.
    pub fn published(&self) -> i64 {
        self.depth() - self.pending()
    }
}

/// What the pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub rows: usize,
    pub keys: usize,
}

/// Limits for a prune pass, as epoch milliseconds: things older than these go.
#[derive(Debug, Clone, Copy)]
pub struct PruneBefore {
    pub confirmed_before_ms: i64,
    pub external_keys_before_ms: i64,
    pub content_keys_before_ms: i64,
}

/// Called with the error of each command refused because the data disk is full.
pub type DiskFullCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Outbox tuning.
#[derive(Clone)]
pub struct OutboxOptions {
    /// Submissions per transaction at most.
    pub max_batch: usize,
    /// `synchronous = FULL` (true) or NORMAL.
    pub synchronous_full: bool,
    /// Content keys older than this are no longer duplicates.
    pub content_window: Duration,
    /// Callback with the size of each committed batch (for metrics).
    pub on_commit: Option<Arc<dyn Fn(usize) + Send + Sync>>,
    /// Callback with the error of each command refused because the data disk is full (for
    /// the disk-full metric and its rate-limited log line).
    pub on_disk_full: Option<DiskFullCallback>,
    /// Committed rows the hand-off to the relay holds at most (at least `max_batch`); beyond
    /// that the relay reads them from the outbox.
    pub handoff_rows: usize,
}

impl std::fmt::Debug for OutboxOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OutboxOptions")
            .field("max_batch", &self.max_batch)
            .field("synchronous_full", &self.synchronous_full)
            .field("content_window", &self.content_window)
            .field("handoff_rows", &self.handoff_rows)
            .finish_non_exhaustive()
    }
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            max_batch: 2048,
            synchronous_full: true,
            content_window: Duration::from_secs(24 * 3600),
            on_commit: None,
            on_disk_full: None,
            handoff_rows: handoff::DEFAULT_HANDOFF_ROWS,
        }
    }
}

/// Why the writer could not carry out a command: nothing of it was stored.
#[derive(Debug, Clone)]
struct StoreFailure {
    message: String,
    disk_full: bool,
}

impl StoreFailure {
    fn from_sqlite(error: &rusqlite::Error) -> Self {
        Self {
            message: error.to_string(),
            disk_full: is_disk_full(error),
        }
    }

    fn into_error(self) -> IntakeError {
        if self.disk_full {
            IntakeError::DiskFull(self.message)
        } else {
            IntakeError::Store(self.message)
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, StoreFailure>>;

enum Command {
    Accept(OutboxRecord, Reply<AcceptOutcome>),
    Republished(Vec<(i64, bool)>, i64, Reply<usize>),
    Confirm(Vec<String>, i64, Reply<usize>),
    Prune(PruneBefore, Reply<Pruned>),
    /// Finish what came before, then stop the writer.
    Stop,
}

/// The outbox handle: cheap to clone, usable from async code (the SQLite work happens on the
/// writer thread and on `spawn_blocking` readers).
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::Sender<Command>,
    reader: Arc<Mutex<Connection>>,
    counters: Arc<OutboxCounters>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    checkpointer: Arc<Mutex<Option<Checkpointer>>>,
    new_rows: Arc<tokio::sync::Notify>,
    feed: Arc<Mutex<Option<RowFeed>>>,
    handoff_stats: HandoffStatsSource,
    path: PathBuf,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Outbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Opens (or creates) the outbox at `path` and starts its writer thread.
    pub fn open(path: &Path, options: OutboxOptions) -> Result<Self, IntakeError> {
        let writer_connection = open_connection(path, options.synchronous_full)?;
        writer_connection.execute_batch(SCHEMA)?;
        writer_connection.execute(MIGRATE, [chrono::Utc::now().timestamp_millis()])?;
        writer_connection.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
        let reader = open_connection(path, options.synchronous_full)?;
        let checkpoint_connection = open_connection(path, options.synchronous_full)?;
        let (stop_checkpoints, checkpoint_stop) = std::sync::mpsc::channel();
        let checkpoint_handle = std::thread::Builder::new()
            .name("outbox-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_connection, checkpoint_stop))
            .map_err(|source| IntakeError::Io {
                action: "start the outbox checkpoint thread".into(),
                source,
            })?;
        let counters = Arc::new(OutboxCounters::default());
        let (unconfirmed, last_seq): (i64, i64) = writer_connection.query_row(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE state = ?1),
                    (SELECT COALESCE(MAX(seq), 0) FROM outbox)",
            [STATE_UNCONFIRMED],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        counters.unconfirmed.store(unconfirmed, Ordering::Relaxed);
        counters.pending.store(unconfirmed, Ordering::Relaxed);
        let (handoff, feed, handoff_stats) =
            handoff::handoff(options.handoff_rows.max(options.max_batch), last_seq);
        let (sender, receiver) = mpsc::channel(options.max_batch.max(1) * 8);
        let new_rows = Arc::new(tokio::sync::Notify::new());
        let thread_counters = counters.clone();
        let thread_notify = new_rows.clone();
        let handle = std::thread::Builder::new()
            .name("outbox-writer".into())
            .spawn(move || {
                writer_loop(
                    writer_connection,
                    receiver,
                    options,
                    (thread_counters, thread_notify),
                    handoff,
                )
            })
            .map_err(|source| IntakeError::Io {
                action: "start the outbox writer thread".into(),
                source,
            })?;
        Ok(Self {
            sender,
            reader: Arc::new(Mutex::new(reader)),
            counters,
            writer: Arc::new(Mutex::new(Some(handle))),
            checkpointer: Arc::new(Mutex::new(Some((stop_checkpoints, checkpoint_handle)))),
            new_rows,
            feed,
            handoff_stats,
            path: path.to_path_buf(),
        })
    }

    /// The live row counters.
    pub fn counters(&self) -> Arc<OutboxCounters> {
        self.counters.clone()
    }

    /// Woken after every commit that added rows.
    pub fn new_rows(&self) -> Arc<tokio::sync::Notify> {
        self.new_rows.clone()
    }

    /// The receiving end of the hand-off of committed rows: the first call gets it, later
    /// calls (on any clone) get `None`.
    pub fn take_feed(&self) -> Option<RowFeed> {
        self.feed.lock().ok().and_then(|mut feed| feed.take())
    }

    /// The hand-off's counters: batches dropped because it was full, reads of the outbox.
    pub fn handoff_stats(&self) -> HandoffStats {
        self.handoff_stats.stats()
    }

    /// The sequence number of the last row committed (0 for none).
    pub fn last_committed(&self) -> i64 {
        self.handoff_stats.last_committed()
    }

    async fn call<T>(
        &self,
        build: impl FnOnce(Reply<T>) -> Command,
        timeout: Duration,
    ) -> Result<T, IntakeError> {
        let (reply, answer) = oneshot::channel();
        match tokio::time::timeout(timeout, self.sender.send(build(reply))).await {
            Err(_) => return Err(IntakeError::Busy),
            Ok(Err(_)) => return Err(IntakeError::WriterStopped),
            Ok(Ok(())) => {}
        }
        match answer.await {
            Err(_) => Err(IntakeError::WriterStopped),
            Ok(Err(failure)) => Err(failure.into_error()),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// A batch for the writer, waiting up to a minute for room; nothing for an empty one.
    async fn call_batch(
        &self,
        empty: bool,
        build: impl FnOnce(Reply<usize>) -> Command,
    ) -> Result<usize, IntakeError> {
        if empty {
            return Ok(0);
        }
        self.call(build, Duration::from_secs(60)).await
    }

    /// Writes a submission durably (or finds its key), waiting at most `timeout` for room in
    /// the writer's queue.
    pub async fn accept(
        &self,
        record: OutboxRecord,
        timeout: Duration,
    ) -> Result<AcceptOutcome, IntakeError> {
        self.call(|reply| Command::Accept(record, reply), timeout)
            .await
    }

    /// Whether one of `hashes` is a contact kept for `ticket_id` (`crate::contacts`).
    pub async fn ticket_has_contact(
        &self,
        ticket_id: String,
        hashes: Vec<Vec<u8>>,
    ) -> Result<bool, IntakeError> {
        if hashes.is_empty() {
            return Ok(false);
        }
        self.read(move |connection| accept::ticket_has_contact(connection, &ticket_id, &hashes))
            .await
    }

    /// Records that these rows were published at `now_ms` after part or all of their wait for
    /// a confirmation had passed: their wait starts again from `now_ms`, and it doubles for
    /// each row marked `true` (published again because workflow had not confirmed it, rather
    /// than published late for the first time). Returns how many unconfirmed rows changed.
    pub async fn record_republished(
        &self,
        rows: Vec<(i64, bool)>,
        now_ms: i64,
    ) -> Result<usize, IntakeError> {
        let empty = rows.is_empty();
        self.call_batch(empty, |reply| Command::Republished(rows, now_ms, reply))
            .await
    }

    /// Records workflow's confirmation of these feedback ids; returns how many rows changed.
    pub async fn confirm(
        &self,
        feedback_ids: Vec<String>,
        now_ms: i64,
    ) -> Result<usize, IntakeError> {
        let empty = feedback_ids.is_empty();
        self.call_batch(empty, |reply| Command::Confirm(feedback_ids, now_ms, reply))
            .await
    }

    /// Deletes confirmed rows and expired keys.
    pub async fn prune(&self, before: PruneBefore) -> Result<Pruned, IntakeError> {
        self.call(
            |reply| Command::Prune(before, reply),
            Duration::from_secs(60),
        )
        .await
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, IntakeError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let connection = reader
                .lock()
                .map_err(|_| IntakeError::Store("outbox reader poisoned".into()))?;
            query(&connection).map_err(IntakeError::from)
        })
        .await
        .map_err(|_| IntakeError::WriterStopped)?
    }

    /// Stops the writer after it has finished what it was given before, and waits for it.
    /// Later calls on any clone fail with [`IntakeError::WriterStopped`].
    pub async fn close(self) {
        let Outbox {
            sender,
            writer,
            checkpointer,
            ..
        } = self;
        let _ = sender.send(Command::Stop).await;
        drop(sender);
        let handle = writer.lock().ok().and_then(|mut handle| handle.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let checkpoints = checkpointer
            .lock()
            .ok()
            .and_then(|mut handle| handle.take());
        if let Some((stop, handle)) = checkpoints {
            let _ = stop.send(());
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}
