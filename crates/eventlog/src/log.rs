//! `EventLog`: the cheap, cloneable handle that opens a log, sends appends to its writer
//! thread and reads on read-only connections.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::OpenFlags;
use tokio::sync::{oneshot, watch};

use crate::checkpoint::start_checkpointer;
use crate::error::{sqlite, LogError};
use crate::event::{AppendOutcome, AppendRequest, ExpectedVersion, NewEvent, RecordedEvent};
use crate::options::LogOptions;
use crate::postgres::{self, PgPool, PgWriter};
use crate::prepare::{prepare, PreparedRequest, PARALLEL_PREPARE_EVENTS};
use crate::projector::{Projector, SharedProjector};
use crate::read::{self, ReaderPool};
use crate::store::StoreUrl;
use crate::verify::{verify_path, Checkpoint, VerifyReport};
use crate::writer::{read_head, SharedHead, Writer, WriterCommand};
use crate::{schema, Head};

/// A handle on one open event log. Clones share the writer thread and the reader
/// connections; the writer finishes what is queued and stops when the last clone is dropped.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EventLog")
            .field("path", &self.inner.path)
            .field("head", &self.inner.shared.current().position)
            .finish()
    }
}

struct Inner {
    /// The SQLite file, or for PostgreSQL the local projection file (empty without one).
    path: PathBuf,
    store: StoreUrl,
    sender: Option<SyncSender<WriterCommand>>,
    writer_thread: Option<JoinHandle<()>>,
    /// The SQLite checkpointer, or the PostgreSQL follower.
    checkpoint_thread: Option<JoinHandle<()>>,
    shared: Arc<SharedHead>,
    readers: Readers,
}

/// A batch of one request: `events` for `stream_id`.
fn one_request(
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Vec<AppendRequest> {
    vec![AppendRequest {
        stream_id: stream_id.to_string(),
        expected,
        events,
    }]
}

/// Starts the writer thread of a log.
fn spawn_writer(run: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, LogError> {
    std::thread::Builder::new()
        .name("eventlog-writer".to_string())
        .spawn(run)
        .map_err(|source| LogError::Io {
            context: "start the writer thread",
            source: Arc::new(source),
        })
}

impl EventLog {
    /// The log whose threads `inner` holds.
    fn started(inner: Inner) -> EventLog {
        EventLog {
            inner: Arc::new(inner),
        }
    }
}

/// Where reads go.
enum Readers {
    Sqlite(Arc<ReaderPool>),
    Postgres(Arc<PgPool>),
}

/// The projector of a PostgreSQL log and the local SQLite file its projections live in.
pub struct LocalProjections {
    /// The projection file (created if absent).
    pub path: PathBuf,
    /// The projector the follower feeds.
    pub projector: Box<dyn Projector>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the sender ends the writer's loop once the queue is drained.
        self.sender.take();
        if let Some(thread) = self.writer_thread.take() {
            // A writer that panicked has nothing left to clean up.
            let _ = thread.join();
        }
        // The writer's connection owned the checkpointer's wake-up sender (and the PostgreSQL
        // writer the follower's queue): it stops now.
        if let Some(thread) = self.checkpoint_thread.take() {
            let _ = thread.join();
        }
    }
}

/// A pending answer from the writer.
type Reply = oneshot::Receiver<Vec<Result<AppendOutcome, LogError>>>;

impl EventLog {
    /// Opens (creating if needed) the log at `path`, applies the schema migrations and starts
    /// the writer thread.
    pub fn open(path: impl AsRef<Path>, options: LogOptions) -> Result<EventLog, LogError> {
        Self::open_inner(path.as_ref(), options, None)
    }

    /// Like `open`, with a projector that the writer calls inside its transactions (see
    /// `Projector` for how).
    pub fn open_with_projector(
        path: impl AsRef<Path>,
        options: LogOptions,
        projector: Box<dyn Projector>,
    ) -> Result<EventLog, LogError> {
        Self::open_inner(path.as_ref(), options, Some(projector))
    }

    fn open_inner(
        path: &Path,
        options: LogOptions,
        mut projector: Option<Box<dyn Projector>>,
    ) -> Result<EventLog, LogError> {
        let mut connection = read::open_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            options.busy_timeout,
            "open event log",
        )?;
        let journal_mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sqlite("switch to WAL mode"))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(LogError::Unavailable {
                reason: format!(
                    "{} cannot use WAL mode (it is in {journal_mode} mode)",
                    path.display()
                ),
            });
        }
        connection
            .pragma_update(None, "synchronous", options.synchronous.pragma_value())
            .map_err(sqlite("set synchronous"))?;
        connection
            .pragma_update(None, "cache_size", -i64::from(options.writer_cache_kib))
            .map_err(sqlite("set cache size"))?;
        connection
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(sqlite("set temp store"))?;
        schema::migrate(&mut connection)?;
        if let Some(projector) = projector.as_deref_mut() {
            projector.migrate(&connection)?;
        }
        let head = read_head(&connection)?;
        let checkpoint_thread = start_checkpointer(&mut connection, path, &options)?;
        let shared = Arc::new(SharedHead::new(head));
        let (sender, receiver) = sync_channel(options.max_queued_requests.max(1));
        let readers = Readers::Sqlite(Arc::new(ReaderPool::new(
            path.to_path_buf(),
            options.busy_timeout,
            options.reader_connections,
        )));
        let writer = Writer {
            connection,
            projector,
            shared: Arc::clone(&shared),
            options,
            low_space_until: None,
            last_truncation: None,
        };
        let writer_thread = spawn_writer(move || writer.run(receiver))?;
        Ok(EventLog::started(Inner {
            path: path.to_path_buf(),
            store: StoreUrl::Sqlite(path.to_path_buf()),
            sender: Some(sender),
            writer_thread: Some(writer_thread),
            checkpoint_thread: Some(checkpoint_thread),
            shared,
            readers,
        }))
    }

    /// Opens the log in a PostgreSQL database (creating its tables if needed) and starts its
    /// writer and follower threads. With `projections`, the follower feeds every committed
    /// row (from any process) to the projector in a local SQLite file, and `head`, `subscribe`
    /// and appends' answers wait for it; see the `postgres` module for how positions stay
    /// gap-free with several writers.
    pub fn open_postgres(
        url: &str,
        options: LogOptions,
        projections: Option<LocalProjections>,
    ) -> Result<EventLog, LogError> {
        Self::open_postgres_shared(url, options, projections, None)
    }

    /// As [`EventLog::open_postgres`], with `shared` projections kept in the database itself:
    /// the writer folds every row it appends into them inside the append transaction, and
    /// first brings them up to the head (see [`SharedProjector`]).
    pub fn open_postgres_shared(
        url: &str,
        options: LogOptions,
        projections: Option<LocalProjections>,
        shared: Option<Box<dyn SharedProjector>>,
    ) -> Result<EventLog, LogError> {
        postgres::off_runtime(|| Self::open_postgres_here(url, options, projections, shared))
    }

    fn open_postgres_here(
        url: &str,
        options: LogOptions,
        projections: Option<LocalProjections>,
        mut shared_projector: Option<Box<dyn SharedProjector>>,
    ) -> Result<EventLog, LogError> {
        let store = StoreUrl::parse(url)?;
        if !store.is_postgres() {
            return Err(LogError::invalid(
                "store",
                "is not a postgres:// connection string",
            ));
        }
        let mut client = postgres::connect(url)?;
        postgres::migrate(&mut client)?;
        if let Some(projector) = shared_projector.as_deref_mut() {
            projector.migrate(&mut client)?;
            postgres::catch_up(&mut client, projector)?;
        }
        let path = projections
            .as_ref()
            .map(|projections| projections.path.clone())
            .unwrap_or_default();
        let projection = projections
            .map(|projections| {
                postgres::follower::open_projection(&projections.path, projections.projector)
            })
            .transpose()?;
        let shared = Arc::new(SharedHead::new(Head {
            position: 0,
            hash: crate::GENESIS_HASH,
        }));
        let (pending_sender, pending_receiver) = std::sync::mpsc::channel();
        let follower_thread =
            postgres::start_follower(url, projection, Arc::clone(&shared), pending_receiver)?;
        let (sender, receiver) = sync_channel(options.max_queued_requests.max(1));
        let readers = Readers::Postgres(Arc::new(PgPool::new(
            url.to_string(),
            options.reader_connections,
        )));
        let writer = PgWriter {
            url: url.to_string(),
            client: Some(client),
            options,
            follower: pending_sender,
            shared: shared_projector,
        };
        let writer_thread = spawn_writer(move || writer.run(receiver))?;
        Ok(EventLog::started(Inner {
            path,
            store,
            sender: Some(sender),
            writer_thread: Some(writer_thread),
            checkpoint_thread: Some(follower_thread),
            shared,
            readers,
        }))
    }

    /// Opens the log a `--store` value names: a SQLite file (with the projector inside it),
    /// or a PostgreSQL database (with the projector's tables in `projection_path`).
    pub fn open_store(
        store: &StoreUrl,
        options: LogOptions,
        projector: Option<Box<dyn Projector>>,
        projection_path: &Path,
    ) -> Result<EventLog, LogError> {
        match store {
            StoreUrl::Sqlite(path) => Self::open_inner(path, options, projector),
            StoreUrl::Postgres(url) => Self::open_postgres(
                url,
                options,
                projector.map(|projector| LocalProjections {
                    path: projection_path.to_path_buf(),
                    projector,
                }),
            ),
        }
    }

    /// The database file; for a PostgreSQL log, the local projection file (empty without
    /// projections).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Where the log lives.
    pub fn store(&self) -> &StoreUrl {
        &self.inner.store
    }

    /// Waits until this handle has seen (and projected) every row committed in the store when
    /// it was called, by any process, and returns that position. For SQLite (one writer) that
    /// is the head at once; for PostgreSQL, other replicas' rows arrive through the follower
    /// within milliseconds. Fails with `Unavailable` when that takes more than 10 seconds.
    pub async fn sync(&self) -> Result<u64, LogError> {
        let target = match &self.inner.readers {
            Readers::Sqlite(_) => return Ok(self.head().position),
            Readers::Postgres(pool) => {
                let pool = Arc::clone(pool);
                run_blocking(move || pool.with_client(postgres::committed_position)).await?
            }
        };
        if self.head().position >= target {
            return Ok(target);
        }
        let wait = self.wait_for(target.saturating_sub(1));
        match tokio::time::timeout(std::time::Duration::from_secs(10), wait).await {
            Ok(_) => Ok(target),
            Err(_) => Err(LogError::Unavailable {
                reason: format!(
                    "this replica's projections are behind the log (at {}, the log at {target})",
                    self.head().position
                ),
            }),
        }
    }

    /// Appends rows recorded elsewhere exactly as they are (positions, versions, times and
    /// hashes kept), after the current head: each row must continue the chain (its position
    /// is the next, its `prev_hash` the head's hash, its hash recomputes). Used to move a log
    /// into PostgreSQL; on a SQLite log it is refused. Rows that are already stored with the
    /// same hash are skipped, so an interrupted import can be run again.
    pub fn import_blocking(&self, rows: &[RecordedEvent]) -> Result<Head, LogError> {
        match &self.inner.readers {
            Readers::Sqlite(_) => Err(LogError::invalid(
                "store",
                "rows are imported into a PostgreSQL log only",
            )),
            Readers::Postgres(pool) => pool.with_client(|client| postgres::import(client, rows)),
        }
    }

    // ----- Appends -----

    /// Appends events to one stream. A stale `expected` version is a `Conflict`; if the
    /// first event id is already stored in this stream, nothing is appended and the stored
    /// positions come back with `duplicate: true`, whatever `expected` says.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, LogError> {
        single(
            self.append_many(one_request(stream_id, expected, events))
                .await,
        )
    }

    /// `append` for callers outside an async runtime: blocks until the batch commits. Do not
    /// call the blocking variants from an async task (tokio refuses to block its worker
    /// threads and panics); use `append` there, or call them inside `spawn_blocking`.
    pub fn append_blocking(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, LogError> {
        single(self.append_many_blocking(one_request(stream_id, expected, events)))
    }

    /// Appends several requests in one transaction, each with its own result (in order):
    /// one failing request does not fail the others.
    pub async fn append_many(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Vec<Result<AppendOutcome, LogError>> {
        let count = requests.len();
        let total_events: usize = requests.iter().map(|request| request.events.len()).sum();
        let (prepared, slots) = if total_events >= PARALLEL_PREPARE_EVENTS {
            // Preparing many events takes milliseconds of CPU: do it on rayon's threads, not
            // on the async runtime's.
            let (sender, receiver) = oneshot::channel();
            rayon::spawn(move || {
                let _ = sender.send(prepare_all(requests));
            });
            match receiver.await {
                Ok(prepared) => prepared,
                Err(_) => return vec![Err(LogError::Closed); count],
            }
        } else {
            prepare_all(requests)
        };
        if prepared.is_empty() {
            return merge(slots, Vec::new());
        }
        let reply = match self.send(prepared, false) {
            Ok(reply) => reply,
            Err(error) => return vec![Err(error); count],
        };
        let answers = reply
            .await
            .unwrap_or_else(|_| vec![Err(LogError::Closed); count]);
        merge(slots, answers)
    }

    /// `append_many` for callers outside an async runtime.
    pub fn append_many_blocking(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Vec<Result<AppendOutcome, LogError>> {
        let count = requests.len();
        let (prepared, slots) = prepare_all(requests);
        if prepared.is_empty() {
            return merge(slots, Vec::new());
        }
        let reply = match self.send(prepared, true) {
            Ok(reply) => reply,
            Err(error) => return vec![Err(error); count],
        };
        let answers = reply
            .blocking_recv()
            .unwrap_or_else(|_| vec![Err(LogError::Closed); count]);
        merge(slots, answers)
    }

    /// Queues prepared requests for the writer. An async caller gets `Unavailable` at once
    /// when the queue is full; a blocking caller waits for room.
    fn send(&self, requests: Vec<PreparedRequest>, wait_for_room: bool) -> Result<Reply, LogError> {
        let sender = self.inner.sender.as_ref().ok_or(LogError::Closed)?;
        let (reply, receiver) = oneshot::channel();
        let command = WriterCommand { requests, reply };
        if wait_for_room {
            sender.send(command).map_err(|_| LogError::Closed)?;
        } else {
            sender.try_send(command).map_err(|error| match error {
                TrySendError::Full(_) => LogError::Unavailable {
                    reason: "the writer's queue is full".to_string(),
                },
                TrySendError::Disconnected(_) => LogError::Closed,
            })?;
        }
        Ok(receiver)
    }

    // ----- Reads -----

    /// Events of one stream with version ≥ `from_version` (0 or 1 for all), in order.
    pub fn read_stream_blocking(
        &self,
        stream_id: &str,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        match &self.inner.readers {
            Readers::Sqlite(pool) => pool.with_connection(|connection| {
                read::read_stream(connection, stream_id, from_version)
            }),
            Readers::Postgres(pool) => {
                pool.with_client(|client| postgres::read_stream(client, stream_id, from_version))
            }
        }
    }

    /// At most `limit` events with position ≥ `from_position` (positions start at 1), in
    /// position order.
    pub fn read_all_blocking(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        match &self.inner.readers {
            Readers::Sqlite(pool) => {
                pool.with_connection(|connection| read::read_all(connection, from_position, limit))
            }
            Readers::Postgres(pool) => {
                pool.with_client(|client| postgres::read_all(client, from_position, limit))
            }
        }
    }

    /// The event stored under an event id, if any.
    pub fn read_event_blocking(
        &self,
        event_id: &uuid::Uuid,
    ) -> Result<Option<RecordedEvent>, LogError> {
        match &self.inner.readers {
            Readers::Sqlite(pool) => {
                pool.with_connection(|connection| read::read_event(connection, event_id))
            }
            Readers::Postgres(pool) => {
                pool.with_client(|client| postgres::read_event(client, event_id))
            }
        }
    }

    /// `read_stream_blocking` on tokio's blocking pool.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        let log = self.clone();
        let stream_id = stream_id.to_string();
        run_blocking(move || log.read_stream_blocking(&stream_id, from_version)).await
    }

    /// `read_all_blocking` on tokio's blocking pool.
    pub async fn read_all(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        let log = self.clone();
        run_blocking(move || log.read_all_blocking(from_position, limit)).await
    }

    /// `read_event_blocking` on tokio's blocking pool.
    pub async fn read_event(
        &self,
        event_id: uuid::Uuid,
    ) -> Result<Option<RecordedEvent>, LogError> {
        let log = self.clone();
        run_blocking(move || log.read_event_blocking(&event_id)).await
    }

    /// The last committed position and its hash (0 and 32 zero bytes for an empty log).
    pub fn head(&self) -> Head {
        self.inner.shared.current()
    }

    /// A receiver of the head position, updated after every commit that appended events.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.shared.position_watch.subscribe()
    }

    /// Returns the head position as soon as it is greater than `after_position`.
    pub async fn wait_for(&self, after_position: u64) -> u64 {
        let mut receiver = self.subscribe();
        loop {
            let position = *receiver.borrow_and_update();
            if position > after_position {
                return position;
            }
            // The sender lives as long as this handle, so `changed` cannot fail here.
            if receiver.changed().await.is_err() {
                return position;
            }
        }
    }

    // ----- Verification -----

    /// Recomputes the chain from the start (or from a checkpoint) up to the head; see
    /// `verify_path`.
    pub fn verify(
        &self,
        from: Option<Checkpoint>,
        progress: impl FnMut(u64, u64),
    ) -> Result<VerifyReport, LogError> {
        verify_store(&self.inner.store, from, progress)
    }

    /// `verify` on tokio's blocking pool, without progress reports.
    pub async fn verify_in_background(
        &self,
        from: Option<Checkpoint>,
    ) -> Result<VerifyReport, LogError> {
        let store = self.inner.store.clone();
        run_blocking(move || verify_store(&store, from, |_, _| {})).await
    }
}

/// Verifies the log a `--store` value names (see `verify_path` and
/// `postgres::verify_postgres`).
pub fn verify_store(
    store: &StoreUrl,
    from: Option<Checkpoint>,
    progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, LogError> {
    match store {
        StoreUrl::Sqlite(path) => verify_path(path, from, progress),
        StoreUrl::Postgres(url) => postgres::verify_postgres(url, from, progress),
    }
}

/// Runs a blocking read on tokio's blocking pool.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(move || postgres::on_blocking_pool(work))
        .await
        .unwrap_or_else(|_| Err(LogError::Closed))
}

/// Where each request's answer comes from: its own validation error, or the writer.
enum Slot {
    Invalid(LogError),
    Queued,
}

/// Prepares every request; invalid ones are answered without reaching the writer.
fn prepare_all(requests: Vec<AppendRequest>) -> (Vec<PreparedRequest>, Vec<Slot>) {
    let mut prepared = Vec::with_capacity(requests.len());
    let mut slots = Vec::with_capacity(requests.len());
    for request in requests {
        match prepare(request) {
            Ok(request) => {
                prepared.push(request);
                slots.push(Slot::Queued);
            }
            Err(error) => slots.push(Slot::Invalid(error)),
        }
    }
    (prepared, slots)
}

/// Puts the writer's answers back among the validation errors, in request order.
fn merge(
    slots: Vec<Slot>,
    answers: Vec<Result<AppendOutcome, LogError>>,
) -> Vec<Result<AppendOutcome, LogError>> {
    let mut answers = answers.into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Invalid(error) => Err(error),
            Slot::Queued => answers.next().unwrap_or(Err(LogError::Closed)),
        })
        .collect()
}

/// The one answer of a one-request append.
fn single(mut answers: Vec<Result<AppendOutcome, LogError>>) -> Result<AppendOutcome, LogError> {
    answers.pop().unwrap_or(Err(LogError::Closed))
}
