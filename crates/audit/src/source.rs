//! Where audited rows come from: the `RowSource` seam, implemented by a running service's
//! `EventLog` and by `LogFile`, a read-only view of a log database file for offline tools.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventlog::{EventLog, RecordedEvent};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use uuid::Uuid;

use crate::error::{sqlite, AuditError};
use crate::line::ExportLine;

/// Rows read per query by the walkers of this crate.
pub const BATCH_ROWS: usize = 4_096;

/// A log to read rows from, in position order.
pub trait RowSource {
    /// At most `limit` rows with position ≥ `from_position` (positions start at 1), in
    /// position order.
    fn read_rows(&self, from_position: u64, limit: usize)
        -> Result<Vec<RecordedEvent>, AuditError>;

    /// Every row of one stream, in version order.
    fn read_stream_rows(&self, stream_id: &str) -> Result<Vec<RecordedEvent>, AuditError>;

    /// The last position stored (0 for an empty log).
    fn head_position(&self) -> Result<u64, AuditError>;

    /// Rows as export lines: every field as the text that was hashed. The default converts
    /// `read_rows`; `LogFile` reads the stored text itself, so that an export shows exactly
    /// what is stored even where it is not what the log would write.
    fn read_export_lines(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<ExportLine>, AuditError> {
        Ok(self
            .read_rows(from_position, limit)?
            .iter()
            .map(ExportLine::from_recorded)
            .collect())
    }
}

impl RowSource for EventLog {
    fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, AuditError> {
        Ok(self.read_all_blocking(from_position, limit)?)
    }

    fn read_stream_rows(&self, stream_id: &str) -> Result<Vec<RecordedEvent>, AuditError> {
        Ok(self.read_stream_blocking(stream_id, 0)?)
    }

    fn head_position(&self) -> Result<u64, AuditError> {
        Ok(self.head().position)
    }
}

/// Walks every row of `source` from `from_position` on, in batches, calling `visit` on each.
pub fn for_each_row(
    source: &dyn RowSource,
    from_position: u64,
    mut visit: impl FnMut(&RecordedEvent) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let mut next = from_position.max(1);
    loop {
        let rows = source.read_rows(next, BATCH_ROWS)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        next = last.position + 1;
        for row in &rows {
            visit(row)?;
        }
    }
}

/// The columns read, in the order the readers below expect them.
const COLUMNS: &str = "position, stream_id, stream_version, event_id, event_type, \
     schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, payload, \
     prev_hash, hash";

/// A read-only view of a log database file (`cloop log export --db FILE` and friends). It
/// never writes, so it may be pointed at the live service's file or at a copy.
pub struct LogFile {
    path: PathBuf,
    connection: Connection,
}

impl std::fmt::Debug for LogFile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LogFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Reads a column as text, or says which column is not text.
fn text_column(row: &Row<'_>, index: usize, name: &str) -> Result<String, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Text(bytes)) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("{name} is not valid utf-8"))
        }
        _ => Err(format!("{name} is not text")),
    }
}

fn optional_text_column(row: &Row<'_>, index: usize, name: &str) -> Result<Option<String>, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Null) => Ok(None),
        _ => text_column(row, index, name).map(Some),
    }
}

fn integer_column(row: &Row<'_>, index: usize, name: &str) -> Result<u64, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Integer(value)) => {
            u64::try_from(value).map_err(|_| format!("{name} is negative"))
        }
        _ => Err(format!("{name} is not an integer")),
    }
}

fn blob_column(row: &Row<'_>, index: usize, name: &str) -> Result<Vec<u8>, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Blob(bytes)) => Ok(bytes.to_vec()),
        _ => Err(format!("{name} is not a blob")),
    }
}

/// The stored text of one row, converted only where the export format asks (the event id
/// as hyphenated lowercase text, hashes as lowercase hex).
fn raw_line(row: &Row<'_>) -> Result<ExportLine, String> {
    let event_id = Uuid::from_slice(&blob_column(row, 3, "event_id")?)
        .map_err(|_| "event_id is not 16 bytes".to_string())?;
    let schema_version = u32::try_from(integer_column(row, 5, "schema_version")?)
        .map_err(|_| "schema_version is out of range".to_string())?;
    Ok(ExportLine {
        position: integer_column(row, 0, "position")?,
        stream_id: text_column(row, 1, "stream_id")?,
        stream_version: integer_column(row, 2, "stream_version")?,
        event_id: event_id.hyphenated().to_string(),
        event_type: text_column(row, 4, "event_type")?,
        schema_version,
        occurred_at: text_column(row, 6, "occurred_at")?,
        recorded_at: text_column(row, 7, "recorded_at")?,
        actor: text_column(row, 8, "actor")?,
        correlation_id: optional_text_column(row, 9, "correlation_id")?,
        causation_id: optional_text_column(row, 10, "causation_id")?,
        payload: text_column(row, 11, "payload")?,
        prev_hash: hex::encode(blob_column(row, 12, "prev_hash")?),
        hash: hex::encode(blob_column(row, 13, "hash")?),
    })
}

fn parse_instant(text: &str, name: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| format!("{name} {text:?} is not an rfc 3339 instant"))
}

fn hash_bytes(text: &str, name: &str) -> Result<[u8; 32], String> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{name} is not 32 bytes"))
}

/// A stored row straight into a `RecordedEvent`, without going through its export line.
fn recorded_row(row: &Row<'_>) -> Result<RecordedEvent, String> {
    let event_id = match row.get_ref(3) {
        Ok(ValueRef::Blob(bytes)) => {
            Uuid::from_slice(bytes).map_err(|_| "event_id is not 16 bytes".to_string())?
        }
        _ => return Err("event_id is not a blob".to_string()),
    };
    let schema_version = u32::try_from(integer_column(row, 5, "schema_version")?)
        .map_err(|_| "schema_version is out of range".to_string())?;
    let hash = |index: usize, name: &str| -> Result<[u8; 32], String> {
        match row.get_ref(index) {
            Ok(ValueRef::Blob(bytes)) => bytes
                .try_into()
                .map_err(|_| format!("{name} is not 32 bytes")),
            _ => Err(format!("{name} is not a blob")),
        }
    };
    let instant = |index: usize, name: &str| -> Result<DateTime<Utc>, String> {
        match row.get_ref(index) {
            Ok(ValueRef::Text(bytes)) => std::str::from_utf8(bytes)
                .map_err(|_| format!("{name} is not valid utf-8"))
                .and_then(|text| parse_instant(text, name)),
            _ => Err(format!("{name} is not text")),
        }
    };
    Ok(RecordedEvent {
        position: integer_column(row, 0, "position")?,
        stream_id: text_column(row, 1, "stream_id")?,
        stream_version: integer_column(row, 2, "stream_version")?,
        event_id,
        event_type: text_column(row, 4, "event_type")?,
        schema_version,
        occurred_at: instant(6, "occurred_at")?,
        recorded_at: instant(7, "recorded_at")?,
        actor_json: text_column(row, 8, "actor")?,
        correlation_id: optional_text_column(row, 9, "correlation_id")?,
        causation_id: optional_text_column(row, 10, "causation_id")?,
        payload_json: text_column(row, 11, "payload")?,
        prev_hash: hash(12, "prev_hash")?,
        hash: hash(13, "hash")?,
    })
}

impl ExportLine {
    /// The row as a `RecordedEvent`, for folding.
    pub fn to_recorded(&self) -> Result<RecordedEvent, AuditError> {
        let malformed = |reason: String| AuditError::MalformedRow {
            position: self.position,
            reason,
        };
        Ok(RecordedEvent {
            position: self.position,
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            event_id: Uuid::parse_str(&self.event_id)
                .map_err(|_| malformed("event_id is not a uuid".to_string()))?,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            occurred_at: parse_instant(&self.occurred_at, "occurred_at").map_err(malformed)?,
            recorded_at: parse_instant(&self.recorded_at, "recorded_at").map_err(malformed)?,
            actor_json: self.actor.clone(),
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id.clone(),
            payload_json: self.payload.clone(),
            prev_hash: hash_bytes(&self.prev_hash, "prev_hash").map_err(malformed)?,
            hash: hash_bytes(&self.hash, "hash").map_err(malformed)?,
        })
    }
}

impl LogFile {
    /// Opens an existing log database read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<LogFile, AuditError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(AuditError::invalid(
                "db",
                format!("{} does not exist", path.display()),
            ));
        }
        let connection = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite("open event log for reading"))?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(sqlite("set busy timeout"))?;
        if !eventlog::has_events_table(&connection).map_err(sqlite("read schema"))? {
            return Err(AuditError::invalid(
                "db",
                format!("{} has no events table", path.display()),
            ));
        }
        Ok(LogFile { path, connection })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored hash of the row at `position`, if a row is stored there.
    pub fn hash_at(&self, position: u64) -> Result<Option<Vec<u8>>, AuditError> {
        self.connection
            .query_row(
                "SELECT hash FROM events WHERE position = ?1",
                [position],
                |row| row.get(0),
            )
            .optional()
            .map_err(sqlite("read a stored hash"))
    }

    /// At most `limit` rows from position `from_position` on, in position order, each read
    /// by `read`.
    fn query_page<T>(
        &self,
        from_position: u64,
        limit: usize,
        read: fn(&Row<'_>) -> Result<T, String>,
    ) -> Result<Vec<T>, AuditError> {
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE position >= ?1 ORDER BY position LIMIT ?2");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_rows(&sql, rusqlite::params![from_position, limit], read)
    }

    /// The rows `sql` selects, each read by `read`; a row it refuses is a `MalformedRow`
    /// naming its position.
    fn query_rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: fn(&Row<'_>) -> Result<T, String>,
    ) -> Result<Vec<T>, AuditError> {
        let mut statement = self
            .connection
            .prepare_cached(sql)
            .map_err(sqlite("prepare read"))?;
        let mut rows = statement.query(params).map_err(sqlite("read events"))?;
        let mut read_rows = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite("read events"))? {
            let position = row.get_ref(0).ok().and_then(|value| value.as_i64().ok());
            read_rows.push(read(row).map_err(|reason| {
                AuditError::MalformedRow {
                    position: position
                        .and_then(|value| u64::try_from(value).ok())
                        .unwrap_or(0),
                    reason,
                }
            })?);
        }
        Ok(read_rows)
    }
}

impl RowSource for LogFile {
    fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, AuditError> {
        self.query_page(from_position, limit, recorded_row)
    }

    fn read_stream_rows(&self, stream_id: &str) -> Result<Vec<RecordedEvent>, AuditError> {
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE stream_id = ?1 ORDER BY stream_version");
        self.query_rows(&sql, [stream_id], recorded_row)
    }

    fn head_position(&self) -> Result<u64, AuditError> {
        let head: Option<i64> = self
            .connection
            .query_row("SELECT MAX(position) FROM events", [], |row| row.get(0))
            .map_err(sqlite("read head position"))?;
        Ok(head
            .and_then(|value| u64::try_from(value).ok())
            .unwrap_or(0))
    }

    fn read_export_lines(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<ExportLine>, AuditError> {
        self.query_page(from_position, limit, raw_line)
    }
}
