//! The settings of an opened log: `LogOptions` and `Synchronous`.

use std::time::Duration;

/// SQLite's `synchronous` setting for the writer's connection (the log always runs in WAL
/// mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Every commit is fsynced before appenders are answered: an acknowledged append
    /// survives a power loss. The default; with group commit it costs little.
    #[default]
    Full,
    /// The WAL is fsynced only at checkpoints: an acknowledged append survives a crash of
    /// the process but the last commits may be lost on power loss. The database stays
    /// consistent either way.
    Normal,
}

impl Synchronous {
    /// The value of SQLite's `PRAGMA synchronous`.
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Durability of each commit. Default `Full`.
    pub synchronous: Synchronous,
    /// The writer stops draining its queue into the current transaction once the batch
    /// holds this many events (a single larger request still goes in whole). Default 5,000.
    pub max_batch_events: usize,
    /// How long the writer waits for more requests once its queue is empty before it
    /// commits a batch. Default zero: requests that arrive during a commit form the next
    /// batch, which is what batches them under load.
    pub max_batch_wait: Duration,
    /// How many requests may wait for the writer. An async append to a full queue fails at
    /// once with `Unavailable`; a blocking append waits. Default 65,536.
    pub max_queued_requests: usize,
    /// How many idle read-only connections are kept for reads. Default 4.
    pub reader_connections: usize,
    /// How long a connection waits for a lock before it reports `Unavailable`. Default 5 s.
    pub busy_timeout: Duration,
    /// Page cache of the writer's connection in KiB; a warm cache keeps the unique indexes
    /// in memory. Default 65,536 (64 MiB).
    pub writer_cache_kib: u32,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            synchronous: Synchronous::Full,
            max_batch_events: 5_000,
            max_batch_wait: Duration::ZERO,
            max_queued_requests: 65_536,
            reader_connections: 4,
            busy_timeout: Duration::from_secs(5),
            writer_cache_kib: 65_536,
        }
    }
}
