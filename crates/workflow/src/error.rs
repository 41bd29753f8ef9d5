//! The one error type of the workflow crate.

use eventlog::LogError;

/// Everything that can go wrong in the workflow service outside a single request's answer.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The configuration or the command line is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The event log failed.
    #[error("event log: {0}")]
    Log(#[from] LogError),
    /// A projection query or migration failed while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL failed (outside the event log) while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Postgres {
        context: &'static str,
        #[source]
        source: postgres::Error,
    },
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
        move |source| WorkflowError::Postgres { context, source }
    }

    /// A closure that wraps a SQLite error with what was being done.
    pub fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> WorkflowError {
        move |source| WorkflowError::Sqlite { context, source }
    }
}

/// The read models' errors keep the kind they had when the read models were part of this
/// crate: a failed read of a projection is a failed read of the workflow.
impl From<projections::ProjectionError> for WorkflowError {
    fn from(error: projections::ProjectionError) -> Self {
        match error {
            projections::ProjectionError::Log(error) => WorkflowError::Log(error),
            projections::ProjectionError::Sqlite { context, source } => {
                WorkflowError::Sqlite { context, source }
            }
            projections::ProjectionError::Postgres { context, source } => {
                WorkflowError::Postgres { context, source }
            }
            projections::ProjectionError::Corrupt(reason) => WorkflowError::Corrupt(reason),
        }
    }
}
