//! The NATS connection: connects in the background with unlimited reconnects, so a service
//! starts and serves while NATS is down, and creates or updates JetStream streams from
//! configuration.

use crate::config::StreamSettings;
use crate::error::ServiceError;
use async_nats::jetstream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether the client is connected right now, kept up to date by the connection's events.
#[derive(Debug, Clone, Default)]
pub struct ConnectionFlag(Arc<AtomicBool>);

impl ConnectionFlag {
    pub fn is_connected(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Connects to `url` without waiting: the client connects (and reconnects, forever, with a
/// capped backoff) in the background. `name` identifies the service to the server.
pub async fn connect(
    url: &str,
    name: &str,
) -> Result<(async_nats::Client, ConnectionFlag), ServiceError> {
    let flag = ConnectionFlag::default();
    let events = flag.clone();
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|attempts| {
            let millis = 50u64.saturating_mul(1 << attempts.min(5) as u64);
            Duration::from_millis(millis.min(1_000))
        })
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        events.0.store(true, Ordering::Relaxed);
                        tracing::info!("nats connected");
                    }
                    async_nats::Event::Disconnected => {
                        events.0.store(false, Ordering::Relaxed);
                        tracing::warn!("nats disconnected");
                    }
                    other => tracing::info!(event = %other, "nats event"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|error| ServiceError::Nats(format!("connect {url}: {error}")))?;
    Ok((client, flag))
}

/// A JetStream context with the given API and publish-ack timeout.
pub fn jetstream_context(client: async_nats::Client, timeout: Duration) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(timeout)
        .build(client)
}

/// Creates the stream, or updates it to `settings` when it exists with other settings.
pub async fn ensure_stream(
    context: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<(), ServiceError> {
    let wanted = settings.to_stream_config();
    match context.get_stream(&settings.name).await {
        Ok(mut stream) => {
            let info = stream.info().await.map_err(|error| {
                ServiceError::Nats(format!("stream {} info: {error}", settings.name))
            })?;
            let current = &info.config;
            let differs = current.subjects != wanted.subjects
                || current.max_age != wanted.max_age
                || current.max_bytes != wanted.max_bytes
                || current.num_replicas != wanted.num_replicas
                || current.duplicate_window != wanted.duplicate_window
                || current.retention != wanted.retention;
            if differs {
                context.update_stream(&wanted).await.map_err(|error| {
                    ServiceError::Nats(format!("update stream {}: {error}", settings.name))
                })?;
                tracing::info!(stream = %settings.name, "stream updated from configuration");
            }
            Ok(())
        }
        Err(_) => {
            context.create_stream(wanted).await.map_err(|error| {
                ServiceError::Nats(format!("create stream {}: {error}", settings.name))
            })?;
            tracing::info!(stream = %settings.name, "stream created");
            Ok(())
        }
    }
}
