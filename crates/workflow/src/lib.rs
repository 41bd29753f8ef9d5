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
//! - `vip`: the VIP flag on a customer's tickets: asked at receipt, and their deadlines
//!   recomputed (`sla_recomputed`) when the staff tag `vip` is put on or taken off.
//! - `record`: the envelope between domain events and log rows.
//! - `classifier`: the trained classifier's `[classifier]` table, its model file loaded once,
//!   and its arrival recorded in the log.
//! - `grpc`: the gRPC services and the conversions at the edge.
//! - [`projections`] (the crate, re-exported): the `TicketProjector` of the log, rebuild and
//!   digest.
//! - `start`: [`start`] in parts: storage, duties, server.

pub mod classifier;
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
pub mod replies;
mod start;
pub mod vip;

pub use ::projections;
pub use config::{WorkflowConfig, WorkflowSettings};
pub use duties::{assignment, checkpoints, key_backup, retention, timers};
pub use error::WorkflowError;

use crate::metrics::WorkflowMetrics;
use ::projections::shared::SharedTicketProjector;
use ::projections::TicketProjector;
use eventlog::{EventLog, ExpectedVersion, LogOptions, Synchronous};
use service::server::{Running, Tasks};
use service::shutdown::Shutdown;
use service::tasks::Failures;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

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
    running: service::server::Running<WorkflowError>,
}

impl RunningWorkflow {
    /// Shuts down gracefully: stops serving and consuming, lets the publisher catch up, closes
    /// the log.
    pub async fn stop(self) -> Result<(), WorkflowError> {
        self.running.stop().await
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

/// Starts the service and returns once it listens: opens the storage, spawns the duties and
/// serves gRPC until [`RunningWorkflow::stop`].
pub async fn start(config: WorkflowConfig) -> Result<RunningWorkflow, WorkflowError> {
    config.settings.validate().map_err(WorkflowError::Config)?;
    let metrics = WorkflowMetrics::new().map_err(service::ServiceError::from)?;
    let storage = start::storage::open(&config, &metrics).await?;
    let (client, connected) = service::nats::connect(
        &config.base.nats_url,
        "cloop-workflow",
        &config.base.nats.client_auth()?,
    )
    .await?;
    let context =
        service::nats::jetstream_context(client.clone(), config.base.nats.request_timeout());
    let nats = start::duties::Nats {
        client,
        context,
        connected,
    };
    let shutdown = Shutdown::new();
    let workers = Shutdown::new();
    let publisher_shutdown = Shutdown::new();
    let failures = Failures::new();
    let (listener, address) = service::server::bind(config.base.listen).await?;
    let mut endpoint = Tasks::new(&failures);
    let metrics_address = service::metrics::endpoint(
        config.base.metrics_listen,
        &metrics.registry,
        publisher_shutdown.wait(),
        &mut endpoint,
    )
    .await?;
    let duties = start::duties::spawn(
        &config,
        &storage,
        &nats,
        &metrics,
        (&workers, &publisher_shutdown),
        &failures,
    );
    let server = start::server::build(&config, &storage, &duties, &metrics)
        .await?
        .serve(listener, shutdown.wait());
    tracing::info!(
        %address,
        store = %storage.store,
        tls = config.base.tls.is_some(),
        mutual_tls = config.base.tls.as_ref().is_some_and(|tls| tls.is_mutual()),
        "workflow listening"
    );
    let timers = duties.timers.clone();
    let running = Running::spawn(shutdown, failures, async move {
        let served = server.await;
        workers.trigger();
        duties.workers.join().await;
        duties.checkpoint_shutdown.trigger();
        duties.checkpoints.join().await;
        // Nothing new is appended now: let the publisher catch up, then stop.
        publisher_shutdown.trigger();
        duties.publisher.join().await;
        if let Err(error) = nats.client.flush().await {
            tracing::debug!(%error, "flush nats");
        }
        endpoint.join().await;
        tracing::info!("workflow stopped");
        Ok(served?)
    });
    Ok(RunningWorkflow {
        address,
        metrics_address,
        log: storage.log,
        timers,
        running,
    })
}

/// Runs the service until `signal` completes, then shuts down gracefully; a vital task that
/// fails stops it too (the other workers drain as on SIGTERM), with an error.
pub async fn run(
    config: WorkflowConfig,
    signal: impl Future<Output = ()>,
) -> Result<(), WorkflowError> {
    start(config)
        .await?
        .running
        .run_until(signal, WorkflowError::TaskFailed)
        .await
}
