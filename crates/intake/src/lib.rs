//! The `cloop-intake` service: channel adapters hand in submissions over gRPC or NATS; each is
//! validated and normalised, given a ticket id at once, written durably to a local SQLite
//! outbox and answered; a relay publishes it to JetStream stream FEEDBACK and keeps it until
//! workflow confirms the ticket.
//!
//! [`start`] runs the whole service in-process (tests and benchmarks use it on port 0);
//! [`run`] is what the binary calls: start, wait for a signal, shut down gracefully.

pub mod accept;
pub mod confirm;
pub mod contacts;
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
use service::server::{Grpc, Running, Tasks};
use service::shutdown::Shutdown;
use service::tasks::Failures;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The file name of the outbox inside the data folder.
pub const OUTBOX_FILE: &str = "intake-outbox.db";

/// The gRPC services intake serves (and marks in health).
const SERVICES: &[&str] = &["feedback.v1.Intake"];

/// A running intake service.
#[derive(Debug)]
pub struct RunningIntake {
    /// The gRPC address it listens on.
    pub address: SocketAddr,
    /// The metrics address, when one was configured.
    pub metrics_address: Option<SocketAddr>,
    /// The core, for in-process callers.
    pub core: Arc<Intake>,
    running: Running<IntakeError>,
}

impl RunningIntake {
    /// Shuts down gracefully: stops accepting, answers what is in flight, flushes the relay,
    /// closes the outbox.
    pub async fn stop(self) -> Result<(), IntakeError> {
        self.running.stop().await
    }
}

/// Opens the outbox of the data folder, with the metrics of its commits and of a full disk.
fn open_outbox(config: &IntakeConfig, metrics: &IntakeMetrics) -> Result<Outbox, IntakeError> {
    std::fs::create_dir_all(&config.base.data_dir).map_err(|source| IntakeError::Io {
        action: format!("create data folder {}", config.base.data_dir.display()),
        source,
    })?;
    let limits = &config.base.rules.config().limits;
    let batch_metric = metrics.commit_batch.clone();
    let disk_full_metric = metrics.disk_full.clone();
    Outbox::open(
        &config.base.data_dir.join(OUTBOX_FILE),
        OutboxOptions {
            max_batch: config.settings.max_batch,
            synchronous_full: config.settings.synchronous == "full",
            content_window: Duration::from_secs(limits.dedupe_window_hours.saturating_mul(3_600)),
            on_commit: Some(Arc::new(move |size| batch_metric.observe(size as f64))),
            on_disk_full: Some(Arc::new(move |error: &str| {
                service::disk::alarm(&disk_full_metric, "outbox", &error)
            })),
            handoff_rows: outbox::handoff::DEFAULT_HANDOFF_ROWS,
        },
    )
}

/// The relay and the confirmer, stopped by `shutdown` once nothing new can arrive. Both are
/// vital: without one of them the service would answer but not deliver.
fn spawn_relay(
    config: &IntakeConfig,
    outbox: &Outbox,
    nats: (
        &async_nats::jetstream::Context,
        &service::nats::ConnectionFlag,
    ),
    metrics: &IntakeMetrics,
    shutdown: &Shutdown,
    tasks: &mut Tasks,
) {
    let (context, connected) = nats;
    let relay = relay::Relay {
        outbox: outbox.clone(),
        context: context.clone(),
        connected: connected.clone(),
        settings: config.settings.clone(),
        nats: config.base.nats.clone(),
        metrics: metrics.clone(),
        content_window_hours: config.base.rules.config().limits.dedupe_window_hours,
    };
    tasks.spawn_vital("relay", relay.run(shutdown.clone()));
    let confirmer = confirm::Confirmer {
        outbox: outbox.clone(),
        context: context.clone(),
        connected: connected.clone(),
        nats: config.base.nats.clone(),
        consumer_name: config.settings.confirm_consumer_name(),
        subject: confirm::received_subject(),
        metrics: metrics.clone(),
    };
    let replies = confirm::Confirmer {
        consumer_name: config.settings.confirm_replies_consumer_name(),
        subject: confirm::replied_subject(),
        ..confirmer.clone()
    };
    tasks.spawn_vital("confirmer", confirmer.run(shutdown.clone()));
    tasks.spawn_vital("reply confirmer", replies.run(shutdown.clone()));
}

/// Starts the service and returns once it listens.
pub async fn start(config: IntakeConfig) -> Result<RunningIntake, IntakeError> {
    config.settings.validate().map_err(IntakeError::Config)?;
    let metrics = IntakeMetrics::new().map_err(service::ServiceError::from)?;
    let outbox = open_outbox(&config, &metrics)?;
    let contact_key = contacts::ContactKey::load_or_create(&config.base.data_dir)?;
    let core = Arc::new(Intake::with_contact_key(
        config.base.rules.clone(),
        outbox.clone(),
        config.settings.node_id,
        (config.settings.accept_timeout(), metrics.clone()),
        contact_key,
    ));
    let (client, connected) = service::nats::connect(
        &config.base.nats_url,
        "cloop-intake",
        &config.base.nats.client_auth()?,
    )
    .await?;
    let context =
        service::nats::jetstream_context(client.clone(), config.base.nats.request_timeout());

    let accept_shutdown = Shutdown::new();
    let relay_shutdown = Shutdown::new();
    let failures = Failures::new();
    let (listener, address) = service::server::bind(config.base.listen).await?;
    let mut metrics_tasks = Tasks::new(&failures);
    let metrics_address = service::metrics::endpoint(
        config.base.metrics_listen,
        &metrics.registry,
        relay_shutdown.wait(),
        &mut metrics_tasks,
    )
    .await?;
    let mut relay_workers = Tasks::new(&failures);
    spawn_relay(
        &config,
        &outbox,
        (&context, &connected),
        &metrics,
        &relay_shutdown,
        &mut relay_workers,
    );
    // One authenticator, and so one set of rate-limit buckets, for gRPC and NATS requests.
    let authenticator = service::Authenticator::new(config.base.tokens.clone());
    authenticator
        .limiter()
        .register_metrics(&metrics.registry, "cloop_intake_rate_limited_total")
        .map_err(service::ServiceError::from)?;
    let mut listeners = Tasks::new(&failures);
    listeners.spawn_vital(
        "nats listener",
        inbound::serve(
            core.clone(),
            client.clone(),
            config.settings.queue_group.clone(),
            authenticator.clone(),
            accept_shutdown.clone(),
        ),
    );
    let intake_service = proto::v1::intake_server::IntakeServer::new(
        grpc::IntakeService::new(core.clone()).with_rate_limits(authenticator.clone()),
    )
    .max_decoding_message_size(config.settings.max_message_bytes);
    let server = Grpc::new(config.base.tls.as_ref(), SERVICES, authenticator)
        .await?
        .add_authenticated(intake_service)
        .serve(listener, accept_shutdown.wait());
    tracing::info!(
        %address,
        node_id = config.settings.node_id,
        tls = config.base.tls.is_some(),
        mutual_tls = config.base.tls.as_ref().is_some_and(|tls| tls.is_mutual()),
        "intake listening"
    );
    let running = Running::spawn(accept_shutdown, failures, async move {
        let served = server.await;
        listeners.join().await;
        // Nothing new can arrive now: flush the relay, then close the outbox.
        relay_shutdown.trigger();
        relay_workers.join().await;
        outbox.close().await;
        // Flushing waits for the server: not for ever when NATS is down.
        match tokio::time::timeout(Duration::from_secs(2), client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "flush nats"),
            Err(_) => tracing::debug!("nats flush timed out"),
        }
        metrics_tasks.join().await;
        tracing::info!("intake stopped");
        Ok(served?)
    });
    Ok(RunningIntake {
        address,
        metrics_address,
        core,
        running,
    })
}

/// Runs the service until `signal` completes, then shuts down gracefully; a vital task that
/// fails stops it too, with an error.
pub async fn run(
    config: IntakeConfig,
    signal: impl Future<Output = ()>,
) -> Result<(), IntakeError> {
    start(config)
        .await?
        .running
        .run_until(signal, IntakeError::TaskFailed)
        .await
}
