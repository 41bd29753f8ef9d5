//! The storage of a starting workflow: the log where `--store` says (projections brought up
//! to its head), the key store, the readers of the projections and the command handler.

use crate::commands::Commands;
use crate::config::WorkflowConfig;
use crate::error::WorkflowError;
use crate::metrics::WorkflowMetrics;
use crate::queries::Readers;
use ::projections::shared::SharedReads;
use eventlog::{EventLog, StoreUrl, Synchronous};
use std::sync::Arc;

/// What the duties and the gRPC services work on.
pub(crate) struct Storage {
    pub store: StoreUrl,
    pub log: EventLog,
    pub vault: Arc<vault::Vault>,
    pub readers: Readers,
    pub commands: Commands,
}

/// Opens the data folder's storage (or the stores `--store` and `--keys-store` name) and
/// records the configuration's version.
pub(crate) async fn open(
    config: &WorkflowConfig,
    metrics: &WorkflowMetrics,
) -> Result<Storage, WorkflowError> {
    std::fs::create_dir_all(&config.base.data_dir).map_err(|source| WorkflowError::Io {
        action: format!("create data folder {}", config.base.data_dir.display()),
        source,
    })?;
    let store = config
        .store
        .clone()
        .unwrap_or_else(|| StoreUrl::Sqlite(config.base.data_dir.join(crate::DATABASE_FILE)));
    let keys_store = config.keys_store.clone();
    if store.is_postgres() && keys_store.as_ref().is_some_and(|keys| !keys.is_postgres()) {
        return Err(WorkflowError::Config(
            "--keys-store: replicas on a PostgreSQL log need a shared key store \
             (postgres://...), not a file"
                .to_string(),
        ));
    }
    let synchronous = if config.settings.synchronous == "normal" {
        Synchronous::Normal
    } else {
        Synchronous::Full
    };
    // The word segmenter's dictionary takes a fifth of a second (release) to load: load it
    // while the stores open rather than in the first batch after a start. Its handle is not
    // awaited: the first classification waits for the load if it is still running.
    drop(tokio::task::spawn_blocking(domain::rules::terms::warm_up));
    let rules = config.base.rules.clone();
    let open_store = store.clone();
    let data_dir = config.base.data_dir.clone();
    let (log, vault) = tokio::task::spawn_blocking(move || {
        let vault = crate::open_store_vault(&open_store, keys_store.as_ref(), &data_dir)?;
        let log = crate::open_store_log(&open_store, &data_dir, rules, synchronous, vault.clone())?;
        Ok::<_, WorkflowError>((log, vault))
    })
    .await
    .map_err(|error| WorkflowError::Config(format!("open the log: {error}")))??;
    crate::record_config_version(&log, &config.base.rules, config.clock.now()).await?;
    crate::classifier::record_version(&log, config.classifier.as_deref(), config.clock.now())
        .await?;
    // Projections are read where they are written: inside the SQLite log, or in this
    // replica's own file next to a PostgreSQL log.
    let readers = match &store {
        StoreUrl::Sqlite(path) => Readers::new(path),
        StoreUrl::Postgres(url) => {
            Readers::new(&config.base.data_dir.join(crate::PROJECTIONS_FILE))
                .with_shared(SharedReads::new(url))
        }
    };
    let commands = Commands {
        log: log.clone(),
        readers: readers.clone(),
        rules: config.base.rules.clone(),
        clock: config.clock.clone(),
        metrics: metrics.clone(),
        retries: config.settings.command_retries,
        vault: vault.clone(),
    };
    Ok(Storage {
        store,
        log,
        vault,
        readers,
        commands,
    })
}
