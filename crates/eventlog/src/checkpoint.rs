//! The checkpointer: a thread with a connection of its own that copies the WAL back into
//! the database file, so that the writer does not pay for checkpoints inside its commits.

use std::ffi::c_int;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags, MAIN_DB};

use crate::error::{sqlite, LogError};
use crate::options::LogOptions;
use crate::read::open_connection;

/// A WAL of this many pages (SQLite's default checkpoint size) wakes the checkpointer.
const CHECKPOINT_PAGES: c_int = 1_000;

/// At this size the writer also checkpoints inline, right after its commit. A PASSIVE
/// checkpoint from another connection copies most of the WAL but rarely catches up with a
/// busy writer, and SQLite restarts the WAL from its beginning only once every frame is
/// copied: the writer's own checkpoint, which finds most frames already copied, is short and
/// lets the WAL restart, so it cannot grow without bound.
const INLINE_CHECKPOINT_PAGES: c_int = 4_000;

/// Replaces SQLite's automatic checkpoint on the writer's connection with a hook that wakes
/// a checkpointer thread, and starts that thread.
pub(crate) fn start_checkpointer(
    writer: &mut Connection,
    path: &std::path::Path,
    options: &LogOptions,
) -> Result<JoinHandle<()>, LogError> {
    let connection = open_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE,
        options.busy_timeout,
        "open checkpoint connection",
    )?;
    // A checkpoint fsyncs the WAL and the database file only when `synchronous` says so:
    // use the writer's setting.
    connection
        .pragma_update(None, "synchronous", options.synchronous.pragma_value())
        .map_err(sqlite("set synchronous"))?;
    let (wake, woken) = sync_channel::<()>(1);
    writer
        .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            // The hook runs after the commit is durable; an error returned here would make
            // SQLite report the committed transaction as failed, so it never returns one.
            if pages >= INLINE_CHECKPOINT_PAGES {
                // Busy when the checkpointer is at work: the next commit tries again.
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
            } else if pages >= CHECKPOINT_PAGES {
                // A full queue means a wake-up is already pending.
                let _ = wake.try_send(());
            }
            Ok(())
        }))
        .map_err(sqlite("install WAL hook"))?;
    std::thread::Builder::new()
        .name("eventlog-checkpoint".to_string())
        .spawn(move || run(connection, woken))
        .map_err(|source| LogError::Io {
            context: "start the checkpoint thread",
            source: std::sync::Arc::new(source),
        })
}

/// Checkpoints whenever the writer says the WAL has grown; stops when the writer's
/// connection (and with it the hook that owns the sender) is gone.
fn run(connection: Connection, woken: Receiver<()>) {
    while woken.recv().is_ok() {
        // PASSIVE copies what it can without waiting for the writer or for readers; what it
        // cannot copy now is copied at the next wake-up. A failure (busy, full disk) is not
        // fatal: the WAL simply stays longer, and the writer's inline checkpoint bounds it.
        let _ = connection.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE);
    }
}
