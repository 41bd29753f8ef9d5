//! The one error type of the notifier.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid configuration {key}: {reason}")]
    Config { key: String, reason: String },
    #[error("{action} {path}: {source}")]
    Sqlite {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("create the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nats: {0}")]
    Nats(String),
    #[error("workflow: {0}")]
    Workflow(String),
    #[error(transparent)]
    Service(#[from] service::ServiceError),
}
