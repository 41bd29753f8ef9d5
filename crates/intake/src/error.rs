//! The one error type of the intake crate.

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
}
