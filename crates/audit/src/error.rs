//! The one error type of the audit toolkit, `AuditError`.

use std::sync::Arc;

/// Everything that can go wrong while auditing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The event log failed.
    #[error(transparent)]
    Log(#[from] eventlog::LogError),
    /// The key store failed, or a sealed object did not open.
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
    /// SQLite failed while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Sqlite {
        /// What was being done, as a verb phrase ("open event log").
        context: &'static str,
        /// The SQLite error.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// The file system failed while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Io {
        /// What was being done, as a verb phrase ("write export").
        context: &'static str,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// An argument is malformed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The argument at fault, e.g. `month`.
        field: String,
        /// Why.
        reason: String,
    },
    /// A stored row cannot be read as what it claims to be.
    #[error("row at position {position} is malformed: {reason}")]
    MalformedRow {
        /// Its position.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// A line of a checkpoint file is not a checkpoint.
    #[error("checkpoint file line {line} is malformed: {reason}")]
    MalformedCheckpoint {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl AuditError {
    /// An `Invalid` error.
    pub fn invalid(field: &str, reason: impl Into<String>) -> AuditError {
        AuditError::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Wraps a SQLite error with what was being done.
pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> AuditError {
    move |source| AuditError::Sqlite {
        context,
        source: Arc::new(source),
    }
}

/// Wraps an I/O error with what was being done.
pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    move |source| AuditError::Io {
        context,
        source: Arc::new(source),
    }
}
