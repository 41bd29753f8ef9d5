//! The append-only, hash-chained event log of closedloop, stored in SQLite.
//!
//! The log is generic over JSON events: it knows streams, versions, positions and hashes,
//! never tickets. One `EventLog` handle (cheap to clone) owns one database file:
//!
//! - `append` / `append_many` send requests to a single writer thread, which drains what is
//!   queued into one transaction (group commit), gives each request a savepoint of its own,
//!   commits, and only then answers every caller and publishes the new head.
//! - `read_stream`, `read_all`, `read_event` run on read-only connections (WAL mode lets them
//!   read while the writer writes); `head`, `subscribe` and `wait_for` tell readers that
//!   something new was committed.
//! - `verify_path` / `EventLog::verify` recompute the hash chain and name the first bad row.
//!
//! ```no_run
//! # async fn example() -> Result<(), eventlog::LogError> {
//! use eventlog::{EventLog, ExpectedVersion, LogOptions, NewEvent};
//! let log = EventLog::open("workflow.db", LogOptions::default())?;
//! let event = NewEvent::new("ticket.received", serde_json::json!({ "content": "APP卡顿" }));
//! let outcome = log.append("ticket-1", ExpectedVersion::NoStream, vec![event]).await?;
//! let history = log.read_stream("ticket-1", 1).await?;
//! assert_eq!(history.last().map(|event| event.position), Some(outcome.last_position));
//! let report = log.verify(None, |_checked, _total| {})?;
//! assert!(report.ok);
//! # Ok(())
//! # }
//! ```
//!
//! # Invariants
//!
//! - **Append-only.** Rows are never updated or deleted: triggers abort any `UPDATE` or
//!   `DELETE` on `events`. A correction is a new event.
//! - **Positions.** Global positions are 1, 2, 3, ... in commit order, without gaps; they are
//!   assigned by the writer inside the write transaction from the stored head, so they stay
//!   right even if another process (wrongly) writes too.
//! - **Streams.** Stream versions are 1, 2, 3, ... per stream; `UNIQUE(stream_id,
//!   stream_version)` holds them. A stale expected version is `LogError::Conflict` and
//!   appends nothing.
//! - **Idempotency.** `UNIQUE(event_id)`. A request whose first event id is already stored in
//!   the same stream appends nothing and answers the stored positions with `duplicate: true`,
//!   whatever its expected version. An event id stored in another stream, or a later event id
//!   already stored, is `LogError::DuplicateEventId`.
//! - **Atomic requests.** A request's events are appended all together or not at all; a
//!   failing request (conflict, duplicate id, projector error) is rolled back to its savepoint
//!   and does not affect the other requests of the batch. A batch whose commit fails answers
//!   every request in it with the error; nothing of it is stored.
//! - **Durable answers.** A caller is answered only after the commit; with
//!   `Synchronous::Full` (the default) that commit is fsynced.
//! - **Hash chain.** `hash = SHA-256(prev_hash || SHA-256(canonical bytes))`, the first
//!   `prev_hash` is 32 zero bytes, and the stored JSON text is exactly the text hashed (see
//!   `canonical` and `docs/audit.md`).
//! - **Projections.** A `Projector` runs inside the writer's transaction, per request, so
//!   projections commit with the rows they are built from. On PostgreSQL the `Projector`
//!   runs on the follower into a local file, and a `SharedProjector` keeps tables in the
//!   database itself, inside the append transaction under the append lock (a refused request
//!   leaves its batch; rows it has not seen are folded in first).
//! - **Checkpoints mostly off the commit path.** A checkpoint thread with its own connection
//!   copies the WAL back with PASSIVE checkpoints (which never block the writer) once it
//!   holds 1,000 pages; the writer finishes the job itself past 4,000 pages, so that the WAL
//!   restarts and stays bounded. A failed checkpoint never fails a commit.
//! - **One writer.** Only the writer thread writes; async code never blocks on SQLite (reads
//!   go to tokio's blocking pool, appends to the writer's queue).

mod canonical;
mod checkpoint;
mod error;
mod event;
mod expected;
mod idle;
mod log;
mod options;
pub mod pgtls;
pub mod postgres;
mod prepare;
mod projector;
mod read;
mod schema;
mod store;
mod verify;
mod writer;

pub use canonical::{
    caller_prefix, chain_hash, finish_digest, format_timestamp, row_digest, truncate_to_micros,
    CallerFields, WriterFields, CANONICAL_TAG, GENESIS_HASH, MAX_FIELD_BYTES,
};
pub use error::LogError;
pub use event::{AppendOutcome, AppendRequest, ExpectedVersion, NewEvent, RecordedEvent};
pub use log::{verify_store, EventLog, LocalProjections};
pub use options::{LogOptions, Synchronous};
pub use prepare::{MAX_NAME_BYTES, MAX_STREAM_ID_BYTES};
pub use projector::{Projector, SharedProjector};
pub use schema::{has_events_table, LATEST_SCHEMA_VERSION};
pub use store::{redact, StoreUrl};
pub use verify::{verify_path, BadRow, Checkpoint, Problem, VerifyReport};

/// The last committed row: its position and hash (0 and 32 zero bytes for an empty log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// The last position.
    pub position: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

impl Head {
    /// The head as a checkpoint for a later `verify`.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            position: self.position,
            hash: self.hash,
        }
    }
}

/// Re-exported so that projectors name the same `rusqlite` version as the log.
pub use rusqlite;
