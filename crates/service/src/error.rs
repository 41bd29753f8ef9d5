//! The one error type of the service crate.

use std::path::PathBuf;

/// Everything that can go wrong while a service starts: each variant says what it was doing
/// and where, so `main` can print one clear line.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A file could not be read.
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("invalid configuration {path}: {reason}")]
    Config { path: String, reason: String },
    /// The tokens file is not valid.
    #[error("invalid tokens file {path}: {reason}")]
    Tokens { path: String, reason: String },
    /// A listening socket could not be opened.
    #[error("listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The metrics registry refused a metric.
    #[error("register metric: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A file a NATS client setting names cannot be used.
    #[error("{setting} {path}: {reason}")]
    NatsFile {
        setting: String,
        path: PathBuf,
        reason: String,
    },
    /// The NATS client settings do not fit together.
    #[error("{0}")]
    NatsSettings(String),
    /// A NATS operation failed.
    #[error("nats: {0}")]
    Nats(String),
    /// The gRPC server failed.
    #[error("grpc server: {0}")]
    Grpc(String),
    /// A TLS file or set-up is not valid; `what` names the flag (or key) and the file.
    #[error("TLS {what}: {reason}")]
    Tls { what: String, reason: String },
    /// A task of the service ended abnormally (a panic, said in words).
    #[error("{0}")]
    Task(String),
    /// Logging could not be set up.
    #[error("set up logging: {0}")]
    Logging(String),
}
