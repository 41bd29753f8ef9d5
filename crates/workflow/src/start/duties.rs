//! The duties of a started workflow: the consumer on every replica; the SLA timers, the
//! assigner, retention, the monthly awards, the report schedule, the checkpoints, the publisher
//! and the key backup on the leading one (see `leader`). Every duty is vital: one that died
//! would leave the service running but not
//! working.

use super::storage::Storage;
use crate::config::WorkflowConfig;
use crate::leader::Leadership;
use crate::metrics::WorkflowMetrics;
use eventlog::StoreUrl;
use service::server::Tasks;
use service::shutdown::Shutdown;
use service::tasks::Failures;
use std::path::PathBuf;
use std::sync::Arc;

/// The NATS side the duties use.
pub(crate) struct Nats {
    pub client: async_nats::Client,
    pub context: async_nats::jetstream::Context,
    pub connected: service::nats::ConnectionFlag,
}

/// The running duties, in the three groups the shutdown stops one after the other: the
/// workers, then the checkpoints (so that the last one is the final head), then the
/// publisher (so that it publishes all that was appended).
pub(crate) struct Duties {
    pub timers: crate::duties::timers::Timers,
    pub assigner: crate::duties::assignment::Assigner,
    pub checkpoint_file: PathBuf,
    pub workers: Tasks,
    pub checkpoints: Tasks,
    pub publisher: Tasks,
    pub checkpoint_shutdown: Shutdown,
}

/// Spawns the duties; `workers` and `publisher_shutdown` stop them, the leadership is held
/// until the publisher is told to stop.
pub(crate) fn spawn(
    config: &WorkflowConfig,
    storage: &Storage,
    nats: &Nats,
    metrics: &WorkflowMetrics,
    (workers_shutdown, publisher_shutdown): (&Shutdown, &Shutdown),
    failures: &Failures,
) -> Duties {
    let leadership = match &storage.store {
        StoreUrl::Sqlite(_) => Leadership::always(),
        StoreUrl::Postgres(url) => Leadership::compete(
            url.clone(),
            config.base.listen.to_string(),
            publisher_shutdown.clone(),
        ),
    };
    let mut workers = Tasks::new(failures);
    let consumer = crate::consumer::Consumer {
        log: storage.log.clone(),
        rules: config.base.rules.clone(),
        clock: config.clock.clone(),
        client: nats.client.clone(),
        context: nats.context.clone(),
        connected: nats.connected.clone(),
        nats: config.base.nats.clone(),
        settings: config.settings.clone(),
        metrics: metrics.clone(),
        vault: storage.vault.clone(),
        commands: storage.commands.clone(),
        placer: config.classifier.clone(),
    };
    workers.spawn_vital("consumer", consumer.run(workers_shutdown.clone()));
    let sweep = crate::duties::Sweep {
        commands: storage.commands.clone(),
        tick: config.settings.timer_tick(),
        batch: config.settings.timer_batch,
    };
    let timers = crate::duties::timers::Timers {
        sweep: sweep.clone(),
        metrics: metrics.clone(),
    };
    leadership.spawn_led(&mut workers, "sla timers", workers_shutdown, {
        let timers = timers.clone();
        move |stop| timers.clone().run(stop)
    });
    let assigner = crate::duties::assignment::Assigner {
        sweep,
        lock: Arc::default(),
    };
    leadership.spawn_led(&mut workers, "assigner", workers_shutdown, {
        let assigner = assigner.clone();
        move |stop| assigner.clone().run(stop)
    });
    spawn_housekeeping(config, storage, &leadership, workers_shutdown, &mut workers);
    let checkpoint_file = crate::duties::checkpoints::checkpoint_path(
        &config.base.data_dir,
        config.settings.checkpoint_file.as_deref(),
    );
    let checkpoint_shutdown = Shutdown::new();
    let checkpointer = crate::duties::checkpoints::Checkpointer {
        log: storage.log.clone(),
        path: checkpoint_file.clone(),
        clock: config.clock.clone(),
        interval: config.settings.checkpoint_interval(),
        context: nats.context.clone(),
        connected: nats.connected.clone(),
        publish_timeout: config.base.nats.request_timeout(),
    };
    let mut checkpoints = Tasks::new(failures);
    leadership.spawn_led(
        &mut checkpoints,
        "checkpoints",
        &checkpoint_shutdown,
        move |stop| checkpointer.clone().run(stop),
    );
    let mut publisher = Tasks::new(failures);
    spawn_publisher(
        config,
        storage,
        (nats, metrics),
        (&leadership, publisher_shutdown),
        &mut publisher,
    );
    Duties {
        timers,
        assigner,
        checkpoint_file,
        workers,
        checkpoints,
        publisher,
        checkpoint_shutdown,
    }
}

/// Retention, the monthly awards, and the key backup next to a SQLite log (the key store in PostgreSQL is backed
/// up with the database).
fn spawn_housekeeping(
    config: &WorkflowConfig,
    storage: &Storage,
    leadership: &Leadership,
    workers_shutdown: &Shutdown,
    workers: &mut Tasks,
) {
    let retention = crate::duties::retention::Retention {
        commands: storage.commands.clone(),
        readers: storage.readers.clone(),
        clock: config.clock.clone(),
        settings: config.retention.clone(),
    };
    leadership.spawn_led(workers, "retention", workers_shutdown, move |stop| {
        retention.clone().run(stop)
    });
    let awards = crate::duties::awards::Awards {
        commands: storage.commands.clone(),
        readers: storage.readers.clone(),
        clock: config.clock.clone(),
        rules: config.base.rules.clone(),
    };
    leadership.spawn_led(workers, "awards", workers_shutdown, move |stop| {
        awards.clone().run(stop)
    });
    if config.base.rules.config().report_delivery.enabled() {
        let schedule = crate::duties::report_delivery::ReportSchedule {
            log: storage.log.clone(),
            rules: config.base.rules.clone(),
            clock: config.clock.clone(),
            tick: config.settings.timer_tick(),
            claimed: Arc::default(),
        };
        leadership.spawn_led(workers, "report schedule", workers_shutdown, move |stop| {
            schedule.clone().run(stop)
        });
    }
    if storage.store.is_postgres() {
        return;
    }
    let key_backup = crate::duties::key_backup::KeyBackup {
        vault: storage.vault.clone(),
        folder: config
            .base
            .data_dir
            .join(crate::duties::key_backup::BACKUP_FOLDER),
        interval: config.settings.key_backup_interval(),
        keep: config.settings.key_backups_kept,
    };
    leadership.spawn_led(workers, "key backup", workers_shutdown, move |stop| {
        key_backup.clone().run(stop)
    });
}

/// The publisher of the log's tail to TICKET_EVENTS, stopped last.
fn spawn_publisher(
    config: &WorkflowConfig,
    storage: &Storage,
    (nats, metrics): (&Nats, &WorkflowMetrics),
    (leadership, publisher_shutdown): (&Leadership, &Shutdown),
    tasks: &mut Tasks,
) {
    let publisher = crate::publisher::Publisher {
        log: storage.log.clone(),
        context: nats.context.clone(),
        connected: nats.connected.clone(),
        nats: config.base.nats.clone(),
        settings: config.settings.clone(),
        metrics: metrics.clone(),
        position_path: config.base.data_dir.join(crate::PUBLISHER_FILE),
        position_url: match &storage.store {
            StoreUrl::Sqlite(_) => None,
            StoreUrl::Postgres(url) => Some(url.clone()),
        },
    };
    leadership.spawn_led(tasks, "publisher", publisher_shutdown, move |stop| {
        publisher.clone().run(stop)
    });
}
