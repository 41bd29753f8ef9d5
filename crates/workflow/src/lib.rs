//! The `cloop-workflow` service: consumes `FeedbackReceived` from JetStream into the ticket
//! event log, moves tickets through the six steps by the commands of people, keeps the
//! projections (ticket list, department queues, full-text search, SLA index) in the same
//! transactions as the log, runs the SLA timers, publishes every log row to TICKET_EVENTS and
//! serves `feedback.v1.Tickets` and `feedback.v1.Audit`.
//!
//! [`start`] runs the whole service in-process (tests and benchmarks use it on port 0);
//! [`run`] is what the binary calls: start, wait for a signal, shut down gracefully.
//!
//! Code map (the modules read in one direction: `grpc` and the `duties` use `commands`, which
//! uses `queries`; none of them writes a read model, which the `projections` crate does):
//! - `consumer`: the durable pull consumer on FEEDBACK, many messages per transaction.
//! - `commands`: role check, decide, append with the expected version, idempotency, retries.
//! - `queries`: reads of the projections on read-only connections.
//! - `duties`: what the leader runs on its own, each on the projections: `timers` (the SLA
//!   timers, driven by the `sla_index` projection), `assignment` (the assigner), `retention`
//!   (archived tickets leave the lists when their retention expires), `checkpoints` (keeps and
//!   publishes checkpoints of the log's head) and `key_backup` (copies the key store,
//!   `keys.db`, into `backups/`).
//! - `publisher`: the log tail to TICKET_EVENTS with a durable position.
//! - `erasure`: erasing a customer: destroy their keys, then record `customer_erased`.
//! - `problems`: similar tickets and problem links.
//! - `record`: the envelope between domain events and log rows.
//! - `grpc`: the gRPC services and the conversions at the edge.
//! - [`projections`] (the crate, re-exported): the `TicketProjector` of the log, rebuild and
//!   digest.

pub mod clock;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod duties;
pub mod erasure;
pub mod error;
pub mod failpoints;
pub mod grpc;
pub mod leader;
pub mod metrics;
pub mod problems;
pub mod publisher;
pub mod queries;
pub mod record;

pub use ::projections;
pub use config::{WorkflowConfig, WorkflowSettings};
pub use duties::{assignment, checkpoints, key_backup, retention, timers};
pub use error::WorkflowError;

use crate::commands::Commands;
use crate::metrics::WorkflowMetrics;
use crate::queries::Readers;
use ::projections::shared::{SharedReads, SharedTicketProjector};
use ::projections::TicketProjector;
use eventlog::{EventLog, ExpectedVersion, LogOptions, Synchronous};
use service::shutdown::Shutdown;
use service::tasks::spawn_vital;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;

/// The file name of the log and its projections inside the data folder.
pub const DATABASE_FILE: &str = "workflow.db";
/// The file name of this replica's projections inside the data folder when the log is in
/// PostgreSQL (`--store postgres://...`).
pub const PROJECTIONS_FILE: &str = "projections.db";
/// The file name of the publisher's position inside the data folder.
pub const PUBLISHER_FILE: &str = "publisher.db";
/// The file name of the key store (customer keys for sealed personal data) inside the data
/// folder.
pub const KEYS_FILE: &str = "keys.db";

/// Opens (creating if needed) the key store of a data folder.
pub fn open_vault(data_dir: &Path) -> Result<Arc<vault::Vault>, WorkflowError> {
    let path = data_dir.join(KEYS_FILE);
    vault::Vault::open_file(&path)
        .map(Arc::new)
        .map_err(|error| {
            WorkflowError::Corrupt(format!("open the key store {}: {error}", path.display()))
        })
}

/// A running workflow service.
#[derive(Debug)]
pub struct RunningWorkflow {
    /// The gRPC address it listens on.
    pub address: SocketAddr,
    /// The metrics address, when one was configured.
    pub metrics_address: Option<SocketAddr>,
    /// The event log, for in-process callers.
    pub log: EventLog,
    /// The SLA timers, so that tests can run a tick at a moment they choose.
    pub timers: timers::Timers,
    shutdown: Shutdown,
    /// The first vital task to fail, which stops the service.
    failures: service::tasks::Failures,
    task: JoinHandle<Result<(), WorkflowError>>,
}

impl RunningWorkflow {
    /// Shuts down gracefully: stops serving and consuming, lets the publisher catch up, closes
    /// the log.
    pub async fn stop(self) -> Result<(), WorkflowError> {
        self.shutdown.trigger();
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(WorkflowError::Config(format!(
                "workflow task failed: {error}"
            ))),
        }
    }
}

/// Opens the log with the projector, bringing the projections up to the log's head (a full
/// rebuild when they were dropped or are behind). The projector opens sealed personal data
/// with `vault`.
pub fn open_log(
    path: &Path,
    rules: Arc<domain::Rules>,
    synchronous: Synchronous,
    vault: Arc<vault::Vault>,
) -> Result<EventLog, WorkflowError> {
    let log = EventLog::open_with_projector(
        path,
        LogOptions {
            synchronous,
            ..LogOptions::default()
        },
        Box::new(TicketProjector::new(rules.clone(), vault.clone())),
    )?;
    let mut connection =
        rusqlite::Connection::open(path).map_err(WorkflowError::sqlite("open the projections"))?;
    connection
        .busy_timeout(std::time::Duration::from_secs(30))
        .map_err(WorkflowError::sqlite("set busy timeout"))?;
    let projected = projections::projected_position(&connection)
        .map_err(WorkflowError::sqlite("read the projected position"))?;
    let head = log.head().position;
    if projected != head {
        tracing::info!(
            projected,
            head,
            "projections are behind the log, rebuilding them"
        );
        let replayed = projections::rebuild(&mut connection, &log, rules, vault)
            .map_err(WorkflowError::Corrupt)?;
        tracing::info!(replayed, "projections rebuilt");
    }
    Ok(log)
}

/// Opens the log where `store` says. SQLite: as [`open_log`]. PostgreSQL: the log in the
/// database with the shared ticket table its writer keeps (`projections::shared`), and this
/// replica's projections in `projections.db` of the data folder, fed by the log's follower
/// (both catch up before this returns).
pub fn open_store_log(
    store: &eventlog::StoreUrl,
    data_dir: &Path,
    rules: Arc<domain::Rules>,
    synchronous: Synchronous,
    vault: Arc<vault::Vault>,
) -> Result<EventLog, WorkflowError> {
    match store {
        eventlog::StoreUrl::Sqlite(path) => open_log(path, rules, synchronous, vault),
        eventlog::StoreUrl::Postgres(url) => Ok(EventLog::open_postgres_shared(
            url,
            LogOptions {
                synchronous,
                ..LogOptions::default()
            },
            Some(eventlog::LocalProjections {
                path: data_dir.join(PROJECTIONS_FILE),
                projector: Box::new(TicketProjector::new(rules, vault.clone())),
            }),
            Some(Box::new(SharedTicketProjector::new(vault, url))),
        )?),
    }
}

/// Opens the key store: `keys_store` when given (`--keys-store`), else `keys.db` of the data
/// folder next to a SQLite log, or the tables in the log's own database next to a PostgreSQL
/// log (every replica must open what any replica sealed, so a replica-local file will not do).
pub fn open_store_vault(
    store: &eventlog::StoreUrl,
    keys_store: Option<&eventlog::StoreUrl>,
    data_dir: &Path,
) -> Result<Arc<vault::Vault>, WorkflowError> {
    let opened = match keys_store.unwrap_or(store) {
        eventlog::StoreUrl::Sqlite(_) if keys_store.is_none() => return open_vault(data_dir),
        eventlog::StoreUrl::Sqlite(path) => vault::Vault::open_file(path),
        eventlog::StoreUrl::Postgres(url) => vault::Vault::open_postgres(url),
    };
    opened.map(Arc::new).map_err(|error| {
        WorkflowError::Config(format!(
            "open the key store {}: {error}",
            keys_store.unwrap_or(store)
        ))
    })
}

/// Records the configuration's version as a `config_changed` event when it differs from the
/// last one recorded, so that every later deadline names a version the log explains.
async fn record_config_version(
    log: &EventLog,
    rules: &domain::Rules,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), WorkflowError> {
    let rows = log.read_stream(record::CONFIG_STREAM, 0).await?;
    let previous = rows.last().and_then(|row| {
        serde_json::from_str::<serde_json::Value>(&row.payload_json)
            .ok()?
            .get("version")?
            .as_str()
            .map(str::to_owned)
    });
    let current = domain::types::Policy::version(rules);
    if previous.as_deref() == Some(current.as_str()) {
        return Ok(());
    }
    let version = rows.len() as u64;
    let event = record::config_changed_event(rules, now, previous.clone(), version);
    log.append(
        record::CONFIG_STREAM,
        ExpectedVersion::Exact(version),
        vec![event],
    )
    .await?;
    tracing::info!(version = %current, previous = ?previous, "configuration version recorded");
    Ok(())
}

/// Starts the service and returns once it listens.
pub async fn start(config: WorkflowConfig) -> Result<RunningWorkflow, WorkflowError> {
    config.settings.validate().map_err(WorkflowError::Config)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| WorkflowError::Io {
        action: format!("create data folder {}", config.data_dir.display()),
        source,
    })?;
    let metrics = WorkflowMetrics::new().map_err(service::ServiceError::from)?;
    let database = config.data_dir.join(DATABASE_FILE);
    let store = config
        .store
        .clone()
        .unwrap_or_else(|| eventlog::StoreUrl::Sqlite(database.clone()));
    // Projections are read where they are written: inside the SQLite log, or in this
    // replica's own file next to a PostgreSQL log.
    let projections_path = match &store {
        eventlog::StoreUrl::Sqlite(path) => path.clone(),
        eventlog::StoreUrl::Postgres(_) => config.data_dir.join(PROJECTIONS_FILE),
    };
    let synchronous = if config.settings.synchronous == "normal" {
        Synchronous::Normal
    } else {
        Synchronous::Full
    };
    let rules = config.rules.clone();
    let open_store = store.clone();
    let keys_store = config.keys_store.clone();
    if store.is_postgres() && keys_store.as_ref().is_some_and(|keys| !keys.is_postgres()) {
        return Err(WorkflowError::Config(
            "--keys-store: replicas on a PostgreSQL log need a shared key store \
             (postgres://...), not a file"
                .to_string(),
        ));
    }
    let data_dir = config.data_dir.clone();
    let (log, vault) = tokio::task::spawn_blocking(move || {
        let vault = open_store_vault(&open_store, keys_store.as_ref(), &data_dir)?;
        let log = open_store_log(&open_store, &data_dir, rules, synchronous, vault.clone())?;
        Ok::<_, WorkflowError>((log, vault))
    })
    .await
    .map_err(|error| WorkflowError::Config(format!("open the log: {error}")))??;
    record_config_version(&log, &config.rules, config.clock.now()).await?;
    let readers = match &store {
        eventlog::StoreUrl::Sqlite(_) => Readers::new(&projections_path),
        eventlog::StoreUrl::Postgres(url) => {
            Readers::new(&projections_path).with_shared(SharedReads::new(url))
        }
    };
    let commands = Commands {
        log: log.clone(),
        readers: readers.clone(),
        rules: config.rules.clone(),
        clock: config.clock.clone(),
        metrics: metrics.clone(),
        retries: config.settings.command_retries,
        vault: vault.clone(),
    };

    let (client, connected) = service::nats::connect(
        &config.nats_url,
        "cloop-workflow",
        &config.nats.client_auth()?,
    )
    .await?;
    let context = service::nats::jetstream_context(client.clone(), config.nats.request_timeout());

    let shutdown = Shutdown::new();
    let workers = Shutdown::new();
    let publisher_shutdown = Shutdown::new();
    // Duties that run on one replica at a time (see `leader`). The lead is held until the
    // publisher, the last duty, is told to stop, so that a leader shutting down still writes
    // its last checkpoint and publishes what it appended.
    let leadership = match &store {
        eventlog::StoreUrl::Sqlite(_) => leader::Leadership::always(),
        eventlog::StoreUrl::Postgres(url) => leader::Leadership::compete(
            url.clone(),
            config.listen.to_string(),
            publisher_shutdown.clone(),
        ),
    };

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
                publisher_shutdown.wait(),
            )
            .await?;
            Some(bound)
        }
        None => None,
    };

    let consumer = consumer::Consumer {
        log: log.clone(),
        rules: config.rules.clone(),
        clock: config.clock.clone(),
        client: client.clone(),
        context: context.clone(),
        connected: connected.clone(),
        nats: config.nats.clone(),
        settings: config.settings.clone(),
        metrics: metrics.clone(),
        vault: vault.clone(),
    };
    // Every worker is vital: one that died would leave the service running but not working.
    let failures = service::tasks::Failures::new();
    let consumer_task = spawn_vital("consumer", &failures, consumer.run(workers.clone()));
    let timers = timers::Timers {
        commands: commands.clone(),
        readers: readers.clone(),
        rules: config.rules.clone(),
        clock: config.clock.clone(),
        tick: config.settings.timer_tick(),
        batch: config.settings.timer_batch,
        metrics: metrics.clone(),
    };
    let timers_task = spawn_vital(
        "sla timers",
        &failures,
        leadership.clone().lead("sla timers", workers.clone(), {
            let timers = timers.clone();
            move |stop| timers.clone().run(stop)
        }),
    );
    let assigner = assignment::Assigner {
        commands: commands.clone(),
        readers: readers.clone(),
        rules: config.rules.clone(),
        clock: config.clock.clone(),
        tick: config.settings.timer_tick(),
        batch: config.settings.timer_batch,
        lock: Arc::default(),
    };
    let assigner_task = spawn_vital(
        "assigner",
        &failures,
        leadership.clone().lead("assigner", workers.clone(), {
            let assigner = assigner.clone();
            move |stop| assigner.clone().run(stop)
        }),
    );
    let retention = retention::Retention {
        commands: commands.clone(),
        readers: readers.clone(),
        clock: config.clock.clone(),
        settings: config.retention.clone(),
    };
    let retention_task = spawn_vital(
        "retention",
        &failures,
        leadership
            .clone()
            .lead("retention", workers.clone(), move |stop| {
                retention.clone().run(stop)
            }),
    );
    let checkpoint_file =
        checkpoints::checkpoint_path(&config.data_dir, config.settings.checkpoint_file.as_deref());
    // Stopped after everything that appends, so that its last checkpoint is the final head.
    let checkpoint_shutdown = Shutdown::new();
    let checkpointer = checkpoints::Checkpointer {
        log: log.clone(),
        path: checkpoint_file.clone(),
        clock: config.clock.clone(),
        interval: config.settings.checkpoint_interval(),
        context: context.clone(),
        connected: connected.clone(),
        publish_timeout: config.nats.request_timeout(),
    };
    let checkpoint_task = spawn_vital(
        "checkpoints",
        &failures,
        leadership
            .clone()
            .lead("checkpoints", checkpoint_shutdown.clone(), move |stop| {
                checkpointer.clone().run(stop)
            }),
    );
    let publisher = publisher::Publisher {
        log: log.clone(),
        context,
        connected,
        nats: config.nats.clone(),
        settings: config.settings.clone(),
        metrics: metrics.clone(),
        position_path: config.data_dir.join(PUBLISHER_FILE),
        position_url: match &store {
            eventlog::StoreUrl::Sqlite(_) => None,
            eventlog::StoreUrl::Postgres(url) => Some(url.clone()),
        },
    };
    let publisher_task = spawn_vital(
        "publisher",
        &failures,
        leadership
            .clone()
            .lead("publisher", publisher_shutdown.clone(), move |stop| {
                publisher.clone().run(stop)
            }),
    );
    let key_backup = key_backup::KeyBackup {
        vault: vault.clone(),
        folder: config.data_dir.join(key_backup::BACKUP_FOLDER),
        interval: config.settings.key_backup_interval(),
        keep: config.settings.key_backups_kept,
    };
    // The key store in PostgreSQL is backed up with the database.
    let key_backup_task = if store.is_postgres() {
        spawn_vital("key backup", &failures, async {})
    } else {
        spawn_vital(
            "key backup",
            &failures,
            leadership
                .clone()
                .lead("key backup", workers.clone(), move |stop| {
                    key_backup.clone().run(stop)
                }),
        )
    };

    let (health_reporter, health_service) = service::grpc::health();
    for name in [
        "feedback.v1.Tickets",
        "feedback.v1.Audit",
        "feedback.v1.Reports",
    ] {
        health_reporter
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = service::grpc::reflection()
        .map_err(|error| WorkflowError::Config(format!("build reflection: {error}")))?;
    let authenticator = service::Authenticator::new(config.tokens.clone());
    authenticator
        .limiter()
        .register_metrics(&metrics.registry, "rate_limited_total")
        .map_err(service::ServiceError::from)?;
    let reports_service = InterceptedService::new(
        proto::v1::reports_server::ReportsServer::new(grpc::ReportsService {
            log: log.clone(),
            readers: readers.clone(),
            rules: config.rules.clone(),
            vault: vault.clone(),
        })
        .max_decoding_message_size(config.settings.max_message_bytes),
        authenticator.clone(),
    );
    let commands_for_audit = commands.clone();
    let query_limits = grpc::limits::QueryLimits::from_settings(&config.settings)
        .with_metrics(&metrics.registry)
        .map_err(service::ServiceError::from)?;
    let tickets_service = InterceptedService::new(
        proto::v1::tickets_server::TicketsServer::new(grpc::TicketsService {
            commands,
            readers,
            log: log.clone(),
            rules: config.rules.clone(),
            vault: vault.clone(),
            default_page_size: config.settings.default_page_size,
            max_page_size: config.settings.max_page_size,
            limits: query_limits.clone(),
            assigner,
        })
        .max_decoding_message_size(config.settings.max_message_bytes),
        authenticator.clone(),
    );
    let audit_service = InterceptedService::new(
        proto::v1::audit_server::AuditServer::new(grpc::AuditService {
            log: log.clone(),
            vault: vault.clone(),
            erasure: erasure::Erasure {
                commands: commands_for_audit,
                vault: vault.clone(),
            },
            checkpoint_file,
            watches: query_limits.watches.clone(),
        })
        .max_decoding_message_size(config.settings.max_message_bytes),
        authenticator,
    );
    let server =
        service::tls::apply_server(config.tls.as_ref(), tonic::transport::Server::builder())?
            .add_service(health_service)
            .add_service(reflection)
            .add_service(tickets_service)
            .add_service(audit_service)
            .add_service(reports_service)
            .serve_with_incoming_shutdown(
                // TCP_NODELAY: without it small answers wait for the client's delayed ack.
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown.wait(),
            );
    tracing::info!(
        %address,
        store = %store,
        tls = config.tls.is_some(),
        mutual_tls = config.tls.as_ref().is_some_and(|tls| tls.is_mutual()),
        "workflow listening"
    );

    let task = tokio::spawn(async move {
        let served = server.await;
        for name in [
            "feedback.v1.Tickets",
            "feedback.v1.Audit",
            "feedback.v1.Reports",
        ] {
            health_reporter
                .set_service_status(name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        workers.trigger();
        consumer_task.join().await;
        timers_task.join().await;
        assigner_task.join().await;
        key_backup_task.join().await;
        retention_task.join().await;
        checkpoint_shutdown.trigger();
        checkpoint_task.join().await;
        // Nothing new is appended now: let the publisher catch up, then stop.
        publisher_shutdown.trigger();
        publisher_task.join().await;
        if let Err(error) = client.flush().await {
            tracing::debug!(%error, "flush nats");
        }
        tracing::info!("workflow stopped");
        served
            .map_err(|error| WorkflowError::Service(service::ServiceError::Grpc(error.to_string())))
    });

    Ok(RunningWorkflow {
        address,
        metrics_address,
        log,
        timers,
        shutdown,
        failures,
        task,
    })
}

/// Runs the service until `signal` completes, then shuts down gracefully.
pub async fn run(
    config: WorkflowConfig,
    signal: impl Future<Output = ()>,
) -> Result<(), WorkflowError> {
    let running = start(config).await?;
    let failures = running.failures.clone();
    tokio::select! {
        () = signal => running.stop().await,
        failure = failures.first() => {
            // The other workers drain as on SIGTERM; the process then exits non-zero.
            let stopped = running.stop().await;
            if let Err(error) = stopped {
                tracing::warn!(%error, "stopping after a failed task");
            }
            Err(WorkflowError::TaskFailed(failure))
        }
    }
}
