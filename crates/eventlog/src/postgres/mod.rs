//! The PostgreSQL backend of the log: the same envelope, constraints, append-only triggers
//! and hash chain as the SQLite one, for installations that outgrow one file and one process.
//!
//! How it keeps the log's invariants with several writers (processes) on one database:
//!
//! - **Commit-ordered, gap-free positions.** Every append transaction first takes the
//!   transaction-level advisory lock [`APPEND_LOCK`], then reads the head and numbers its rows
//!   from it. The lock is released only after the commit is visible, so the next writer reads
//!   a head that includes it: positions are 1, 2, 3… in commit order, and a reader that
//!   follows `position > n` can never see `n + 2` committed before `n + 1` (the gap problem
//!   of sequence-numbered stores, where a sequence value is taken before a slow commit).
//!   The price is one appending transaction at a time across all writers; each writer groups
//!   what is queued into one transaction, so the lock is taken once per batch, not per event.
//! - **Checks in memory under the lock.** While the lock is held nobody else appends, so the
//!   writer looks up every event id and stream version of the batch in two queries, decides
//!   conflicts and repeats in memory and inserts all accepted rows in one statement. The
//!   UNIQUE constraints stay as the last line of defence.
//! - **Followers.** Each handle runs a follower thread that reads rows past the position it
//!   has seen (woken by `NOTIFY` from any writer, and every 250 ms in any case), feeds them to
//!   the projector in a local SQLite file, and only then moves the handle's head: `head`,
//!   `subscribe` and `wait_for` mean "what this handle's projections include". An append is
//!   answered once its rows are committed in PostgreSQL and projected locally, so a caller
//!   reads its own writes on the same handle.

pub(crate) mod follower;
mod writer;

use postgres::{Client, Row};
use uuid::Uuid;

use crate::canonical::{chain_hash, parse_timestamp, row_digest, CallerFields, WriterFields};
use crate::error::{pg, LogError};
use crate::event::RecordedEvent;
use crate::idle::IdleConnections;
use crate::verify::{checkpoint_mismatch, link, CheckedRow};
use crate::{BadRow, Checkpoint, Head, Problem, VerifyReport, GENESIS_HASH};

pub(crate) use follower::{start_follower, Pending};
pub(crate) use writer::{catch_up, PgWriter};

/// The advisory lock every append (and import) transaction holds: ASCII "cloopapp".
pub(crate) const APPEND_LOCK: i64 = 0x636c_6f6f_7061_7070;
/// The advisory lock schema migrations hold: ASCII "cloopmig".
const MIGRATION_LOCK: i64 = 0x636c_6f6f_706d_6967;
/// The channel writers notify after each commit.
pub(crate) const CHANNEL: &str = "cloop_events";

/// The columns of `events` in the order [`row_to_event`] reads them.
pub(crate) const EVENT_COLUMNS: &str =
    "position, stream_id, stream_version, event_id, event_type, \
     schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, payload, \
     prev_hash, hash";

/// Every migration of the PostgreSQL schema, oldest first. Never edit one that has shipped.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "create events",
    r#"
CREATE TABLE events (
    position        BIGINT  PRIMARY KEY CHECK (position > 0),
    stream_id       TEXT    NOT NULL,
    stream_version  BIGINT  NOT NULL CHECK (stream_version > 0),
    event_id        UUID    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 0),
    occurred_at     TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    payload         TEXT    NOT NULL,
    prev_hash       BYTEA   NOT NULL CHECK (length(prev_hash) = 32),
    hash            BYTEA   NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version),
    UNIQUE (event_id)
);
CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', lower(TG_OP);
END
$$;
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_are_never_truncated BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();
"#,
)];

/// Runs blocking PostgreSQL work. The `postgres` client drives its connection on a runtime of
/// its own and panics when called from inside a tokio runtime, so there the work runs on a
/// scoped thread of its own; elsewhere it runs in place.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() || ON_BLOCKING_POOL.get() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

thread_local! {
    /// True while this thread runs work for [`on_blocking_pool`] (tokio's blocking pool, where
    /// blocking is allowed although a runtime handle is set).
    static ON_BLOCKING_POOL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work`, which is already on tokio's blocking pool (where the blocking PostgreSQL
/// client may run), so that the PostgreSQL calls inside it run in place instead of on a
/// thread of their own.
pub fn on_blocking_pool<T>(work: impl FnOnce() -> T) -> T {
    let before = ON_BLOCKING_POOL.replace(true);
    let result = work();
    ON_BLOCKING_POOL.set(before);
    result
}

/// Connects to the database.
pub(crate) fn connect(url: &str) -> Result<Client, LogError> {
    crate::pgtls::connect(url)
}

/// Begins a transaction (`begin` naming it in errors) that holds the append lock until it
/// ends: appends are serialised by it.
pub(crate) fn append_transaction<'a>(
    client: &'a mut Client,
    begin: &'static str,
) -> Result<postgres::Transaction<'a>, LogError> {
    let mut transaction = client.transaction().map_err(pg(begin))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])
        .map_err(pg("take the append lock"))?;
    Ok(transaction)
}

/// Creates `schema_migrations` if needed and applies the missing migrations, under an
/// advisory lock so that replicas starting together do not race.
pub(crate) fn migrate(client: &mut Client) -> Result<(), LogError> {
    let mut transaction = client.transaction().map_err(pg("begin migration"))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg("lock for migration"))?;
    transaction
        .batch_execute(crate::schema::SCHEMA_MIGRATIONS_TABLE)
        .map_err(pg("create schema_migrations"))?;
    let current: i32 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(pg("read schema version"))?;
    let latest = i32::try_from(crate::LATEST_SCHEMA_VERSION).unwrap_or(i32::MAX);
    if current > latest {
        return Err(LogError::Corrupt {
            reason: format!(
                "database schema version {current} is newer than this build's {latest}"
            ),
        });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|(version, ..)| *version > current) {
        transaction
            .batch_execute(sql)
            .map_err(pg("apply migration"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[
                    version,
                    name,
                    &crate::canonical::format_timestamp(&chrono::Utc::now()),
                ],
            )
            .map_err(pg("record migration"))?;
    }
    transaction.commit().map_err(pg("commit migration"))
}

/// The last row's position and hash (0 and the genesis hash for an empty log).
pub(crate) fn read_head(client: &mut impl postgres::GenericClient) -> Result<Head, LogError> {
    let row = client
        .query_opt(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1",
            &[],
        )
        .map_err(pg("read head"))?;
    match row {
        None => Ok(Head {
            position: 0,
            hash: GENESIS_HASH,
        }),
        Some(row) => {
            let position = position_of(&row, 0)?;
            let hash: Vec<u8> = row.try_get(1).map_err(pg("read head"))?;
            Ok(Head {
                position,
                hash: to_hash(hash, position, "hash")?,
            })
        }
    }
}

fn position_of(row: &Row, index: usize) -> Result<u64, LogError> {
    let value: i64 = row.try_get(index).map_err(pg("read a position"))?;
    u64::try_from(value).map_err(|_| LogError::Corrupt {
        reason: format!("negative position {value}"),
    })
}

fn to_hash(bytes: Vec<u8>, position: u64, what: &str) -> Result<[u8; 32], LogError> {
    bytes.try_into().map_err(|_| LogError::Corrupt {
        reason: format!("{what} at position {position} is not 32 bytes"),
    })
}

/// Converts a row of [`EVENT_COLUMNS`] into a `RecordedEvent`.
pub(crate) fn row_to_event(row: &Row) -> Result<RecordedEvent, LogError> {
    let position = position_of(row, 0)?;
    let corrupt = |what: &str| LogError::Corrupt {
        reason: format!("{what} at position {position} is malformed"),
    };
    let read = pg("read an event");
    let stream_version: i64 = row.try_get(2).map_err(pg("read an event"))?;
    let schema_version: i32 = row.try_get(5).map_err(pg("read an event"))?;
    let occurred_at: &str = row.try_get(6).map_err(pg("read an event"))?;
    let recorded_at: &str = row.try_get(7).map_err(pg("read an event"))?;
    Ok(RecordedEvent {
        position,
        stream_id: row.try_get(1).map_err(pg("read an event"))?,
        stream_version: u64::try_from(stream_version).map_err(|_| corrupt("stream_version"))?,
        event_id: row.try_get::<_, Uuid>(3).map_err(pg("read an event"))?,
        event_type: row.try_get(4).map_err(pg("read an event"))?,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("schema_version"))?,
        occurred_at: parse_timestamp(occurred_at).ok_or_else(|| corrupt("occurred_at"))?,
        recorded_at: parse_timestamp(recorded_at).ok_or_else(|| corrupt("recorded_at"))?,
        actor_json: row.try_get(8).map_err(pg("read an event"))?,
        correlation_id: row.try_get(9).map_err(pg("read an event"))?,
        causation_id: row.try_get(10).map_err(pg("read an event"))?,
        payload_json: row.try_get(11).map_err(read)?,
        prev_hash: to_hash(
            row.try_get(12).map_err(pg("read an event"))?,
            position,
            "prev_hash",
        )?,
        hash: to_hash(
            row.try_get(13).map_err(pg("read an event"))?,
            position,
            "hash",
        )?,
    })
}

/// A few idle connections, reused across reads.
pub struct PgPool {
    url: String,
    idle: IdleConnections<Client>,
}

impl PgPool {
    pub fn new(url: String, max_idle: usize) -> Self {
        PgPool {
            url,
            idle: IdleConnections::new(max_idle),
        }
    }

    /// Runs `work` on an idle connection (or a new one); keeps the connection unless it broke.
    pub fn with_client<T: Send>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, LogError> + Send,
    ) -> Result<T, LogError> {
        off_runtime(|| self.with_client_here(work))
    }

    fn with_client_here<T>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let mut client = match self.idle.take() {
            Some(client) if !client.is_closed() => client,
            _ => connect(&self.url)?,
        };
        let result = work(&mut client);
        if !client.is_closed() {
            self.idle.keep(client);
        }
        result
    }
}

/// The blocking client ends its session with a runtime of its own, which panics on a thread
/// that drives async tasks (where the last `EventLog` handle is often dropped): there, idle
/// connections are closed on a scoped thread of their own.
impl Drop for PgPool {
    fn drop(&mut self) {
        let idle = self.idle.take_all();
        if !idle.is_empty() {
            off_runtime(move || drop(idle));
        }
    }
}

/// The hash stored at `position`, if a row is stored there; `action` names the read in
/// errors.
fn stored_hash(
    client: &mut impl postgres::GenericClient,
    position: u64,
    action: &'static str,
) -> Result<Option<Vec<u8>>, LogError> {
    client
        .query_opt(
            "SELECT hash FROM events WHERE position = $1",
            &[&i64::try_from(position).unwrap_or(i64::MAX)],
        )
        .map_err(pg(action))?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(pg(action))
}

/// Events of one stream with version ≥ `from_version`, in version order.
pub(crate) fn read_stream(
    client: &mut Client,
    stream_id: &str,
    from_version: u64,
) -> Result<Vec<RecordedEvent>, LogError> {
    let from = i64::try_from(from_version).unwrap_or(i64::MAX);
    query_events(
        client,
        "stream_id = $1 AND stream_version >= $2 ORDER BY stream_version",
        &[&stream_id, &from],
        "read a stream",
    )
}

/// At most `limit` events with position ≥ `from_position`, in position order.
pub(crate) fn read_all(
    client: &mut Client,
    from_position: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, LogError> {
    let from = i64::try_from(from_position).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    query_events(
        client,
        "position >= $1 ORDER BY position LIMIT $2",
        &[&from, &limit],
        "read events",
    )
}

/// The events that `selection` (what follows `WHERE`) picks, in its order.
fn query_events(
    client: &mut Client,
    selection: &str,
    parameters: &[&(dyn postgres::types::ToSql + Sync)],
    action: &'static str,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE {selection}");
    client
        .query(sql.as_str(), parameters)
        .map_err(pg(action))?
        .iter()
        .map(row_to_event)
        .collect()
}

/// The event stored under an event id, if any.
pub(crate) fn read_event(
    client: &mut Client,
    event_id: &Uuid,
) -> Result<Option<RecordedEvent>, LogError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = $1");
    client
        .query_opt(sql.as_str(), &[event_id])
        .map_err(pg("read an event"))?
        .as_ref()
        .map(row_to_event)
        .transpose()
}

/// The highest committed position in the database.
pub(crate) fn committed_position(client: &mut Client) -> Result<u64, LogError> {
    Ok(read_head(client)?.position)
}

/// Rows read per query while verifying.
const VERIFY_CHUNK_ROWS: i64 = 20_000;

/// Verifies the chain of the log in the database at `url`, from the start or a checkpoint,
/// calling `progress(checked, total)` after each chunk. Rows are read in position order in
/// chunks; each chunk's digests are computed on rayon's threads while the next is read.
///
/// Callable from async code too (the work then runs on a thread of its own), though it blocks
/// the caller until the chain is checked.
pub fn verify_postgres(
    url: &str,
    from: Option<Checkpoint>,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, LogError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return verify_here(url, from, progress);
    }
    // Inside a runtime: verify on a thread of its own and report progress from here.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            verify_here(url, from, |checked, total| {
                let _ = sender.send((checked, total));
            })
        });
        for (checked, total) in receiver {
            progress(checked, total);
        }
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn verify_here(
    url: &str,
    from: Option<Checkpoint>,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, LogError> {
    use rayon::prelude::*;
    let mut client = connect(url)?;
    let has_events: bool = client
        .query_one("SELECT to_regclass('events') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(pg("read schema"))?;
    if !has_events {
        return Err(LogError::Corrupt {
            reason: format!("{} has no events table", crate::store::redact(url)),
        });
    }
    let head = read_head(&mut client)?;
    let mut report = VerifyReport::before_checking(head.position, head.hash);
    let checkpoint = from.unwrap_or(Checkpoint::GENESIS);
    let stored_at_checkpoint: Option<Vec<u8>> = if checkpoint.position == 0 {
        Some(GENESIS_HASH.to_vec())
    } else {
        stored_hash(&mut client, checkpoint.position, "read checkpoint row")?
    };
    if let Some(bad) = checkpoint_mismatch(&checkpoint, stored_at_checkpoint.as_deref()) {
        report.first_bad = Some(bad);
        return Ok(report);
    }
    let total = head.position.saturating_sub(checkpoint.position);
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
         ORDER BY position LIMIT $3"
    );
    let statement = client
        .prepare(sql.as_str())
        .map_err(pg("prepare verify read"))?;
    let head_position = i64::try_from(head.position).unwrap_or(i64::MAX);
    let mut chain = checkpoint.hash;
    let mut expected_position = checkpoint.position + 1;
    let mut after = i64::try_from(checkpoint.position).unwrap_or(i64::MAX);
    progress(0, total);
    let mut rows = client
        .query(&statement, &[&after, &head_position, &VERIFY_CHUNK_ROWS])
        .map_err(pg("read events to verify"))?;
    while !rows.is_empty() {
        let last = rows
            .last()
            .map(|row| row.try_get::<_, i64>(0))
            .transpose()
            .map_err(pg("read events to verify"))?
            .unwrap_or(after);
        after = last;
        // Digest this chunk on rayon's threads while the next one is read.
        let (checked, next) = rayon::join(
            || rows.par_iter().map(check_row).collect::<Vec<_>>(),
            || {
                if last >= head_position {
                    Ok(Vec::new())
                } else {
                    client
                        .query(&statement, &[&after, &head_position, &VERIFY_CHUNK_ROWS])
                        .map_err(pg("read events to verify"))
                }
            },
        );
        for row in &checked {
            if let Some(bad) = link(row, &mut chain, &mut expected_position) {
                report.first_bad = Some(bad);
                return Ok(report);
            }
            report.checked += 1;
        }
        progress(report.checked, total);
        rows = next?;
    }
    if expected_position <= head.position {
        report.first_bad = Some(BadRow {
            position: expected_position,
            problem: Problem::MissingRow,
            detail: format!("no row at position {expected_position}"),
        });
        return Ok(report);
    }
    report.ok = true;
    Ok(report)
}

/// Computes one row's digest from its stored columns.
fn check_row(row: &Row) -> CheckedRow {
    let position = row
        .try_get::<_, i64>(0)
        .ok()
        .and_then(|value| u64::try_from(value).ok())
        .unwrap_or(0);
    checked_fields(row, position)
        .unwrap_or_else(|detail| CheckedRow::Malformed { position, detail })
}

fn checked_fields(row: &Row, position: u64) -> Result<CheckedRow, String> {
    let text = |index: usize, name: &str| -> Result<&str, String> {
        row.try_get::<_, &str>(index)
            .map_err(|_| format!("{name} is not text"))
    };
    let optional = |index: usize, name: &str| -> Result<&str, String> {
        match row.try_get::<_, Option<&str>>(index) {
            Ok(None) => Ok(""),
            Ok(Some("")) => Err(format!("{name} is an empty string")),
            Ok(Some(value)) => Ok(value),
            Err(_) => Err(format!("{name} is not text")),
        }
    };
    let hash = |index: usize, name: &str| -> Result<[u8; 32], String> {
        row.try_get::<_, &[u8]>(index)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| format!("{name} is not 32 bytes"))
    };
    let event_id: Uuid = row
        .try_get(3)
        .map_err(|_| "event_id is not a uuid".to_string())?;
    let mut event_id_buffer = Uuid::encode_buffer();
    let event_id_text = event_id.hyphenated().encode_lower(&mut event_id_buffer);
    let schema_version = row
        .try_get::<_, i32>(5)
        .ok()
        .and_then(|value| u32::try_from(value).ok())
        .ok_or_else(|| "schema_version is out of range".to_string())?;
    let stream_version = row
        .try_get::<_, i64>(2)
        .ok()
        .and_then(|value| u64::try_from(value).ok())
        .ok_or_else(|| "stream_version is out of range".to_string())?;
    let caller = CallerFields {
        stream_id: text(1, "stream_id")?,
        event_id: event_id_text,
        event_type: text(4, "event_type")?,
        schema_version,
        occurred_at: text(6, "occurred_at")?,
        actor_json: text(8, "actor")?,
        correlation_id: optional(9, "correlation_id")?,
        causation_id: optional(10, "causation_id")?,
        payload_json: text(11, "payload")?,
    };
    let writer = WriterFields {
        stream_version,
        position,
        recorded_at: text(7, "recorded_at")?,
    };
    Ok(CheckedRow::Readable {
        position,
        prev_hash: hash(12, "prev_hash")?,
        hash: hash(13, "hash")?,
        digest: row_digest(&caller, &writer),
    })
}

/// Recomputes a recorded event's hash from its fields and the previous hash.
pub(crate) fn recompute_hash(event: &RecordedEvent, prev_hash: &[u8; 32]) -> [u8; 32] {
    let event_id = event.event_id.hyphenated().to_string();
    let occurred_at = crate::canonical::format_timestamp(&event.occurred_at);
    let recorded_at = crate::canonical::format_timestamp(&event.recorded_at);
    let caller = CallerFields {
        stream_id: &event.stream_id,
        event_id: &event_id,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        occurred_at: &occurred_at,
        actor_json: &event.actor_json,
        correlation_id: event.correlation_id.as_deref().unwrap_or(""),
        causation_id: event.causation_id.as_deref().unwrap_or(""),
        payload_json: &event.payload_json,
    };
    let writer = WriterFields {
        stream_version: event.stream_version,
        position: event.position,
        recorded_at: &recorded_at,
    };
    chain_hash(prev_hash, &row_digest(&caller, &writer))
}

/// Rows inserted per statement while importing.
const IMPORT_CHUNK_ROWS: usize = 1_000;

/// Inserts imported rows verbatim, one array per column.
const IMPORT_ROWS: &str = "INSERT INTO events (position, stream_id, stream_version, event_id, \
     event_type, schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, \
     payload, prev_hash, hash) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], \
     $4::uuid[], $5::text[], $6::integer[], $7::text[], $8::text[], $9::text[], $10::text[], \
     $11::text[], $12::text[], $13::bytea[], $14::bytea[])";

/// Appends rows recorded elsewhere verbatim after the head, under the append lock, checking
/// that each continues the chain; rows already stored with the same hash are skipped.
pub(crate) fn import(client: &mut Client, rows: &[RecordedEvent]) -> Result<Head, LogError> {
    let mut transaction = append_transaction(client, "begin import")?;
    let mut head = read_head(&mut transaction)?;
    let mut fresh = Vec::with_capacity(rows.len());
    for row in rows {
        if row.position <= head.position {
            check_already_stored(&mut transaction, row)?;
            continue;
        }
        check_continues(row, &head)?;
        head = Head {
            position: row.position,
            hash: row.hash,
        };
        fresh.push(row);
    }
    if !fresh.is_empty() {
        let statement = transaction
            .prepare(IMPORT_ROWS)
            .map_err(pg("prepare import"))?;
        for chunk in fresh.chunks(IMPORT_CHUNK_ROWS) {
            insert_imported(&mut transaction, &statement, chunk)?;
        }
        transaction
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANNEL, &head.position.to_string()],
            )
            .map_err(pg("notify followers"))?;
    }
    transaction.commit().map_err(pg("commit import"))?;
    Ok(head)
}

/// An imported row at or before the head must be the row stored there, hash for hash.
fn check_already_stored(
    transaction: &mut postgres::Transaction<'_>,
    row: &RecordedEvent,
) -> Result<(), LogError> {
    let stored = stored_hash(transaction, row.position, "compare an imported row")?;
    if stored.as_deref() != Some(&row.hash[..]) {
        return Err(LogError::Corrupt {
            reason: format!(
                "position {} is already stored in the target with another hash: the \
                 target holds a different log",
                row.position
            ),
        });
    }
    Ok(())
}

/// An imported row after the head must follow it, link to it and match its own hash.
fn check_continues(row: &RecordedEvent, head: &Head) -> Result<(), LogError> {
    if row.position != head.position + 1 {
        return Err(LogError::invalid(
            "rows",
            format!(
                "position {} does not follow the target's head {}",
                row.position, head.position
            ),
        ));
    }
    if row.prev_hash != head.hash {
        return Err(LogError::Corrupt {
            reason: format!(
                "prev_hash at position {} is not the hash of position {}",
                row.position, head.position
            ),
        });
    }
    if recompute_hash(row, &head.hash) != row.hash {
        return Err(LogError::Corrupt {
            reason: format!(
                "the content of position {} does not match its hash",
                row.position
            ),
        });
    }
    Ok(())
}

/// Inserts one chunk of imported rows verbatim with [`IMPORT_ROWS`].
fn insert_imported(
    transaction: &mut postgres::Transaction<'_>,
    statement: &postgres::Statement,
    chunk: &[&RecordedEvent],
) -> Result<(), LogError> {
    let to_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let position: Vec<i64> = chunk.iter().map(|row| to_i64(row.position)).collect();
    let stream_id: Vec<&str> = chunk.iter().map(|row| row.stream_id.as_str()).collect();
    let version: Vec<i64> = chunk.iter().map(|row| to_i64(row.stream_version)).collect();
    let event_id: Vec<Uuid> = chunk.iter().map(|row| row.event_id).collect();
    let event_type: Vec<&str> = chunk.iter().map(|row| row.event_type.as_str()).collect();
    let schema_version: Vec<i32> = chunk
        .iter()
        .map(|row| i32::try_from(row.schema_version).unwrap_or(i32::MAX))
        .collect();
    let occurred_at: Vec<String> = chunk
        .iter()
        .map(|row| crate::canonical::format_timestamp(&row.occurred_at))
        .collect();
    let recorded_at: Vec<String> = chunk
        .iter()
        .map(|row| crate::canonical::format_timestamp(&row.recorded_at))
        .collect();
    let actor: Vec<&str> = chunk.iter().map(|row| row.actor_json.as_str()).collect();
    let correlation_id: Vec<Option<&str>> = chunk
        .iter()
        .map(|row| row.correlation_id.as_deref())
        .collect();
    let causation_id: Vec<Option<&str>> = chunk
        .iter()
        .map(|row| row.causation_id.as_deref())
        .collect();
    let payload: Vec<&str> = chunk.iter().map(|row| row.payload_json.as_str()).collect();
    let prev_hash: Vec<&[u8]> = chunk.iter().map(|row| &row.prev_hash[..]).collect();
    let hash: Vec<&[u8]> = chunk.iter().map(|row| &row.hash[..]).collect();
    transaction
        .execute(
            statement,
            &[
                &position,
                &stream_id,
                &version,
                &event_id,
                &event_type,
                &schema_version,
                &occurred_at,
                &recorded_at,
                &actor,
                &correlation_id,
                &causation_id,
                &payload,
                &prev_hash,
                &hash,
            ],
        )
        .map_err(pg("import rows"))?;
    Ok(())
}
