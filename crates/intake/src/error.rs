//! The one error type of the intake crate, and what a caller is told when the outbox fails.

use service::Failure;

/// What can go wrong inside intake, apart from refusing a submission (which is a
/// `service::Failure`).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The outbox database could not be opened, read or written.
    #[error("outbox: {0}")]
    Outbox(#[from] rusqlite::Error),
    /// The outbox writer could not carry out a write.
    #[error("outbox: {0}")]
    Store(String),
    /// The data disk is full: the outbox write was rolled back, nothing was stored.
    #[error("data disk full: the outbox could not be written ({0})")]
    DiskFull(String),
    /// The outbox writer thread is gone (the service is shutting down).
    #[error("outbox writer stopped")]
    WriterStopped,
    /// The outbox did not take the submission in time.
    #[error("outbox busy")]
    Busy,
    /// A file or folder could not be created.
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// A shared service facility failed (configuration, listening socket, NATS, metrics).
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    /// The configuration is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A vital task of the running service failed: the service stopped.
    #[error("{0}: the service stopped")]
    TaskFailed(String),
}

impl IntakeError {
    /// Whether the data disk is full (SQLITE_FULL from the outbox, or ENOSPC).
    pub fn is_disk_full(&self) -> bool {
        match self {
            IntakeError::DiskFull(_) => true,
            IntakeError::Outbox(error) => is_disk_full(error),
            IntakeError::Io { source, .. } => service::disk::is_storage_full(source),
            _ => false,
        }
    }

    /// What the caller of a submission is told when the outbox did not take it: always
    /// UNAVAILABLE (nothing was stored, the same submission may be sent again), saying
    /// "data disk full" when that is the reason.
    pub fn into_failure(self) -> Failure {
        match self {
            IntakeError::Busy => Failure::Unavailable("intake is overloaded, retry later".into()),
            error if error.is_disk_full() => {
                Failure::Unavailable(service::disk::full_message(match error {
                    IntakeError::DiskFull(detail) => {
                        format!("the outbox could not be written ({detail})")
                    }
                    other => other.to_string(),
                }))
            }
            other => Failure::Unavailable(format!("the outbox is unavailable: {other}")),
        }
    }
}

/// Whether a SQLite error means the disk is full: SQLITE_FULL, or a write, sync or resize
/// the file system refused.
pub fn is_disk_full(error: &rusqlite::Error) -> bool {
    let rusqlite::Error::SqliteFailure(failure, _) = error else {
        return false;
    };
    failure.code == rusqlite::ErrorCode::DiskFull
        || matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_IOERR_WRITE
                | rusqlite::ffi::SQLITE_IOERR_FSYNC
                | rusqlite::ffi::SQLITE_IOERR_DIR_FSYNC
                | rusqlite::ffi::SQLITE_IOERR_TRUNCATE
                | rusqlite::ffi::SQLITE_IOERR_SHMSIZE
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn a_full_disk_is_unavailable_and_says_so() {
        for error in [
            IntakeError::DiskFull("database or disk is full".into()),
            IntakeError::Outbox(sqlite_error(rusqlite::ffi::SQLITE_FULL)),
            IntakeError::Outbox(sqlite_error(rusqlite::ffi::SQLITE_IOERR_WRITE)),
        ] {
            assert!(error.is_disk_full(), "{error:?}");
            let status = service::status_from(error.into_failure());
            assert_eq!(status.code(), tonic::Code::Unavailable);
            assert!(
                status.message().starts_with("data disk full: "),
                "{}",
                status.message()
            );
        }
        let busy = service::status_from(IntakeError::Busy.into_failure());
        assert_eq!(busy.code(), tonic::Code::Unavailable);
        assert!(!busy.message().contains("disk"));
        assert!(!IntakeError::Outbox(sqlite_error(rusqlite::ffi::SQLITE_BUSY)).is_disk_full());
    }
}
