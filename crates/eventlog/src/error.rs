//! The one error type of the event log, `LogError`, and the mapping from SQLite errors.

use std::sync::Arc;

use crate::event::ExpectedVersion;

/// Everything that can go wrong in the event log.
///
/// Services map these to gRPC codes in one place: `Conflict` → ABORTED, `Invalid` and
/// `DuplicateEventId` → INVALID_ARGUMENT (or ALREADY_EXISTS), `Full`, `Unavailable` and
/// `Closed` → UNAVAILABLE, the rest → INTERNAL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The stream's current version is not the one the caller expected.
    #[error("stream {stream_id} is at version {actual}, expected {expected}")]
    Conflict {
        /// The stream that was appended to.
        stream_id: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was tried (0 for a stream with no events).
        actual: u64,
    },
    /// An event id of the request is already stored, and the request is not a repeat of the
    /// one that stored it (the first event id of a repeat is stored in the same stream).
    #[error("event id {event_id} is already stored in stream {stored_stream_id}")]
    DuplicateEventId {
        /// The event id that is taken.
        event_id: uuid::Uuid,
        /// The stream that holds it.
        stored_stream_id: String,
    },
    /// The request itself is malformed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field at fault, e.g. `stream_id` or `events[3].event_type`.
        field: String,
        /// Why it is invalid.
        reason: String,
    },
    /// SQLite failed while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Sqlite {
        /// What was being done, as a verb phrase ("open event log").
        context: &'static str,
        /// The SQLite error (shared, so that one failed batch can fail every caller in it).
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// The file system failed while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Io {
        /// What was being done, as a verb phrase.
        context: &'static str,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The database or the disk is full (SQLITE_FULL): nothing was appended.
    #[error("event log is full while trying to {context}")]
    Full {
        /// What was being done, as a verb phrase.
        context: &'static str,
    },
    /// The database is busy or locked, or the writer's queue is full: try again later.
    #[error("event log unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// A stored row or the database file is not what the log wrote.
    #[error("event log corrupt: {reason}")]
    Corrupt {
        /// What is wrong.
        reason: String,
    },
    /// The writer has stopped (the log was closed or its thread ended).
    #[error("event log is closed")]
    Closed,
    /// A projector refused the events of a request; the request was rolled back.
    #[error("projector failed: {reason}")]
    Projector {
        /// Why the projector failed.
        reason: String,
    },
}

impl LogError {
    /// True when the same call may succeed later without any change (busy, full, closed).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            LogError::Full { .. } | LogError::Unavailable { .. } | LogError::Closed
        )
    }

    /// Builds an `Invalid` error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        LogError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Returns a closure that turns a SQLite error into a `LogError` with the given context,
/// separating full, busy and corrupt databases from other failures.
pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> LogError {
    move |source| classify_sqlite(context, source)
}

/// Turns a SQLite error into a `LogError` with the given context.
pub(crate) fn classify_sqlite(context: &'static str, source: rusqlite::Error) -> LogError {
    use rusqlite::ErrorCode;
    if let rusqlite::Error::SqliteFailure(failure, message) = &source {
        match failure.code {
            ErrorCode::DiskFull => return LogError::Full { context },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return LogError::Unavailable {
                    reason: format!("database busy while trying to {context}"),
                }
            }
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                return LogError::Corrupt {
                    reason: format!(
                        "{} while trying to {context}",
                        message
                            .as_deref()
                            .unwrap_or("database disk image is malformed")
                    ),
                }
            }
            _ => {}
        }
    }
    LogError::Sqlite {
        context,
        source: Arc::new(source),
    }
}
