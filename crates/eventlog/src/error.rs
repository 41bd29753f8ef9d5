//! The one error type of the event log, `LogError`, and the mapping from SQLite errors.

use std::sync::Arc;

use crate::expected::ExpectedVersion;

/// Everything that can go wrong in the event log.
///
/// Services map these to gRPC codes in one place: `Conflict` → ABORTED, `Invalid` and
/// `DuplicateEventId` → INVALID_ARGUMENT (or ALREADY_EXISTS), `Full` (its message starts
/// "data disk full"), `Unavailable` and `Closed` → UNAVAILABLE, the rest → INTERNAL.
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
    /// PostgreSQL failed while doing what `context` says (a lost connection or a busy server
    /// is `Unavailable` instead).
    #[error("failed to {context}: {}", describe_postgres(source))]
    Postgres {
        /// What was being done, as a verb phrase.
        context: &'static str,
        /// The PostgreSQL error.
        #[source]
        source: Arc<postgres::Error>,
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
    /// The data disk is full (SQLITE_FULL, or a write or sync that the file system refused):
    /// nothing was appended, and the same call succeeds once there is room again.
    #[error("data disk full: the event log could not {context}")]
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
        self.is_disk_full() || matches!(self, LogError::Unavailable { .. } | LogError::Closed)
    }

    /// True when the data disk is full (the caller should say so: "data disk full: ...").
    pub fn is_disk_full(&self) -> bool {
        match self {
            LogError::Full { .. } => true,
            LogError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }

    /// The error of a projector that failed with `reason`: `Full` when the reason is SQLite's
    /// "database or disk is full" (a projection write that found no room must be retried, not
    /// taken for a refusal of the events), otherwise `Projector`.
    pub fn projector(reason: String) -> Self {
        if reason.contains(SQLITE_FULL_TEXT) {
            LogError::Full {
                context: "update the projections",
            }
        } else {
            LogError::Projector { reason }
        }
    }

    /// A closure that classifies a PostgreSQL error met while doing what `context` says, as
    /// the log's own code does: `Unavailable` for a lost connection or a server that cannot
    /// serve now, `Full` for a full disk (for projectors that keep tables in the log's
    /// database: such errors must not be taken for a refusal of the rows).
    pub fn postgres(context: &'static str) -> impl FnOnce(postgres::Error) -> LogError {
        pg(context)
    }

    /// Builds an `Invalid` error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        LogError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// SQLite's message for SQLITE_FULL.
const SQLITE_FULL_TEXT: &str = "database or disk is full";

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
            // A write, sync or resize the file system refused: on a full disk SQLite reports
            // these instead of SQLITE_FULL when the failing call is not a plain write.
            ErrorCode::SystemIoFailure
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_IOERR_WRITE
                        | rusqlite::ffi::SQLITE_IOERR_FSYNC
                        | rusqlite::ffi::SQLITE_IOERR_DIR_FSYNC
                        | rusqlite::ffi::SQLITE_IOERR_TRUNCATE
                        | rusqlite::ffi::SQLITE_IOERR_SHMSIZE
                ) =>
            {
                return LogError::Full { context }
            }
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

/// Returns a closure that turns a PostgreSQL error into a `LogError` with the given context.
/// A PostgreSQL error with the server's message: `postgres::Error` alone shows "db error".
fn describe_postgres(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!(
            "{error}: {} {}: {}",
            db.severity(),
            db.code().code(),
            db.message()
        ),
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

pub(crate) fn pg(context: &'static str) -> impl FnOnce(postgres::Error) -> LogError {
    move |source| classify_postgres(context, source)
}

/// Turns a PostgreSQL error into a `LogError`: a closed connection, a server that is starting,
/// shutting down or out of connections, a serialization failure or a deadlock is
/// `Unavailable` (the same call may succeed later); a full disk is `Full`.
pub(crate) fn classify_postgres(context: &'static str, source: postgres::Error) -> LogError {
    use postgres::error::SqlState;
    if source.is_closed() {
        return LogError::Unavailable {
            reason: format!("the connection to PostgreSQL was lost while trying to {context}"),
        };
    }
    match source.code() {
        Some(code) if *code == SqlState::DISK_FULL => LogError::Full { context },
        Some(code)
            if code.code().starts_with("08")
                || code.code().starts_with("57P")
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::LOCK_NOT_AVAILABLE =>
        {
            LogError::Unavailable {
                reason: format!("PostgreSQL is unavailable while trying to {context}: {source}"),
            }
        }
        // No SQL state: the connection could not be made or broke mid-call.
        None if !matches!(
            std::error::Error::source(&source),
            Some(inner) if inner.is::<postgres::error::DbError>()
        ) =>
        {
            LogError::Unavailable {
                reason: format!("PostgreSQL is unreachable while trying to {context}: {source}"),
            }
        }
        _ => LogError::Postgres {
            context,
            source: Arc::new(source),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn a_full_disk_is_full_unavailable_and_says_so() {
        for code in [
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_IOERR_WRITE,
            rusqlite::ffi::SQLITE_IOERR_FSYNC,
        ] {
            let error = classify_sqlite("insert event", failure(code));
            assert!(matches!(error, LogError::Full { .. }), "{error:?}");
            assert!(error.is_disk_full() && error.is_unavailable());
            assert!(error.to_string().starts_with("data disk full: "), "{error}");
        }
        let read_error = classify_sqlite("read head", failure(rusqlite::ffi::SQLITE_IOERR_READ));
        assert!(!read_error.is_disk_full());
        let io = LogError::Io {
            context: "write checkpoint",
            source: Arc::new(std::io::Error::from_raw_os_error(28)),
        };
        assert!(io.is_disk_full() && io.is_unavailable());
    }

    #[test]
    fn a_projector_that_found_no_room_is_full_not_a_refusal() {
        let full = LogError::projector("write ticket T1: database or disk is full".into());
        assert!(full.is_disk_full(), "{full:?}");
        let refused = LogError::projector("stored ticket T1 is not valid".into());
        assert!(matches!(refused, LogError::Projector { .. }));
    }
}
