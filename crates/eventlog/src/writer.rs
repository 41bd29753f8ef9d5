//! The single writer: a dedicated thread that owns the write connection, drains queued
//! requests into one transaction (group commit) with a savepoint per request, commits, and
//! then answers every caller and publishes the new head.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::canonical::{format_timestamp, truncate_to_micros, GENESIS_HASH};
use crate::error::{classify_sqlite, sqlite, LogError};
use crate::event::{AppendOutcome, RecordedEvent};
use crate::options::LogOptions;
use crate::prepare::PreparedRequest;
use crate::projector::Projector;
use crate::Head;

/// How long the writer keeps its write-ahead log small after a write found the disk full.
const LOW_SPACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(600);

/// The write-ahead log size above which the writer truncates it while space is low.
const LOW_SPACE_WAL_BYTES: u64 = 1024 * 1024;

/// What callers send to the writer.
pub(crate) struct WriterCommand {
    /// The requests, each answered on its own.
    pub requests: Vec<PreparedRequest>,
    /// Where the answers go, in the order of `requests`.
    pub reply: oneshot::Sender<Vec<Result<AppendOutcome, LogError>>>,
}

/// The head as the writer last committed it, shared with every handle.
pub(crate) struct SharedHead {
    pub head: Mutex<Head>,
    pub position_watch: watch::Sender<u64>,
}

impl SharedHead {
    pub fn new(head: Head) -> Self {
        let (position_watch, _) = watch::channel(head.position);
        SharedHead {
            head: Mutex::new(head),
            position_watch,
        }
    }

    pub fn current(&self) -> Head {
        *self
            .head
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn publish(&self, head: Head) {
        *self
            .head
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = head;
        self.position_watch.send_replace(head.position);
    }
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub connection: Connection,
    pub projector: Option<Box<dyn Projector>>,
    pub shared: Arc<SharedHead>,
    pub options: LogOptions,
    /// Until when the write-ahead log is kept small because a write found the disk full.
    pub low_space_until: Option<Instant>,
    /// When the write-ahead log was last truncated (or tried).
    pub last_truncation: Option<Instant>,
}

const INSERT_EVENT: &str = "INSERT INTO events (position, stream_id, stream_version, event_id, \
     event_type, schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, \
     payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// Where an event id is stored.
struct StoredEvent {
    stream_id: String,
    position: u64,
    stream_version: u64,
}

impl Writer {
    /// Runs until every sender is gone and the queue is drained.
    pub fn run(mut self, receiver: Receiver<WriterCommand>) {
        while let Some(batch) = next_batch(&receiver, &self.options) {
            self.commit_batch(batch);
        }
    }

    /// Appends a batch in one transaction and answers its callers after the commit.
    fn commit_batch(&mut self, batch: Vec<WriterCommand>) {
        let (requests, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|command| (command.requests, command.reply))
            .unzip();
        match self.append_in_transaction(&requests) {
            Ok((results, head)) => {
                if let Some(head) = head {
                    self.shared.publish(head);
                }
                let disk_full = results
                    .iter()
                    .flatten()
                    .any(|result| result.as_ref().is_err_and(LogError::is_disk_full));
                self.truncate_wal(disk_full);
                for (reply, answers) in replies.into_iter().zip(results) {
                    // A caller that stopped waiting has dropped its receiver; its events are
                    // committed all the same.
                    let _ = reply.send(answers);
                }
            }
            Err(error) => {
                self.truncate_wal(error.is_disk_full());
                for (reply, command_requests) in replies.into_iter().zip(&requests) {
                    let _ = reply.send(vec![Err(error.clone()); command_requests.len()]);
                }
            }
        }
    }

    /// Keeps the write-ahead log small for a while after a write found the disk full: at most
    /// once a second, when the log is over [`LOW_SPACE_WAL_BYTES`] (or the disk was just
    /// found full), copies it into the database and truncates it to nothing. Under steady
    /// load readers keep the passive checkpoints from ever finishing, so the log only grows;
    /// on a small disk it would take all the space again right after space is freed, and then
    /// hold the space the database needs to take it back. Fails harmlessly while nothing is
    /// free.
    fn truncate_wal(&mut self, disk_full: bool) {
        let now = Instant::now();
        if disk_full {
            self.low_space_until = Some(now + LOW_SPACE_PERIOD);
        }
        if self.low_space_until.is_none_or(|until| now >= until)
            || self
                .last_truncation
                .is_some_and(|at| now.duration_since(at) < std::time::Duration::from_secs(1))
        {
            return;
        }
        let wal_bytes = self
            .connection
            .path()
            .and_then(|path| std::fs::metadata(format!("{path}-wal")).ok())
            .map_or(0, |meta| meta.len());
        if !disk_full && wal_bytes < LOW_SPACE_WAL_BYTES {
            return;
        }
        self.last_truncation = Some(now);
        let _ = self
            .connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            });
    }

    /// Runs one transaction over every request of the batch. Returns each request's result
    /// and the new head if anything was appended; an `Err` means the whole batch failed.
    #[allow(clippy::type_complexity)]
    fn append_in_transaction(
        &mut self,
        batch: &[Vec<PreparedRequest>],
    ) -> Result<(Vec<Vec<Result<AppendOutcome, LogError>>>, Option<Head>), LogError> {
        if !self.connection.is_autocommit() {
            // A transaction left open by a failed commit whose rollback failed too (a full
            // disk can do that): end it, or the writer could never begin another.
            self.connection
                .execute_batch("ROLLBACK")
                .map_err(sqlite("roll back an unfinished transaction"))?;
        }
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite("begin append transaction"))?;
        // The head is read inside the write lock, so the positions stay right even if
        // another process appended in between (it should not, but SQLite decides).
        let start_head = read_head(&transaction)?;
        let mut head = start_head;
        let recorded_at = truncate_to_micros(Utc::now());
        let recorded_at_text = format_timestamp(&recorded_at);
        let mut results = Vec::with_capacity(batch.len());
        for requests in batch {
            let mut answers = Vec::with_capacity(requests.len());
            for request in requests {
                run_cached(&transaction, "SAVEPOINT append_request", "open savepoint")?;
                let before = head;
                let context = AppendContext {
                    recorded_at,
                    recorded_at_text: &recorded_at_text,
                };
                let projector = self.projector.as_deref_mut();
                match append_request(&transaction, request, &mut head, &context, projector) {
                    Ok(outcome) => {
                        run_cached(&transaction, "RELEASE append_request", "release savepoint")?;
                        answers.push(Ok(outcome));
                    }
                    Err(error) => {
                        if transaction.is_autocommit() {
                            // SQLite rolled the whole transaction back (disk full, I/O
                            // error): the batch cannot commit.
                            return Err(error);
                        }
                        run_cached(
                            &transaction,
                            "ROLLBACK TO append_request",
                            "roll back savepoint",
                        )?;
                        run_cached(&transaction, "RELEASE append_request", "release savepoint")?;
                        head = before;
                        answers.push(Err(error));
                    }
                }
            }
            results.push(answers);
        }
        transaction
            .commit()
            .map_err(sqlite("commit append transaction"))?;
        let new_head = (head.position != start_head.position).then_some(head);
        Ok((results, new_head))
    }
}

/// Waits for the next request, then drains what is queued (waiting at most
/// `max_batch_wait` for more) until the batch holds `max_batch_events`. `None` once every
/// sender is gone and the queue is empty.
pub(crate) fn next_batch(
    receiver: &Receiver<WriterCommand>,
    options: &LogOptions,
) -> Option<Vec<WriterCommand>> {
    let first = receiver.recv().ok()?;
    let mut batch_events = first
        .requests
        .iter()
        .map(PreparedRequest::len)
        .sum::<usize>();
    let mut batch = vec![first];
    let deadline = Instant::now() + options.max_batch_wait;
    while batch_events < options.max_batch_events {
        let next = match receiver.try_recv() {
            Ok(command) => command,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match receiver.recv_timeout(deadline - now) {
                    Ok(command) => command,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        batch_events += next
            .requests
            .iter()
            .map(PreparedRequest::len)
            .sum::<usize>();
        batch.push(next);
    }
    Some(batch)
}

/// What every request of one transaction shares.
struct AppendContext<'a> {
    recorded_at: chrono::DateTime<Utc>,
    recorded_at_text: &'a str,
}

/// Runs a statement without parameters through the connection's statement cache.
fn run_cached(
    transaction: &Transaction<'_>,
    sql: &'static str,
    context: &'static str,
) -> Result<(), LogError> {
    transaction
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(|_| ())
        .map_err(sqlite(context))
}

/// Reads the last row's position and hash (0 and the genesis hash for an empty log).
pub(crate) fn read_head(connection: &Connection) -> Result<Head, LogError> {
    let row: Option<(u64, Vec<u8>)> = connection
        .prepare_cached("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
        .and_then(|mut statement| {
            statement
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(sqlite("read head"))?;
    match row {
        None => Ok(Head {
            position: 0,
            hash: GENESIS_HASH,
        }),
        Some((position, hash)) => {
            let hash: [u8; 32] = hash.try_into().map_err(|_| LogError::Corrupt {
                reason: format!("hash at position {position} is not 32 bytes"),
            })?;
            Ok(Head { position, hash })
        }
    }
}

/// Finds where an event id is stored.
fn find_event(
    transaction: &Transaction<'_>,
    event_id: &Uuid,
) -> Result<Option<StoredEvent>, LogError> {
    transaction
        .prepare_cached(
            "SELECT stream_id, position, stream_version FROM events WHERE event_id = ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_row([&event_id.as_bytes()[..]], |row| {
                    Ok(StoredEvent {
                        stream_id: row.get(0)?,
                        position: row.get(1)?,
                        stream_version: row.get(2)?,
                    })
                })
                .optional()
        })
        .map_err(sqlite("look up event id"))
}

/// The stream's current version (0 when it has no events).
fn stream_version(transaction: &Transaction<'_>, stream_id: &str) -> Result<u64, LogError> {
    transaction
        .prepare_cached("SELECT MAX(stream_version) FROM events WHERE stream_id = ?1")
        .and_then(|mut statement| {
            statement.query_row([stream_id], |row| row.get::<_, Option<u64>>(0))
        })
        .map(|version| version.unwrap_or(0))
        .map_err(sqlite("read stream version"))
}

/// True for a violated UNIQUE constraint.
fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Appends one request inside the current savepoint, advancing `head`.
fn append_request(
    transaction: &Transaction<'_>,
    request: &PreparedRequest,
    head: &mut Head,
    context: &AppendContext<'_>,
    projector: Option<&mut (dyn Projector + 'static)>,
) -> Result<AppendOutcome, LogError> {
    let (Some(first), Some(last)) = (request.events.first(), request.events.last()) else {
        return Err(LogError::invalid(
            "events",
            "at least one event is required",
        ));
    };
    if let Some(stored_first) = find_event(transaction, &first.event_id)? {
        if stored_first.stream_id != request.stream_id {
            return Err(LogError::DuplicateEventId {
                event_id: first.event_id,
                stored_stream_id: stored_first.stream_id,
            });
        }
        let first_position = stored_first.position;
        let stored_last = match find_event(transaction, &last.event_id)? {
            Some(stored_last) if stored_last.stream_id == request.stream_id => stored_last,
            _ => stored_first,
        };
        return Ok(AppendOutcome {
            first_position,
            last_position: stored_last.position,
            stream_version: stored_last.stream_version,
            duplicate: true,
        });
    }
    let actual = stream_version(transaction, &request.stream_id)?;
    if !request.expected.accepts(actual) {
        return Err(LogError::Conflict {
            stream_id: request.stream_id.clone(),
            expected: request.expected,
            actual,
        });
    }
    let mut insert = transaction
        .prepare_cached(INSERT_EVENT)
        .map_err(sqlite("prepare event insert"))?;
    let mut appended = Vec::with_capacity(if projector.is_some() {
        request.len()
    } else {
        0
    });
    let first_position = head.position + 1;
    let mut version = actual;
    for event in &request.events {
        let position = head.position + 1;
        version += 1;
        let hash = event.hash_at(&head.hash, position, version, context.recorded_at_text);
        let inserted = insert.execute(rusqlite::params![
            position,
            request.stream_id,
            version,
            &event.event_id.as_bytes()[..],
            event.event_type,
            event.schema_version,
            event.occurred_at_text,
            context.recorded_at_text,
            event.actor_json,
            event.correlation_id,
            event.causation_id,
            event.payload_json,
            &head.hash[..],
            &hash[..],
        ]);
        if let Err(error) = inserted {
            if is_unique_violation(&error) {
                if let Some(stored) = find_event(transaction, &event.event_id)? {
                    return Err(LogError::DuplicateEventId {
                        event_id: event.event_id,
                        stored_stream_id: stored.stream_id,
                    });
                }
            }
            return Err(classify_sqlite("insert event", error));
        }
        if projector.is_some() {
            appended.push(RecordedEvent {
                position,
                stream_id: request.stream_id.clone(),
                stream_version: version,
                event_id: event.event_id,
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                occurred_at: event.occurred_at,
                recorded_at: context.recorded_at,
                actor_json: event.actor_json.clone(),
                correlation_id: event.correlation_id.clone(),
                causation_id: event.causation_id.clone(),
                payload_json: event.payload_json.clone(),
                prev_hash: head.hash,
                hash,
            });
        }
        *head = Head { position, hash };
    }
    if let Some(projector) = projector {
        projector.apply(transaction, &appended)?;
    }
    Ok(AppendOutcome {
        first_position,
        last_position: head.position,
        stream_version: version,
        duplicate: false,
    })
}
