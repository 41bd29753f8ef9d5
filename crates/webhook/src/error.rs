//! The one error type of the webhook crate.

/// Everything that can stop `cloop-webhook` from starting or serving: each variant says what
/// it was doing, so `main` can print one clear line.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The `[webhook]` section or the domain configuration is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Configuration loading, listening, metrics or NATS failed (see the inner error).
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    /// The HTTP server stopped with an error.
    #[error("http server: {0}")]
    Serve(String),
}
