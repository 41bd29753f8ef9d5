//! The notifier's own memory, `notify.db` in the data folder: one row per (source event,
//! notice) with the attempts made, whether the notice was sent (or given up) and whether the
//! result is recorded on the ticket. "Sent" is committed before the JetStream ack and before
//! the result is recorded, so a redelivered event is never sent again. The same file holds
//! the staff alerts' table (`staff::store`).

use crate::error::NotifyError;
use domain::notification::NoticeKind;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not sent yet; `attempts` were made.
    Pending,
    /// The sender accepted it.
    Sent,
    /// No further attempt will be made.
    GivenUp,
}

impl DeliveryState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::GivenUp => "given_up",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "sent" => DeliveryState::Sent,
            "given_up" => DeliveryState::GivenUp,
            _ => DeliveryState::Pending,
        }
    }
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: u32,
    pub state: DeliveryState,
    /// Whether the final result (sent or given up) is recorded on the ticket.
    pub recorded: bool,
}

/// The SQLite file, used from blocking tasks.
#[derive(Debug, Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// The staff alerts (`staff::store`): one row per (source event, recipient) with the rendered
/// text, when it may be sent (`due_at_ms`: quiet hours, backoff), the attempts made, `sent` or
/// `given_up`, and whether the result is recorded on the ticket.
const STAFF_ALERTS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS staff_alerts (
    source_event_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    alert TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    recorded INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (source_event_id, recipient)
);
CREATE INDEX IF NOT EXISTS staff_alerts_due ON staff_alerts (recorded, due_at_ms);";

/// The scheduled reports sent (`reports`): one row per (report_scheduled event, recipient).
const REPORT_DELIVERIES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS report_deliveries (
    source_event_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    period TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    recorded INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (source_event_id, recipient)
);";

/// The file name in the data folder.
pub const STORE_FILE: &str = "notify.db";

impl Store {
    pub fn open(path: &Path) -> Result<Self, NotifyError> {
        let sqlite = |action: &'static str| {
            let path = path.to_path_buf();
            move |source| NotifyError::Sqlite {
                action,
                path,
                source,
            }
        };
        let connection = Connection::open(path).map_err(sqlite("open"))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 CREATE TABLE IF NOT EXISTS deliveries (
                     source_event_id TEXT NOT NULL,
                     notice TEXT NOT NULL,
                     ticket_id TEXT NOT NULL,
                     attempts INTEGER NOT NULL DEFAULT 0,
                     state TEXT NOT NULL DEFAULT 'pending',
                     recorded INTEGER NOT NULL DEFAULT 0,
                     updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                     PRIMARY KEY (source_event_id, notice)
                 );",
            )
            .map_err(sqlite("create the deliveries table"))?;
        connection
            .execute_batch(STAFF_ALERTS_SCHEMA)
            .map_err(sqlite("create the staff alerts table"))?;
        connection
            .execute_batch(REPORT_DELIVERIES_SCHEMA)
            .map_err(sqlite("create the report deliveries table"))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_path_buf(),
        })
    }

    /// Runs `work` on the connection in a blocking task; errors name `action` and the file.
    pub(crate) async fn with<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, NotifyError> {
        let connection = self.connection.clone();
        let path = self.path.clone();
        let result = tokio::task::spawn_blocking(move || {
            let guard = connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&guard)
        })
        .await
        .map_err(|error| NotifyError::Workflow(format!("store task: {error}")))?;
        result.map_err(|source| NotifyError::Sqlite {
            action,
            path,
            source,
        })
    }

    /// The row of (source event, notice), if any.
    pub async fn get(
        &self,
        source_event_id: &str,
        notice: NoticeKind,
    ) -> Result<Option<Delivery>, NotifyError> {
        let source = source_event_id.to_owned();
        self.with("read a delivery", move |connection| {
            connection
                .query_row(
                    "SELECT attempts, state, recorded FROM deliveries
                     WHERE source_event_id = ?1 AND notice = ?2",
                    params![source, notice.as_str()],
                    |row| {
                        let attempts: i64 = row.get(0)?;
                        let state: String = row.get(1)?;
                        let recorded: i64 = row.get(2)?;
                        Ok(Delivery {
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            state: DeliveryState::parse(&state),
                            recorded: recorded != 0,
                        })
                    },
                )
                .optional()
        })
        .await
    }

    /// Notes that attempt `attempt` starts, before anything is sent, so that an attempt
    /// number is never used twice (it is part of the recorded command's id).
    pub async fn begin_attempt(
        &self,
        source_event_id: &str,
        notice: NoticeKind,
        ticket_id: &str,
        attempt: u32,
    ) -> Result<(), NotifyError> {
        let sql = "INSERT INTO deliveries (source_event_id, notice, ticket_id, attempts)
                   VALUES (?1, ?2, ?3, ?4)
                   ON CONFLICT (source_event_id, notice) DO UPDATE SET
                       attempts = max(attempts, excluded.attempts),
                       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
        let value = Value::Integer(i64::from(attempt));
        let key = (source_event_id, notice, ticket_id);
        self.upsert("begin an attempt", sql, key, value).await
    }

    /// Sets the state (sent or given up), not yet recorded on the ticket.
    pub async fn finish(
        &self,
        source_event_id: &str,
        notice: NoticeKind,
        ticket_id: &str,
        state: DeliveryState,
    ) -> Result<(), NotifyError> {
        let sql = "INSERT INTO deliveries (source_event_id, notice, ticket_id, state)
                   VALUES (?1, ?2, ?3, ?4)
                   ON CONFLICT (source_event_id, notice) DO UPDATE SET
                       state = excluded.state,
                       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
        let value = Value::Text(state.as_str().to_owned());
        let key = (source_event_id, notice, ticket_id);
        self.upsert("finish a delivery", sql, key, value).await
    }

    /// Runs `sql`, an upsert of the row of `key` (source event, notice, ticket) with `value`
    /// as its fourth parameter.
    async fn upsert(
        &self,
        action: &'static str,
        sql: &'static str,
        (source_event_id, notice, ticket_id): (&str, NoticeKind, &str),
        value: Value,
    ) -> Result<(), NotifyError> {
        let (source, ticket) = (source_event_id.to_owned(), ticket_id.to_owned());
        self.with(action, move |connection| {
            connection
                .execute(sql, params![source, notice.as_str(), ticket, value])
                .map(|_| ())
        })
        .await
    }

    /// The final result is on the ticket: nothing is left to do for this notice.
    pub async fn mark_recorded(
        &self,
        source_event_id: &str,
        notice: NoticeKind,
    ) -> Result<(), NotifyError> {
        let source = source_event_id.to_owned();
        self.with("mark a delivery recorded", move |connection| {
            connection
                .execute(
                    "UPDATE deliveries SET recorded = 1,
                         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                     WHERE source_event_id = ?1 AND notice = ?2",
                    params![source, notice.as_str()],
                )
                .map(|_| ())
        })
        .await
    }

    /// How many notices were sent, in total (for tests and the startup log).
    pub async fn sent_count(&self) -> Result<u64, NotifyError> {
        self.with("count deliveries", |connection| {
            connection.query_row(
                "SELECT count(*) FROM deliveries WHERE state = 'sent'",
                [],
                |row| row.get::<_, i64>(0),
            )
        })
        .await
        .map(|count| u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_moves_from_pending_to_sent_to_recorded_and_survives_a_reopen() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join(STORE_FILE);
        let store = Store::open(&path).expect("open");
        let source = "0195f3a0-0000-7000-8000-000000000001";
        assert_eq!(
            store.get(source, NoticeKind::Received).await.expect("get"),
            None
        );
        store
            .begin_attempt(source, NoticeKind::Received, "T1", 1)
            .await
            .expect("begin");
        store
            .begin_attempt(source, NoticeKind::Received, "T1", 2)
            .await
            .expect("begin");
        store
            .finish(source, NoticeKind::Received, "T1", DeliveryState::Sent)
            .await
            .expect("finish");
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.get(source, NoticeKind::Received).await.expect("get"),
            Some(Delivery {
                attempts: 2,
                state: DeliveryState::Sent,
                recorded: false,
            })
        );
        store
            .mark_recorded(source, NoticeKind::Received)
            .await
            .expect("mark");
        let delivery = store
            .get(source, NoticeKind::Received)
            .await
            .expect("get")
            .expect("row");
        assert!(delivery.recorded);
        assert_eq!(
            store.get(source, NoticeKind::Closed).await.expect("get"),
            None,
            "rows are per notice"
        );
        assert_eq!(store.sent_count().await.expect("count"), 1);
    }
}
