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

/// The feedback id in a `received` row's payload.
fn feedback_id_of(row: &RecordedEvent) -> Option<String> {
    if row.event_type != "received" {
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
    connection: Connection,
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
        Ok(Self { connection })
    }

    pub fn position(&self) -> Result<u64, WorkflowError> {
        let position: Option<i64> = self
            .connection
            .query_row("SELECT position FROM published WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(WorkflowError::sqlite("read the publisher position"))?;
        Ok(position.map_or(0, |position| u64::try_from(position).unwrap_or(0)))
    }

    pub fn store(&self, position: u64) -> Result<(), WorkflowError> {
        self.connection
            .execute(
                "INSERT INTO published (id, position) VALUES (1, ?1) \
                 ON CONFLICT(id) DO UPDATE SET position = excluded.position",
                [i64::try_from(position).unwrap_or(i64::MAX)],
            )
            .map_err(WorkflowError::sqlite("store the publisher position"))?;
        Ok(())
    }
}

/// Everything the publisher needs.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub log: EventLog,
    pub context: jetstream::Context,
    pub connected: ConnectionFlag,
    pub nats: NatsConfig,
    pub settings: WorkflowSettings,
    pub metrics: WorkflowMetrics,
    pub position_path: PathBuf,
}

impl Publisher {
    /// Runs until `shutdown`; then keeps publishing until caught up, for at most 5 seconds.
    pub async fn run(self, shutdown: Shutdown) {
        let path = self.position_path.clone();
        let store = match tokio::task::spawn_blocking(move || PositionStore::open(&path)).await {
            Ok(Ok(store)) => std::sync::Arc::new(std::sync::Mutex::new(store)),
            Ok(Err(error)) => {
                tracing::error!(%error, "publisher cannot start");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "publisher cannot start");
                return;
            }
        };
        let mut position = {
            let store = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            store.position().unwrap_or_else(|error| {
                tracing::error!(%error, "read publisher position, starting from the beginning");
                0
            })
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
            if !stream_ready {
                match service::nats::ensure_stream(&self.context, &self.nats.ticket_events_stream)
                    .await
                {
                    Ok(()) => stream_ready = true,
                    Err(error) => {
                        tracing::warn!(%error, "set up stream TICKET_EVENTS, will retry");
                        failures = failures.saturating_add(1);
                        if drain_deadline.is_some() {
                            return;
                        }
                        self.pause(failures, &shutdown).await;
                        continue;
                    }
                }
            }
            let rows = match self
                .log
                .read_all(position + 1, self.settings.publish_batch)
                .await
            {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "read the log for publishing");
                    failures = failures.saturating_add(1);
                    if drain_deadline.is_some() {
                        return;
                    }
                    self.pause(failures, &shutdown).await;
                    continue;
                }
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
                    self.metrics.published.inc_by(rows.len() as u64);
                    self.metrics
                        .published_position
                        .set(i64::try_from(last).unwrap_or(i64::MAX));
                }
                Err(error) => {
                    self.metrics.publish_failures.inc();
                    failures = failures.saturating_add(1);
                    // A missing stream (deleted by an operator) is created again.
                    stream_ready = false;
                    tracing::warn!(%error, "publish to TICKET_EVENTS failed, will retry");
                    if drain_deadline.is_some() {
                        return;
                    }
                    self.pause(failures, &shutdown).await;
                }
            }
        }
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
