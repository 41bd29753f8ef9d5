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

    /// Waits up to `timeout` for the connection (looking every 20 ms); whether it is up.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
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

/// Creates the stream when it does not exist; never changes an existing one (its owner may
/// have configured it differently).
pub async fn create_stream_if_missing(
    context: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<(), ServiceError> {
    if context.get_stream(&settings.name).await.is_ok() {
        return Ok(());
    }
    match context.create_stream(settings.to_stream_config()).await {
        Ok(_) => {
            tracing::info!(stream = %settings.name, "stream created");
            Ok(())
        }
        // Another service may have created it in the meantime.
        Err(error) => match context.get_stream(&settings.name).await {
            Ok(_) => Ok(()),
            Err(_) => Err(ServiceError::Nats(format!(
                "create stream {}: {error}",
                settings.name
            ))),
        },
    }
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

/// The durable pull consumer `config` names on `stream`, created or updated to `config`; when
/// the server refuses the update, the existing one as it is.
pub async fn durable_consumer(
    stream: &jetstream::stream::Stream,
    config: jetstream::consumer::pull::Config,
) -> Result<jetstream::consumer::PullConsumer, String> {
    let name = config.durable_name.clone().unwrap_or_default();
    match stream.create_consumer(config).await {
        Ok(consumer) => Ok(consumer),
        Err(error) => {
            tracing::warn!(%error, consumer = %name, "create or update consumer, using the existing one");
            stream
                .get_consumer(&name)
                .await
                .map_err(|error| format!("get consumer {name}: {error}"))
        }
    }
}

/// Runs `consume` until it returns `Ok` or `shutdown` is triggered: again whenever it fails,
/// while connected, after a pause of 100 ms doubling up to 2 s; `what` names it in the
/// warning of each failure.
pub async fn keep_consuming<F, Fut>(
    what: &str,
    connected: &ConnectionFlag,
    shutdown: &crate::shutdown::Shutdown,
    mut consume: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut failures = 0u32;
    loop {
        if shutdown.is_triggered() {
            return;
        }
        if connected.is_connected() {
            match consume().await {
                Ok(()) => return,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, "{what} stopped, will retry");
                }
            }
        }
        let delay = Duration::from_millis(100u64.saturating_mul(1 << failures.min(5)).min(2_000));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Reads `messages` in batches (what is ready, at most `batch` at a time) until `shutdown`:
/// each non-empty batch goes to `handle`; a message the server failed to deliver is left out
/// and logged at debug level under `what`. `Ok` at shutdown; an error when the stream ends or
/// `handle` fails.
pub async fn consume_batches<S, E, F, Fut>(
    messages: S,
    batch: usize,
    what: &str,
    shutdown: &crate::shutdown::Shutdown,
    mut handle: F,
) -> Result<(), String>
where
    S: futures::Stream<Item = Result<jetstream::Message, E>>,
    E: std::fmt::Display,
    F: FnMut(Vec<jetstream::Message>) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    use futures::StreamExt;
    let mut batches = std::pin::pin!(messages.ready_chunks(batch));
    loop {
        let items = tokio::select! {
            items = batches.next() => items,
            _ = shutdown.wait() => return Ok(()),
        };
        let Some(items) = items else {
            return Err("consumer stream ended".into());
        };
        let mut received = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(message) => received.push(message),
                Err(error) => tracing::debug!(%error, "{what}"),
            }
        }
        if !received.is_empty() {
            handle(received).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_for_the_connection_ends_when_it_comes_or_at_the_timeout() {
        let flag = ConnectionFlag::default();
        assert!(!flag.wait_connected(Duration::from_millis(60)).await);
        let later = flag.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            later.0.store(true, Ordering::Relaxed);
        });
        assert!(flag.wait_connected(Duration::from_secs(5)).await);
    }

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
