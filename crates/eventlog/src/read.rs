//! Read-only connections and the queries that read rows back as `RecordedEvent`s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row};
use uuid::Uuid;

use crate::canonical::parse_timestamp;
use crate::error::{sqlite, LogError};
use crate::event::RecordedEvent;
use crate::idle::IdleConnections;

/// The columns of `events` in the order `row_to_event` reads them.
pub(crate) const EVENT_COLUMNS: &str =
    "position, stream_id, stream_version, event_id, event_type, \
     schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, payload, \
     prev_hash, hash";

/// Opens a read-only connection to an existing log.
pub(crate) fn open_read_only(path: &Path, busy_timeout: Duration) -> Result<Connection, LogError> {
    open_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY,
        busy_timeout,
        "open event log for reading",
    )
}

/// Opens a connection to the log at `path` with `flags` (always without SQLite's own mutex,
/// each connection having one user, and with URI file names) and `busy_timeout`.
pub(crate) fn open_connection(
    path: &Path,
    flags: OpenFlags,
    busy_timeout: Duration,
    action: &'static str,
) -> Result<Connection, LogError> {
    let connection = Connection::open_with_flags(
        path,
        flags | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(sqlite(action))?;
    connection
        .busy_timeout(busy_timeout)
        .map_err(sqlite("set busy timeout"))?;
    Ok(connection)
}

/// A few idle read-only connections, reused across reads.
pub(crate) struct ReaderPool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: IdleConnections<Connection>,
}

impl ReaderPool {
    pub fn new(path: PathBuf, busy_timeout: Duration, max_idle: usize) -> Self {
        ReaderPool {
            path,
            busy_timeout,
            idle: IdleConnections::new(max_idle),
        }
    }

    /// Runs `read` on an idle connection (or a new one) and keeps the connection for later.
    pub fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let connection = match self.idle.take() {
            Some(connection) => connection,
            None => open_read_only(&self.path, self.busy_timeout)?,
        };
        let result = read(&connection);
        self.idle.keep(connection);
        result
    }
}

/// The raw values of one row, before conversion.
type RawRow = (
    u64,
    String,
    u64,
    Vec<u8>,
    String,
    u32,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
        row.get(11)?,
        row.get(12)?,
        row.get(13)?,
    ))
}

/// Converts raw values into a `RecordedEvent`, reporting a malformed row as corrupt.
fn to_event(raw: RawRow) -> Result<RecordedEvent, LogError> {
    let (
        position,
        stream_id,
        stream_version,
        event_id,
        event_type,
        schema_version,
        occurred_at,
        recorded_at,
        actor_json,
        correlation_id,
        causation_id,
        payload_json,
        prev_hash,
        hash,
    ) = raw;
    let corrupt = |what: &str| LogError::Corrupt {
        reason: format!("{what} at position {position} is malformed"),
    };
    Ok(RecordedEvent {
        position,
        stream_id,
        stream_version,
        event_id: Uuid::from_slice(&event_id).map_err(|_| corrupt("event id"))?,
        event_type,
        schema_version,
        occurred_at: parse_timestamp(&occurred_at).ok_or_else(|| corrupt("occurred_at"))?,
        recorded_at: parse_timestamp(&recorded_at).ok_or_else(|| corrupt("recorded_at"))?,
        actor_json,
        correlation_id,
        causation_id,
        payload_json,
        prev_hash: prev_hash.try_into().map_err(|_| corrupt("prev_hash"))?,
        hash: hash.try_into().map_err(|_| corrupt("hash"))?,
    })
}

/// Runs a query over `events` and converts every row.
fn query_events(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RecordedEvent>, LogError> {
    let mut statement = connection
        .prepare_cached(sql)
        .map_err(sqlite("prepare read"))?;
    let raw_rows = statement
        .query_map(params, raw_row)
        .map_err(sqlite("read events"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite("read events"))?;
    raw_rows.into_iter().map(to_event).collect()
}

/// Events of one stream with version ≥ `from_version`, in version order.
pub(crate) fn read_stream(
    connection: &Connection,
    stream_id: &str,
    from_version: u64,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 AND stream_version >= ?2 \
         ORDER BY stream_version"
    );
    query_events(connection, &sql, rusqlite::params![stream_id, from_version])
}

/// At most `limit` events with position ≥ `from_position`, in position order.
pub(crate) fn read_all(
    connection: &Connection,
    from_position: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position >= ?1 ORDER BY position LIMIT ?2"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    query_events(connection, &sql, rusqlite::params![from_position, limit])
}

/// The event stored under an event id, if any.
pub(crate) fn read_event(
    connection: &Connection,
    event_id: &Uuid,
) -> Result<Option<RecordedEvent>, LogError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1");
    let mut events = query_events(connection, &sql, [&event_id.as_bytes()[..]])?;
    Ok(events.pop())
}
