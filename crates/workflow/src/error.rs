//! The one error type of the workflow crate.

use eventlog::LogError;
use projections::ProjectionError;

/// Everything that can go wrong in the workflow service outside a single request's answer.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The configuration or the command line is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The event log failed, or a projection query or migration (SQLite or PostgreSQL) while
    /// doing what its context says: the read models' own error, with their words.
    #[error(transparent)]
    Store(ProjectionError),
    /// The file system failed.
    #[error("failed to {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// A stored value is not what the service wrote.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The audit toolkit failed (checkpoints, time travel).
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    /// What the shared service crate reports (listen, metrics, NATS, gRPC).
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    /// A vital task of the running service failed: the service stopped.
    #[error("{0}: the service stopped")]
    TaskFailed(String),
}

impl WorkflowError {
    /// A closure that wraps a PostgreSQL error with what was being done.
    pub fn postgres(context: &'static str) -> impl FnOnce(postgres::Error) -> WorkflowError {
        move |source| WorkflowError::Store(ProjectionError::postgres(context)(source))
    }

    /// A closure that wraps a SQLite error with what was being done.
    pub fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> WorkflowError {
        move |source| WorkflowError::Store(ProjectionError::sqlite(context)(source))
    }
}

impl From<LogError> for WorkflowError {
    fn from(error: LogError) -> Self {
        WorkflowError::Store(ProjectionError::Log(error))
    }
}

/// The read models' errors keep the kind they had when the read models were part of this
/// crate: a failed read of a projection is a failed read of the workflow, corrupt data is
/// corrupt data.
impl From<ProjectionError> for WorkflowError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::Corrupt(reason) => WorkflowError::Corrupt(reason),
            other => WorkflowError::Store(other),
        }
    }
}
