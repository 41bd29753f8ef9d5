//! The log-tail publisher: reads the log from its last published position and publishes every
//! row to TICKET_EVENTS on `ticket.events.<event type>` as a `LogEvent`, with `Nats-Msg-Id` =
//! event id and, on `received` events, `Cloop-Feedback-Id` (intake confirms its outbox rows by
//! it). Many publishes are in flight at once; the position advances only once every publish of
//! a round is acknowledged, and is stored in its own small SQLite file (`publisher.db`), so the
//! log database keeps a single writer. A NATS outage delays publishing, never loses a row; a
//! crash between a publish and the stored position publishes a few rows again, which the
//! stream's duplicate window and the consumers' idempotency absorb.

use crate::config::WorkflowSettings;
use crate::error::WorkflowError;
use crate::grpc::convert::log_event_message;
use crate::metrics::WorkflowMetrics;
use async_nats::jetstream::{self, message::PublishMessage};
use eventlog::{EventLog, RecordedEvent};
use prost::Message as _;
use rusqlite::{Connection, OptionalExtension};
use service::config::NatsConfig;
use service::nats::ConnectionFlag;
use service::shutdown::Shutdown;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The header that carries the feedback id of a `received` event.
pub const FEEDBACK_ID_HEADER: &str = "Cloop-Feedback-Id";

/// The subject a row is published on.
pub fn subject_of(row: &RecordedEvent) -> String {
    format!("{}.{}", proto::TICKET_EVENTS_SUBJECT_PREFIX, row.event_type)
}

/// The feedback id in a `received` or `customer_replied` row's payload (intake confirms its
/// outbox row by it).
fn feedback_id_of(row: &RecordedEvent) -> Option<String> {
    if row.event_type != "received" && row.event_type != "customer_replied" {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(&row.payload_json).ok()?;
    payload
        .get("feedback_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// Publishes `rows` with every publish in flight at once, then waits for every ack.
pub async fn publish_rows(
    context: &jetstream::Context,
    rows: &[RecordedEvent],
) -> Result<(), String> {
    let mut acks = Vec::with_capacity(rows.len());
    for row in rows {
        let mut publish = PublishMessage::build()
            .payload(log_event_message(row).encode_to_vec().into())
            .message_id(row.event_id.hyphenated().to_string());
        if let Some(feedback_id) = feedback_id_of(row) {
            publish = publish.header(FEEDBACK_ID_HEADER, feedback_id.as_str());
        }
        let ack = context
            .send_publish(subject_of(row), publish)
            .await
            .map_err(|error| format!("publish position {}: {error}", row.position))?;
        acks.push(std::future::IntoFuture::into_future(ack));
    }
    for (ack, row) in futures::future::join_all(acks).await.into_iter().zip(rows) {
        ack.map_err(|error| format!("ack of position {}: {error}", row.position))?;
    }
    Ok(())
}

/// The durable position of the publisher, in its own SQLite file.
#[derive(Debug)]
pub struct PositionStore {
    backing: Backing,
}

/// Where the publisher's position is kept: a file of this replica's, or, with several replicas
/// on one PostgreSQL log, a table there, so that the next leader goes on where this one
/// stopped.
enum Backing {
    Sqlite(Connection),
    Postgres(postgres::Client),
    Closed,
}

/// The blocking PostgreSQL client ends its session with a runtime of its own, which panics on
/// a thread that drives async tasks: it is closed on a short-lived thread of its own.
impl Drop for PositionStore {
    fn drop(&mut self) {
        if let Backing::Postgres(client) = std::mem::replace(&mut self.backing, Backing::Closed) {
            let _ = std::thread::Builder::new()
                .name("publisher-close".to_string())
                .spawn(move || drop(client));
        }
    }
}

impl std::fmt::Debug for Backing {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Backing::Sqlite(_) => "Sqlite",
            Backing::Postgres(_) => "Postgres",
            Backing::Closed => "Closed",
        })
    }
}

impl PositionStore {
    pub fn open(path: &Path) -> Result<Self, WorkflowError> {
        let connection =
            Connection::open(path).map_err(WorkflowError::sqlite("open the publisher position"))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                 CREATE TABLE IF NOT EXISTS published (id INTEGER PRIMARY KEY CHECK (id = 1), \
                 position INTEGER NOT NULL);",
            )
            .map_err(WorkflowError::sqlite("create the publisher position table"))?;
        Ok(Self {
            backing: Backing::Sqlite(connection),
        })
    }

    /// The position in the table `publisher_position` of the PostgreSQL database at `url`.
    pub fn open_postgres(url: &str) -> Result<Self, WorkflowError> {
        let mut client = eventlog::pgtls::connect(url)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS publisher_position ( \
                 id INTEGER PRIMARY KEY CHECK (id = 1), position BIGINT NOT NULL)",
            )
            .or_else(|error| {
                // Two replicas creating the table at once: the loser sees it exists.
                if error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                    Ok(())
                } else {
                    Err(error)
                }
            })
            .map_err(WorkflowError::postgres(
                "create the publisher position table",
            ))?;
        Ok(Self {
            backing: Backing::Postgres(client),
        })
    }

    pub fn position(&mut self) -> Result<u64, WorkflowError> {
        let position: Option<i64> = match &mut self.backing {
            Backing::Sqlite(connection) => connection
                .query_row("SELECT position FROM published WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(WorkflowError::sqlite("read the publisher position"))?,
            Backing::Postgres(client) => client
                .query_opt("SELECT position FROM publisher_position WHERE id = 1", &[])
                .map_err(WorkflowError::postgres("read the publisher position"))?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(WorkflowError::postgres("read the publisher position"))?,
            Backing::Closed => None,
        };
        Ok(position.map_or(0, |position| u64::try_from(position).unwrap_or(0)))
    }

    /// Stores the position; on PostgreSQL it only ever moves forward (a replica that lost the
    /// lead late cannot move it back).
    pub fn store(&mut self, position: u64) -> Result<(), WorkflowError> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        match &mut self.backing {
            Backing::Sqlite(connection) => {
                connection
                    .execute(
                        "INSERT INTO published (id, position) VALUES (1, ?1) \
                         ON CONFLICT(id) DO UPDATE SET position = excluded.position",
                        [position],
                    )
                    .map_err(WorkflowError::sqlite("store the publisher position"))?;
            }
            Backing::Postgres(client) => {
                client
                    .execute(
                        "INSERT INTO publisher_position (id, position) VALUES (1, $1) \
                         ON CONFLICT (id) DO UPDATE SET position = \
                         GREATEST(publisher_position.position, excluded.position)",
                        &[&position],
                    )
                    .map_err(WorkflowError::postgres("store the publisher position"))?;
            }
            Backing::Closed => {}
        }
        Ok(())
    }
}

/// The position store, shared with the blocking tasks that read and write it.
type SharedStore = std::sync::Arc<std::sync::Mutex<PositionStore>>;

#[derive(Debug, Clone)]
pub struct Publisher {
    pub log: EventLog,
    pub context: jetstream::Context,
    pub connected: ConnectionFlag,
    pub nats: NatsConfig,
    pub settings: WorkflowSettings,
    pub metrics: WorkflowMetrics,
    pub position_path: PathBuf,
    /// With a PostgreSQL log: the database that keeps the position instead of the file.
    pub position_url: Option<String>,
}

impl Publisher {
    /// Opens the position store and reads the position, again with backoff until it opens
    /// (a publisher that gave up would leave TICKET_EVENTS silent until a restart); `None`
    /// when `shutdown` comes first.
    async fn open_position(&self, shutdown: &Shutdown) -> Option<(SharedStore, u64)> {
        let mut attempts = 0u32;
        loop {
            let path = self.position_path.clone();
            let url = self.position_url.clone();
            let opened = tokio::task::spawn_blocking(move || {
                let mut store = match url {
                    Some(url) => PositionStore::open_postgres(&url)?,
                    None => PositionStore::open(&path)?,
                };
                let position = store.position().unwrap_or_else(|error| {
                    tracing::error!(%error, "read publisher position, starting from the beginning");
                    0
                });
                Ok((store, position))
            })
            .await
            .unwrap_or_else(|error| Err(WorkflowError::Config(format!("open task: {error}"))));
            match opened {
                Ok((store, position)) => {
                    return Some((std::sync::Arc::new(std::sync::Mutex::new(store)), position))
                }
                Err(error) => {
                    tracing::error!(%error, "publisher cannot open its position, will retry");
                    attempts = attempts.saturating_add(1);
                    self.pause(attempts, shutdown).await;
                    if shutdown.is_triggered() {
                        return None;
                    }
                }
            }
        }
    }

    /// Stores the position `last` after `count` rows were published, and counts them.
    async fn published(&self, store: &SharedStore, last: u64, count: usize) {
        let store = store.clone();
        let stored = tokio::task::spawn_blocking(move || {
            store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .store(last)
        })
        .await;
        if let Ok(Err(error)) = stored {
            tracing::warn!(%error, "store publisher position");
        }
        self.metrics.published.inc_by(count as u64);
        self.metrics
            .published_position
            .set(i64::try_from(last).unwrap_or(i64::MAX));
    }

    /// Runs until `shutdown`; then keeps publishing until caught up, for at most 5 seconds.
    pub async fn run(self, shutdown: Shutdown) {
        let Some((store, mut position)) = self.open_position(&shutdown).await else {
            return;
        };
        self.metrics
            .published_position
            .set(i64::try_from(position).unwrap_or(i64::MAX));
        let mut stream_ready = false;
        let mut failures = 0u32;
        let mut drain_deadline: Option<Instant> = None;
        loop {
            if shutdown.is_triggered() && drain_deadline.is_none() {
                drain_deadline = Some(Instant::now() + Duration::from_secs(5));
            }
            if drain_deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return;
            }
            if !self.connected.is_connected() {
                if drain_deadline.is_some() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = shutdown.wait() => {}
                }
                continue;
            }
            let Some(rows) = self.rows_after(&mut stream_ready, position).await else {
                if !self
                    .back_off(&mut failures, drain_deadline, &shutdown)
                    .await
                {
                    return;
                }
                continue;
            };
            let Some(last) = rows.last().map(|row| row.position) else {
                if drain_deadline.is_some() {
                    return;
                }
                tokio::select! {
                    _ = self.log.wait_for(position) => {}
                    _ = shutdown.wait() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            match publish_rows(&self.context, &rows).await {
                Ok(()) => {
                    failures = 0;
                    position = last;
                    self.published(&store, last, rows.len()).await;
                }
                Err(error) => {
                    self.metrics.publish_failures.inc();
                    // A missing stream (deleted by an operator) is created again.
                    stream_ready = false;
                    tracing::warn!(%error, "publish to TICKET_EVENTS failed, will retry");
                    if !self
                        .back_off(&mut failures, drain_deadline, &shutdown)
                        .await
                    {
                        return;
                    }
                }
            }
        }
    }

    /// The next batch of rows after `position`, setting up the stream first when it is not
    /// ready; `None` (the failure logged) when either fails, to try again after a backoff.
    async fn rows_after(
        &self,
        stream_ready: &mut bool,
        position: u64,
    ) -> Option<Vec<RecordedEvent>> {
        if !*stream_ready {
            let ensured =
                service::nats::ensure_stream(&self.context, &self.nats.ticket_events_stream).await;
            if let Err(error) = ensured {
                tracing::warn!(%error, "set up stream TICKET_EVENTS, will retry");
                return None;
            }
            *stream_ready = true;
        }
        match self
            .log
            .read_all(position + 1, self.settings.publish_batch)
            .await
        {
            Ok(rows) => Some(rows),
            Err(error) => {
                tracing::warn!(%error, "read the log for publishing");
                None
            }
        }
    }

    /// Counts a failure, then waits with backoff; `false` when draining (the publisher stops
    /// rather than waits).
    async fn back_off(
        &self,
        failures: &mut u32,
        drain_deadline: Option<Instant>,
        shutdown: &Shutdown,
    ) -> bool {
        *failures = failures.saturating_add(1);
        if drain_deadline.is_some() {
            return false;
        }
        self.pause(*failures, shutdown).await;
        true
    }

    async fn pause(&self, failures: u32, shutdown: &Shutdown) {
        let initial = self.settings.publish_retry_ms.max(1);
        let delay = Duration::from_millis(initial.saturating_mul(1 << failures.min(10)).min(5_000));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => {}
        }
    }
}
