//! The SQLite outbox: one writer thread that commits many submissions per transaction (group
//! commit, `synchronous = FULL`), the idempotency table that remembers the first answer to each
//! key, and the row states the relay moves through (pending → published → confirmed → pruned).
//!
//! Architecture invariant: a submission is answered only after the transaction holding its
//! row has committed; a row is forgotten only after workflow confirmed it.

use crate::error::{is_disk_full, IntakeError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Row states.
const STATE_PENDING: i64 = 0;
const STATE_PUBLISHED: i64 = 1;

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
    pub payload: Vec<u8>,
    pub received_at_ms: i64,
    pub attempts: i64,
}

/// How many rows are in each state that still counts (the outbox depth is their sum).
#[derive(Debug, Default)]
pub struct OutboxCounters {
    pub pending: AtomicI64,
    pub published: AtomicI64,
}

impl OutboxCounters {
    /// Rows not yet confirmed by workflow.
    pub fn depth(&self) -> i64 {
        self.pending.load(Ordering::Relaxed) + self.published.load(Ordering::Relaxed)
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
}

impl std::fmt::Debug for OutboxOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OutboxOptions")
            .field("max_batch", &self.max_batch)
            .field("synchronous_full", &self.synchronous_full)
            .field("content_window", &self.content_window)
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
    MarkPublished(Vec<i64>, i64, Reply<usize>),
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
    path: PathBuf,
}

/// The checkpoint thread's stop signal and handle.
type Checkpointer = (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>);

/// How often the checkpoint thread copies the write-ahead log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The write-ahead log size (in pages) at which the writer checkpoints itself, as a backstop
/// when the checkpoint thread falls behind.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 20_000;

/// The checkpoint thread: copies the write-ahead log into the database with PASSIVE
/// checkpoints (which never block the writer), so that commits do not pay for checkpoints.
fn checkpoint_loop(connection: Connection, stop: std::sync::mpsc::Receiver<()>) {
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

impl std::fmt::Debug for Outbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Outbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open_connection(path: &Path, synchronous_full: bool) -> Result<Connection, rusqlite::Error> {
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

const SCHEMA: &str = "
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
";

impl Outbox {
    /// Opens (or creates) the outbox at `path` and starts its writer thread.
    pub fn open(path: &Path, options: OutboxOptions) -> Result<Self, IntakeError> {
        let writer_connection = open_connection(path, options.synchronous_full)?;
        writer_connection.execute_batch(SCHEMA)?;
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
        let count = |state: i64| -> Result<i64, rusqlite::Error> {
            writer_connection.query_row(
                "SELECT COUNT(*) FROM outbox WHERE state = ?1",
                [state],
                |row| row.get(0),
            )
        };
        counters
            .pending
            .store(count(STATE_PENDING)?, Ordering::Relaxed);
        counters
            .published
            .store(count(STATE_PUBLISHED)?, Ordering::Relaxed);
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
                    thread_counters,
                    thread_notify,
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

    /// Records that these rows' publishes were acknowledged at `now_ms`.
    pub async fn mark_published(&self, seqs: Vec<i64>, now_ms: i64) -> Result<usize, IntakeError> {
        if seqs.is_empty() {
            return Ok(0);
        }
        self.call(
            |reply| Command::MarkPublished(seqs, now_ms, reply),
            Duration::from_secs(60),
        )
        .await
    }

    /// Records workflow's confirmation of these feedback ids; returns how many rows changed.
    pub async fn confirm(
        &self,
        feedback_ids: Vec<String>,
        now_ms: i64,
    ) -> Result<usize, IntakeError> {
        if feedback_ids.is_empty() {
            return Ok(0);
        }
        self.call(
            |reply| Command::Confirm(feedback_ids, now_ms, reply),
            Duration::from_secs(60),
        )
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

    /// Pending rows after `after_seq`, in order, at most `limit`.
    pub async fn load_pending(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT seq, feedback_id, ticket_id, subject, payload, received_at_ms, attempts
                 FROM outbox WHERE state = 0 AND seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = statement
                .query_map(params![after_seq, limit as i64], row_from)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Published rows whose last publish is older than `published_before_ms`, in order.
    pub async fn load_unconfirmed(
        &self,
        published_before_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, IntakeError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT seq, feedback_id, ticket_id, subject, payload, received_at_ms, attempts
                 FROM outbox WHERE state = 1 AND published_at_ms < ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = statement
                .query_map(params![published_before_ms, limit as i64], row_from)?
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

fn row_from(row: &rusqlite::Row<'_>) -> Result<OutboxRow, rusqlite::Error> {
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

/// The writer thread: takes one command, then everything else already queued (up to the batch
/// limit), runs them all in one transaction, commits, then answers every caller.
fn writer_loop(
    mut connection: Connection,
    mut receiver: mpsc::Receiver<Command>,
    options: OutboxOptions,
    counters: Arc<OutboxCounters>,
    new_rows: Arc<tokio::sync::Notify>,
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
        let outcome = run_batch(
            &mut connection,
            &mut batch,
            &mut finished,
            content_window_ms,
        );
        match outcome {
            Ok(()) => {
                if finished
                    .iter()
                    .any(|(answer, _)| matches!(answer, Answer::Accept(..)))
                {
                    crate::failpoints::crash_point(crate::failpoints::AFTER_OUTBOX_COMMIT);
                }
                let mut added = false;
                let mut disk_full = false;
                for (answer, effect) in finished {
                    if let Some(failure) = answer.disk_full() {
                        disk_full = true;
                        if let Some(callback) = &options.on_disk_full {
                            callback(&failure.message);
                        }
                    }
                    effect.apply(&counters);
                    added |= matches!(effect, Effect::Added);
                    answer.send();
                }
                if added {
                    new_rows.notify_one();
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
            Command::MarkPublished(_, _, reply) | Command::Confirm(_, _, reply) => {
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

/// How a committed command changes the counters.
enum Effect {
    None,
    Added,
    Moved {
        pending_to_published: i64,
        pending_confirmed: i64,
        published_confirmed: i64,
    },
}

impl Effect {
    fn apply(&self, counters: &OutboxCounters) {
        match self {
            Effect::None => {}
            Effect::Added => {
                counters.pending.fetch_add(1, Ordering::Relaxed);
            }
            Effect::Moved {
                pending_to_published,
                pending_confirmed,
                published_confirmed,
            } => {
                counters
                    .pending
                    .fetch_sub(pending_to_published + pending_confirmed, Ordering::Relaxed);
                counters.published.fetch_add(
                    pending_to_published - published_confirmed,
                    Ordering::Relaxed,
                );
            }
        }
    }
}

/// Runs a batch in one transaction, each command in its own savepoint: a command that fails
/// leaves nothing behind (never half a submission), and the others still commit. Fails as a
/// whole when the transaction cannot go on (SQLite rolled it back, as a full disk may make it
/// do) or cannot commit; `finished` then holds the answers to fail.
fn run_batch(
    connection: &mut Connection,
    batch: &mut Vec<Command>,
    finished: &mut Vec<(Answer, Effect)>,
    content_window_ms: i64,
) -> Result<(), rusqlite::Error> {
    if !connection.is_autocommit() {
        // A transaction left open by a failed commit whose rollback failed too.
        connection.execute_batch("ROLLBACK")?;
    }
    let mut transaction = connection.transaction()?;
    for command in batch.drain(..) {
        let savepoint = transaction.savepoint()?;
        let (answer, effect, error) = run_command(&savepoint, command, content_window_ms);
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

/// Runs one command; returns its answer, its effect on the counters once committed, and the
/// error when it failed (its savepoint must then be rolled back).
fn run_command(
    connection: &Connection,
    command: Command,
    content_window_ms: i64,
) -> (Answer, Effect, Option<rusqlite::Error>) {
    fn failed<T>(error: rusqlite::Error) -> (Result<T, StoreFailure>, Option<rusqlite::Error>) {
        (Err(StoreFailure::from_sqlite(&error)), Some(error))
    }
    match command {
        Command::Accept(record, reply) => {
            match accept_one(connection, &record, content_window_ms) {
                Ok(outcome) => {
                    let effect = if matches!(outcome, AcceptOutcome::Accepted { .. }) {
                        Effect::Added
                    } else {
                        Effect::None
                    };
                    (Answer::Accept(reply, Ok(outcome)), effect, None)
                }
                Err(error) => {
                    let (result, error) = failed(error);
                    (Answer::Accept(reply, result), Effect::None, error)
                }
            }
        }
        Command::MarkPublished(seqs, now_ms, reply) => {
            match mark_published(connection, &seqs, now_ms) {
                Ok((moved, total)) => (
                    Answer::Count(reply, Ok(total)),
                    Effect::Moved {
                        pending_to_published: moved,
                        pending_confirmed: 0,
                        published_confirmed: 0,
                    },
                    None,
                ),
                Err(error) => {
                    let (result, error) = failed(error);
                    (Answer::Count(reply, result), Effect::None, error)
                }
            }
        }
        Command::Confirm(ids, now_ms, reply) => match confirm(connection, &ids, now_ms) {
            Ok((from_pending, from_published)) => (
                Answer::Count(reply, Ok((from_pending + from_published) as usize)),
                Effect::Moved {
                    pending_to_published: 0,
                    pending_confirmed: from_pending,
                    published_confirmed: from_published,
                },
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

fn accept_one(
    connection: &Connection,
    record: &OutboxRecord,
    content_window_ms: i64,
) -> Result<AcceptOutcome, rusqlite::Error> {
    let existing: Option<(i64, i64, Vec<u8>)> = connection
        .prepare_cached("SELECT kind, created_at_ms, response FROM idempotency WHERE key = ?1")?
        .query_row([&record.idempotency_key], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    if let Some((kind, created_at_ms, response)) = existing {
        let still_valid = kind == KeyKind::External.code()
            || created_at_ms >= record.received_at_ms.saturating_sub(content_window_ms);
        if still_valid {
            return Ok(AcceptOutcome::Duplicate { response });
        }
    }
    connection
        .prepare_cached(
            "INSERT INTO outbox (feedback_id, ticket_id, subject, payload, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            record.feedback_id,
            record.ticket_id,
            record.subject,
            record.payload,
            record.received_at_ms
        ])?;
    let seq = connection.last_insert_rowid();
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO idempotency (key, kind, created_at_ms, response)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            record.idempotency_key,
            record.key_kind.code(),
            record.received_at_ms,
            record.response
        ])?;
    Ok(AcceptOutcome::Accepted { seq })
}

/// Returns (rows moved from pending to published, rows touched in all).
fn mark_published(
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
fn confirm(
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

fn prune(connection: &Connection, before: PruneBefore) -> Result<Pruned, rusqlite::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, feedback_id: &str, at_ms: i64, kind: KeyKind) -> OutboxRecord {
        OutboxRecord {
            feedback_id: feedback_id.into(),
            ticket_id: format!("T-{feedback_id}"),
            subject: "feedback.received.web".into(),
            payload: vec![1, 2, 3],
            received_at_ms: at_ms,
            idempotency_key: key.into(),
            key_kind: kind,
            response: feedback_id.as_bytes().to_vec(),
        }
    }

    fn open(dir: &tempfile::TempDir) -> Outbox {
        Outbox::open(
            &dir.path().join("outbox.db"),
            OutboxOptions {
                content_window: Duration::from_millis(1_000),
                ..OutboxOptions::default()
            },
        )
        .expect("open outbox")
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_key_seen_before_returns_the_first_answer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = open(&dir);
        let first = outbox
            .accept(record("web:1", "f1", 1_000, KeyKind::External), WAIT)
            .await
            .expect("accept");
        assert!(matches!(first, AcceptOutcome::Accepted { .. }));
        let second = outbox
            .accept(record("web:1", "f2", 900_000, KeyKind::External), WAIT)
            .await
            .expect("accept");
        assert_eq!(
            second,
            AcceptOutcome::Duplicate {
                response: b"f1".to_vec()
            }
        );
        assert_eq!(outbox.counters().depth(), 1);
        assert_eq!(outbox.state_of("f2").await.expect("read"), None);
    }

    #[tokio::test]
    async fn concurrent_repeats_of_one_key_write_one_row() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = open(&dir);
        let attempts = (0..32).map(|index| {
            let outbox = outbox.clone();
            async move {
                outbox
                    .accept(
                        record("app:x", &format!("f{index}"), 1_000, KeyKind::External),
                        WAIT,
                    )
                    .await
                    .expect("accept")
            }
        });
        let outcomes = futures::future::join_all(attempts).await;
        let accepted = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, AcceptOutcome::Accepted { .. }))
            .count();
        assert_eq!(accepted, 1);
        assert_eq!(outbox.load_pending(0, 100).await.expect("load").len(), 1);
    }

    #[tokio::test]
    async fn content_keys_expire_after_the_window_external_keys_do_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = open(&dir);
        outbox
            .accept(record("content:abc", "f1", 1_000, KeyKind::Content), WAIT)
            .await
            .expect("accept");
        let within = outbox
            .accept(record("content:abc", "f2", 1_500, KeyKind::Content), WAIT)
            .await
            .expect("accept");
        assert!(matches!(within, AcceptOutcome::Duplicate { .. }));
        let after = outbox
            .accept(record("content:abc", "f3", 5_000, KeyKind::Content), WAIT)
            .await
            .expect("accept");
        assert!(matches!(after, AcceptOutcome::Accepted { .. }));
        let again = outbox
            .accept(record("content:abc", "f4", 5_100, KeyKind::Content), WAIT)
            .await
            .expect("accept");
        assert_eq!(
            again,
            AcceptOutcome::Duplicate {
                response: b"f3".to_vec()
            }
        );
    }

    #[tokio::test]
    async fn rows_move_from_pending_to_published_to_confirmed_and_are_pruned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = open(&dir);
        for index in 0..3 {
            outbox
                .accept(
                    record(
                        &format!("web:{index}"),
                        &format!("f{index}"),
                        1_000,
                        KeyKind::External,
                    ),
                    WAIT,
                )
                .await
                .expect("accept");
        }
        let pending = outbox.load_pending(0, 10).await.expect("load");
        assert_eq!(pending.len(), 3);
        assert!(pending.windows(2).all(|pair| pair[0].seq < pair[1].seq));
        outbox
            .mark_published(vec![pending[0].seq, pending[1].seq], 2_000)
            .await
            .expect("mark");
        let counters = outbox.counters();
        assert_eq!(counters.pending.load(Ordering::Relaxed), 1);
        assert_eq!(counters.published.load(Ordering::Relaxed), 2);
        assert_eq!(
            outbox
                .load_unconfirmed(3_000, 10)
                .await
                .expect("load")
                .len(),
            2
        );
        assert_eq!(
            outbox
                .load_unconfirmed(2_000, 10)
                .await
                .expect("load")
                .len(),
            0
        );

        // A confirmation may arrive for a published row or even before the publish ack.
        let confirmed = outbox
            .confirm(vec!["f0".into(), "f2".into(), "unknown".into()], 4_000)
            .await
            .expect("confirm");
        assert_eq!(confirmed, 2);
        assert_eq!(counters.depth(), 1);
        assert_eq!(
            outbox.state_of("f0").await.expect("read"),
            Some("confirmed")
        );
        assert_eq!(
            outbox.state_of("f1").await.expect("read"),
            Some("published")
        );
        // A late publish ack does not bring a confirmed row back.
        outbox
            .mark_published(vec![pending[2].seq], 4_500)
            .await
            .expect("mark");
        assert_eq!(
            outbox.state_of("f2").await.expect("read"),
            Some("confirmed")
        );

        let pruned = outbox
            .prune(PruneBefore {
                confirmed_before_ms: 5_000,
                external_keys_before_ms: 0,
                content_keys_before_ms: 0,
            })
            .await
            .expect("prune");
        assert_eq!(pruned, Pruned { rows: 2, keys: 0 });
        assert_eq!(outbox.state_of("f0").await.expect("read"), None);
        // The idempotency key outlives the pruned row.
        let repeat = outbox
            .accept(record("web:0", "f9", 6_000, KeyKind::External), WAIT)
            .await
            .expect("accept");
        assert_eq!(
            repeat,
            AcceptOutcome::Duplicate {
                response: b"f0".to_vec()
            }
        );
    }

    #[tokio::test]
    async fn rows_survive_a_reopen_with_their_counters() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = open(&dir);
        // A clone still held elsewhere must not keep the writer alive after close.
        let clone = outbox.clone();
        outbox
            .accept(record("web:1", "f1", 1_000, KeyKind::External), WAIT)
            .await
            .expect("accept");
        outbox.close().await;
        let refused = clone
            .accept(record("web:2", "f2", 1_000, KeyKind::External), WAIT)
            .await;
        assert!(
            matches!(refused, Err(IntakeError::WriterStopped)),
            "{refused:?}"
        );
        let reopened = open(&dir);
        assert_eq!(reopened.counters().depth(), 1);
        assert_eq!(reopened.load_pending(0, 10).await.expect("load").len(), 1);
    }
}
