//! The `cloop-webhook` channel adapter: web forms and platform callbacks `POST` signed JSON
//! submissions to `/v1/feedback/<channel>`; each is checked (channel, size, HMAC signature
//! with replay window, JSON shape, the domain's submission rules) and handed to intake as a
//! `SubmitRequest` over NATS request/reply on `feedback.inbound.<channel>`; intake's answer,
//! the ticket number and expected handling time, goes back as JSON.
//!
//! It is also the reference for writing another adapter (`docs/adapters.md`).
//!
//! [`start`] runs the service in-process and returns once it listens; [`run`] is what the
//! binary calls: start, wait for a signal, shut down gracefully.

pub mod body;
pub mod error;
pub mod metrics;
pub mod reply;
pub mod server;
pub mod settings;
pub mod signature;

pub use error::WebhookError;
pub use settings::{Resolved, WebhookSettings};

use crate::metrics::WebhookMetrics;
use crate::server::AppState;
use service::server::{Running, Tasks};
use service::shutdown::Shutdown;
use service::tasks::Failures;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub nats_url: String,
    /// The NATS identity (an adapter's: `feedback.inbound.<its channels>` only), TLS and
    /// reply prefix.
    pub nats_auth: service::nats_auth::NatsClientAuth,
    pub settings: Resolved,
    /// The domain configuration (channels and limits), the same file intake reads.
    pub rules: Arc<domain::Rules>,
}

/// A running webhook service.
#[derive(Debug)]
pub struct RunningWebhook {
    /// The HTTP address it listens on.
    pub address: SocketAddr,
    /// The metrics address, when one was configured.
    pub metrics_address: Option<SocketAddr>,
    running: Running<WebhookError>,
}

impl RunningWebhook {
    /// Stops taking connections, answers the requests in flight and closes the NATS
    /// connection.
    pub async fn stop(self) -> Result<(), WebhookError> {
        self.running.stop().await
    }
}

/// Starts the service and returns once it listens. NATS is connected in the background: until
/// it is, submissions are answered 503.
pub async fn start(config: WebhookConfig) -> Result<RunningWebhook, WebhookError> {
    let metrics = WebhookMetrics::new().map_err(service::ServiceError::from)?;
    let (client, connected) =
        service::nats::connect(&config.nats_url, "cloop-webhook", &config.nats_auth).await?;
    let (listener, address) = service::server::bind(config.listen).await?;
    let shutdown = Shutdown::new();
    let failures = Failures::new();
    let mut tasks = Tasks::new(&failures);
    let metrics_address = service::metrics::endpoint(
        config.metrics_listen,
        &metrics.registry,
        shutdown.wait(),
        &mut tasks,
    )
    .await?;
    let domain = config.rules.config();
    let limiter = service::RateLimiter::new();
    limiter
        .register_metrics(&metrics.registry, "cloop_webhook_rate_limited_total")
        .map_err(service::ServiceError::from)?;
    let state = Arc::new(AppState {
        limiter,
        in_flight: Arc::new(Semaphore::new(config.settings.max_in_flight)),
        settings: config.settings.clone(),
        limits: domain.limits.clone(),
        channels: domain.channels.clone(),
        client: client.clone(),
        connected,
        metrics,
    });
    let app = server::router(state);
    let channels: Vec<&str> = config.settings.secrets.keys().map(String::as_str).collect();
    tracing::info!(%address, ?channels, "cloop-webhook listening");
    let wait = shutdown.wait();
    let running = Running::spawn(shutdown, failures, async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(wait)
        .await
        .map_err(|error| WebhookError::Serve(error.to_string()));
        if let Err(error) = client.flush().await {
            tracing::debug!(%error, "flush nats on shutdown");
        }
        tasks.join().await;
        served
    });
    Ok(RunningWebhook {
        address,
        metrics_address,
        running,
    })
}

/// Starts the service, runs it until `signal` completes, then shuts down gracefully.
pub async fn run(
    config: WebhookConfig,
    signal: impl Future<Output = ()> + Send,
) -> Result<(), WebhookError> {
    start(config)
        .await?
        .running
        .run_until(signal, WebhookError::Serve)
        .await?;
    tracing::info!("cloop-webhook stopped");
    Ok(())
}
