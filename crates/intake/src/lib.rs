//! The `cloop-intake` service: channel adapters hand in submissions over gRPC or NATS; each is
//! validated and normalised, given a ticket id at once, written durably to a local SQLite
//! outbox and answered; a relay publishes it to JetStream stream FEEDBACK and keeps it until
//! workflow confirms the ticket.
//!
//! [`start`] runs the whole service in-process (tests and benchmarks use it on port 0);
//! [`run`] is what the binary calls: start, wait for a signal, shut down gracefully.

pub mod accept;
pub mod confirm;
pub mod convert;
pub mod error;
pub mod failpoints;
pub mod grpc;
pub mod inbound;
pub mod metrics;
pub mod outbox;
pub mod relay;
pub mod settings;

pub use accept::Intake;
pub use error::IntakeError;
pub use settings::{IntakeConfig, IntakeSettings};

use crate::metrics::IntakeMetrics;
use crate::outbox::{Outbox, OutboxOptions};
use service::shutdown::Shutdown;
use service::tasks::spawn_vital;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The file name of the outbox inside the data folder.
pub const OUTBOX_FILE: &str = "intake-outbox.db";

/// A running intake service.
#[derive(Debug)]
pub struct RunningIntake {
    /// The gRPC address it listens on.
    pub address: SocketAddr,
    /// The metrics address, when one was configured.
    pub metrics_address: Option<SocketAddr>,
    /// The core, for in-process callers.
    pub core: Arc<Intake>,
    accept_shutdown: Shutdown,
    /// The first vital task to fail, which stops the service.
    failures: service::tasks::Failures,
    task: JoinHandle<Result<(), IntakeError>>,
}

impl RunningIntake {
    /// Shuts down gracefully: stops accepting, answers what is in flight, flushes the relay,
    /// closes the outbox.
    pub async fn stop(self) -> Result<(), IntakeError> {
        self.accept_shutdown.trigger();
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(IntakeError::Config(format!("intake task failed: {error}"))),
        }
    }
}

/// Starts the service and returns once it listens.
pub async fn start(config: IntakeConfig) -> Result<RunningIntake, IntakeError> {
    config.settings.validate().map_err(IntakeError::Config)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| IntakeError::Io {
        action: format!("create data folder {}", config.data_dir.display()),
        source,
    })?;
    let metrics = IntakeMetrics::new().map_err(service::ServiceError::from)?;
    let limits = &config.rules.config().limits;
    let batch_metric = metrics.commit_batch.clone();
    let disk_full_metric = metrics.disk_full.clone();
    let outbox = Outbox::open(
        &config.data_dir.join(OUTBOX_FILE),
        OutboxOptions {
            max_batch: config.settings.max_batch,
            synchronous_full: config.settings.synchronous == "full",
            content_window: Duration::from_secs(limits.dedupe_window_hours.saturating_mul(3_600)),
            on_commit: Some(Arc::new(move |size| batch_metric.observe(size as f64))),
            on_disk_full: Some(Arc::new(move |error: &str| {
                service::disk::alarm(&disk_full_metric, "outbox", &error)
            })),
        },
    )?;
    let content_window_hours = limits.dedupe_window_hours;
    let core = Arc::new(Intake::new(
        config.rules.clone(),
        outbox.clone(),
        config.settings.node_id,
        config.settings.accept_timeout(),
        metrics.clone(),
    ));

    let (client, connected) = service::nats::connect(
        &config.nats_url,
        "cloop-intake",
        &config.nats.client_auth()?,
    )
    .await?;
    let context = service::nats::jetstream_context(client.clone(), config.nats.request_timeout());

    let accept_shutdown = Shutdown::new();
    let relay_shutdown = Shutdown::new();

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| service::ServiceError::Listen {
            address: config.listen.to_string(),
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| service::ServiceError::Listen {
            address: config.listen.to_string(),
            source,
        })?;

    let metrics_address = match config.metrics_listen {
        Some(metrics_listen) => {
            let (bound, _task) = service::metrics::serve(
                metrics_listen,
                metrics.registry.clone(),
                relay_shutdown.wait(),
            )
            .await?;
            Some(bound)
        }
        None => None,
    };

    let relay = relay::Relay {
        outbox: outbox.clone(),
        context: context.clone(),
        connected: connected.clone(),
        settings: config.settings.clone(),
        nats: config.nats.clone(),
        metrics: metrics.clone(),
        content_window_hours,
    };
    // The relay, the confirmer and the NATS listener are vital: without one of them the
    // service would answer but not deliver.
    let failures = service::tasks::Failures::new();
    let relay_task = spawn_vital("relay", &failures, relay.run(relay_shutdown.clone()));
    let confirmer = confirm::Confirmer {
        outbox: outbox.clone(),
        context,
        connected,
        nats: config.nats.clone(),
        consumer_name: config.settings.confirm_consumer_name(),
        metrics: metrics.clone(),
    };
    let confirm_task = spawn_vital(
        "confirmer",
        &failures,
        confirmer.run(relay_shutdown.clone()),
    );
    // One authenticator, and so one set of rate-limit buckets, for gRPC and NATS requests.
    let authenticator = service::Authenticator::new(config.tokens.clone());
    authenticator
        .limiter()
        .register_metrics(&metrics.registry, "cloop_intake_rate_limited_total")
        .map_err(service::ServiceError::from)?;
    let inbound_task = spawn_vital(
        "nats listener",
        &failures,
        inbound::serve(
            core.clone(),
            client.clone(),
            config.settings.queue_group.clone(),
            authenticator.clone(),
            accept_shutdown.clone(),
        ),
    );

    let (health_reporter, health_service) = service::grpc::health();
    health_reporter
        .set_service_status("feedback.v1.Intake", tonic_health::ServingStatus::Serving)
        .await;
    let reflection = service::grpc::reflection()
        .map_err(|error| IntakeError::Config(format!("build reflection: {error}")))?;
    let intake_service = tonic::service::interceptor::InterceptedService::new(
        proto::v1::intake_server::IntakeServer::new(
            grpc::IntakeService::new(core.clone()).with_rate_limits(authenticator.clone()),
        )
        .max_decoding_message_size(config.settings.max_message_bytes),
        authenticator,
    );
    let grpc_shutdown = accept_shutdown.wait();
    let server =
        service::tls::apply_server(config.tls.as_ref(), tonic::transport::Server::builder())?
            .add_service(health_service)
            .add_service(reflection)
            .add_service(intake_service)
            .serve_with_incoming_shutdown(
                // TCP_NODELAY: without it small answers wait for the client's delayed ack.
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                grpc_shutdown,
            );

    tracing::info!(
        %address,
        node_id = config.settings.node_id,
        tls = config.tls.is_some(),
        mutual_tls = config.tls.as_ref().is_some_and(|tls| tls.is_mutual()),
        "intake listening"
    );
    let task_outbox = outbox;
    let task = tokio::spawn(async move {
        let served = server.await;
        health_reporter
            .set_service_status(
                "feedback.v1.Intake",
                tonic_health::ServingStatus::NotServing,
            )
            .await;
        inbound_task.join().await;
        // Nothing new can arrive now: flush the relay, then close the outbox.
        relay_shutdown.trigger();
        relay_task.join().await;
        confirm_task.join().await;
        task_outbox.close().await;
        // Flushing waits for the server: not for ever when NATS is down.
        match tokio::time::timeout(Duration::from_secs(2), client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "flush nats"),
            Err(_) => tracing::debug!("nats flush timed out"),
        }
        tracing::info!("intake stopped");
        served.map_err(|error| IntakeError::Service(service::ServiceError::Grpc(error.to_string())))
    });

    Ok(RunningIntake {
        address,
        metrics_address,
        core,
        accept_shutdown,
        failures,
        task,
    })
}

/// Runs the service until `signal` completes, then shuts down gracefully.
pub async fn run(
    config: IntakeConfig,
    signal: impl Future<Output = ()>,
) -> Result<(), IntakeError> {
    let running = start(config).await?;
    let failures = running.failures.clone();
    tokio::select! {
        () = signal => running.stop().await,
        failure = failures.first() => {
            // The rest drains as on SIGTERM; the process then exits non-zero.
            if let Err(error) = running.stop().await {
                tracing::warn!(%error, "stopping after a failed task");
            }
            Err(IntakeError::TaskFailed(failure))
        }
    }
}
