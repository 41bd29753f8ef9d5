//! Structured logging: JSON lines on standard error, filtered by `CLOOP_LOG` or `RUST_LOG`.
//!
//! Architecture invariant: logs name tickets, feedback ids and channels, never a customer's
//! phone, e-mail, name or WeChat id.

use crate::error::ServiceError;
use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber. The filter comes from `CLOOP_LOG`, else `RUST_LOG`,
/// else `info`.
pub fn init_logging() -> Result<(), ServiceError> {
    let directives = std::env::var("CLOOP_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&directives)
        .map_err(|error| ServiceError::Logging(format!("filter {directives:?}: {error}")))?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|error| ServiceError::Logging(error.to_string()))
}
