//! Structured logging: JSON lines on standard error, filtered by `CLOOP_LOG` or `RUST_LOG`.
//!
//! Architecture invariant: logs name tickets, feedback ids and channels, never a customer's
//! phone, e-mail, name or WeChat id. Dependencies that log whole message payloads at their
//! most verbose levels are capped below those levels whatever the filter asks (see
//! [`PAYLOAD_LOGGING_CAPS`]); the canary test in `tests/tests/e2e/abuse.rs` checks it.

use crate::error::ServiceError;
use tracing_subscriber::EnvFilter;

/// Filter directives appended after the configured ones: `async_nats::connection` logs every
/// message it reads, payload included (customer contact data), and the CONNECT options
/// (credentials) at TRACE; the pull consumer logs unexpected messages whole at DEBUG; the
/// PostgreSQL client logs every statement with its parameters (event payloads, customer
/// references) at DEBUG, and the server's NOTICEs ("relation ... already exists") at INFO.
pub const PAYLOAD_LOGGING_CAPS: &[&str] = &[
    "async_nats::connection=debug",
    "async_nats::jetstream::consumer::pull=info",
    "tokio_postgres=info",
    "postgres::config=warn",
];

/// The filter of `directives` with [`PAYLOAD_LOGGING_CAPS`] applied.
pub fn filter_for(directives: &str) -> Result<EnvFilter, ServiceError> {
    let mut filter = EnvFilter::try_new(directives)
        .map_err(|error| ServiceError::Logging(format!("filter {directives:?}: {error}")))?;
    for cap in PAYLOAD_LOGGING_CAPS {
        let directive = cap
            .parse()
            .map_err(|error| ServiceError::Logging(format!("filter {cap:?}: {error}")))?;
        filter = filter.add_directive(directive);
    }
    Ok(filter)
}

/// Installs the global JSON subscriber. The filter comes from `CLOOP_LOG`, else `RUST_LOG`,
/// else `info`, with [`PAYLOAD_LOGGING_CAPS`] applied.
pub fn init_logging() -> Result<(), ServiceError> {
    let directives = std::env::var("CLOOP_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = filter_for(&directives)?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|error| ServiceError::Logging(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_logging_targets_stay_capped_whatever_the_filter_says() {
        for directives in [
            "trace",
            "async_nats=trace",
            "async_nats::connection=trace,debug",
        ] {
            let filter = filter_for(directives).expect("valid filter");
            let text = filter.to_string();
            assert!(
                text.contains("async_nats::connection=debug"),
                "{directives}: {text}"
            );
            assert!(
                !text.contains("async_nats::connection=trace"),
                "{directives}: {text}"
            );
        }
        assert!(filter_for("intake=loudest").is_err());
    }
}
