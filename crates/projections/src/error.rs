//! The one error type of the projections crate.

use eventlog::LogError;

/// What can go wrong reading the read models outside the fold (whose errors are the log's).
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event log (or its PostgreSQL connection) failed.
    #[error("event log: {0}")]
    Log(#[from] LogError),
    /// A SQLite read failed while doing what `context` says.
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
    /// A stored value is not what the projector wrote.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl ProjectionError {
    /// A closure that wraps a PostgreSQL error with what was being done.
    pub fn postgres(context: &'static str) -> impl FnOnce(postgres::Error) -> ProjectionError {
        move |source| ProjectionError::Postgres { context, source }
    }

    /// A closure that wraps a SQLite error with what was being done.
    pub fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> ProjectionError {
        move |source| ProjectionError::Sqlite { context, source }
    }
}
