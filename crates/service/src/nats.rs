//! The NATS connection: connects in the background with unlimited reconnects, so a service
//! starts and serves while NATS is down, and creates or updates JetStream streams from
//! configuration. The URL may list several servers of a cluster, comma-separated: the client
//! connects to any one of them and, when that one dies, reconnects to another (it also learns
//! the cluster's other members from the server it is connected to).

use crate::config::StreamSettings;
use crate::error::ServiceError;
use crate::nats_auth::NatsClientAuth;
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

/// The servers of a `--nats-url` value: one URL, or several separated by commas (spaces
/// around each are ignored), e.g. `nats://10.0.0.1:4222,nats://10.0.0.2:4222`.
pub fn server_addresses(url: &str) -> Result<Vec<async_nats::ServerAddr>, ServiceError> {
    let addresses = url
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<async_nats::ServerAddr>()
                .map_err(|error| ServiceError::Nats(format!("server address {part:?}: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addresses.is_empty() {
        return Err(ServiceError::Nats(format!("no server address in {url:?}")));
    }
    Ok(addresses)
}

/// Connects to the server(s) of `url` (see [`server_addresses`]) without waiting: the client
/// connects (and reconnects, forever, with a capped backoff, to whichever server answers) in
/// the background. `name` identifies the service to the server; `auth` is its identity, TLS
/// and reply-subject prefix (`_INBOX.<service>` unless configured).
pub async fn connect(
    url: &str,
    name: &str,
    auth: &NatsClientAuth,
) -> Result<(async_nats::Client, ConnectionFlag), ServiceError> {
    let servers = server_addresses(url)?;
    let flag = ConnectionFlag::default();
    let events = flag.clone();
    tracing::info!(
        identity = %auth.describe(),
        tls = auth.tls(),
        inbox = %auth.inbox_prefix(name),
        "nats client"
    );
    let client = auth
        .apply(async_nats::ConnectOptions::new(), name)?
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
                    async_nats::Event::ServerError(error) => {
                        tracing::warn!(%error, "nats server error");
                    }
                    other => tracing::info!(event = %other, "nats event"),
                }
            }
        })
        .connect(servers)
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
                // A replica count change is done by the servers (they add or remove copies);
                // it fails when the cluster has fewer servers than the count asks for, and the
                // error says so.
                let replicas = if current.num_replicas == wanted.num_replicas {
                    String::new()
                } else {
                    format!(
                        " (replicas {} to {})",
                        current.num_replicas, wanted.num_replicas
                    )
                };
                context.update_stream(&wanted).await.map_err(|error| {
                    ServiceError::Nats(format!(
                        "update stream {}{replicas}: {error}",
                        settings.name
                    ))
                })?;
                tracing::info!(stream = %settings.name, replicas = wanted.num_replicas, "stream updated from configuration");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_several_servers_are_accepted() {
        let one = server_addresses("nats://127.0.0.1:4222").expect("one server");
        assert_eq!(one.len(), 1);
        let three = server_addresses("nats://127.0.0.1:4222, nats://127.0.0.1:4223,127.0.0.1:4224")
            .expect("three servers");
        let ports: Vec<u16> = three.iter().map(async_nats::ServerAddr::port).collect();
        assert_eq!(ports, vec![4222, 4223, 4224]);
    }

    #[test]
    fn an_empty_or_broken_list_is_refused() {
        assert!(server_addresses("").is_err());
        assert!(server_addresses(" , ").is_err());
        let error =
            server_addresses("nats://127.0.0.1:4222,nats://[broken").expect_err("a broken address");
        assert!(error.to_string().contains("[broken"), "{error}");
    }
}
