//! Verification of the hash chain: rows are read in chunks on several connections, their
//! digests computed in parallel, and the chain then checked sequentially over the digests.

use std::path::Path;
use std::time::Duration;

use rayon::prelude::*;
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical::{chain_hash, row_digest, CallerFields, WriterFields, GENESIS_HASH};
use crate::error::{sqlite, LogError};
use crate::read::{open_read_only, EVENT_COLUMNS};
use crate::schema::has_events_table;
use crate::writer::read_head;

/// Rows read by one task.
const CHUNK_ROWS: u64 = 16_384;

/// How much of the file a verifying connection maps into memory (`PRAGMA mmap_size`; SQLite
/// caps it at its compile-time limit of 2 GB): pages are then read from the mapping instead
/// of being copied by a system call each.
const VERIFY_MMAP_BYTES: i64 = 1 << 31;

/// A trusted point in the chain: the hash the row at `position` had when it was checked
/// (position 0 with 32 zero bytes is the start of the chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The position of the row.
    pub position: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

impl Checkpoint {
    /// The chain's start: position 0 with 32 zero bytes.
    pub const GENESIS: Checkpoint = Checkpoint {
        position: 0,
        hash: GENESIS_HASH,
    };
}

/// What is wrong with the first bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// The row's content does not hash to its stored hash: it was changed.
    ChangedRow,
    /// No row is stored at this position, though later ones are: a row was deleted.
    MissingRow,
    /// The row's `prev_hash` is not the hash of the row before it: rows were reordered,
    /// swapped or replaced with recomputed hashes.
    BrokenLink,
    /// The row at the checkpoint's position does not have the checkpoint's hash (or is
    /// missing).
    CheckpointMismatch,
}

/// The first row at which verification failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    /// Its position.
    pub position: u64,
    /// What is wrong.
    pub problem: Problem,
    /// A sentence for people.
    pub detail: String,
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Rows whose hash was recomputed and found right.
    pub checked: u64,
    /// The last position stored when verification started.
    pub head_position: u64,
    /// The hash stored at that position (32 zero bytes for an empty log).
    pub head_hash: [u8; 32],
    /// True when every row from the start (or the checkpoint) to the head is right.
    pub ok: bool,
    /// The first bad row, when not ok.
    pub first_bad: Option<BadRow>,
}

impl VerifyReport {
    /// The report before any row is checked, of a log whose head is `head_position`.
    pub(crate) fn before_checking(head_position: u64, head_hash: [u8; 32]) -> VerifyReport {
        VerifyReport {
            checked: 0,
            head_position,
            head_hash,
            ok: false,
            first_bad: None,
        }
    }
}

/// One row after its digest was computed.
pub(crate) enum CheckedRow {
    Readable {
        position: u64,
        prev_hash: [u8; 32],
        hash: [u8; 32],
        digest: [u8; 32],
    },
    Malformed {
        position: u64,
        detail: String,
    },
}

/// Verifies the log at `path` from the start or from a checkpoint, calling
/// `progress(checked, total)` after every few hundred thousand rows.
pub fn verify_path(
    path: &Path,
    from: Option<Checkpoint>,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, LogError> {
    let connection = open_read_only(path, Duration::from_secs(5))?;
    if !has_events_table(&connection).map_err(sqlite("read schema"))? {
        return Err(LogError::Corrupt {
            reason: format!("{} has no events table", path.display()),
        });
    }
    let head = read_head(&connection)?;
    let mut report = VerifyReport::before_checking(head.position, head.hash);
    let checkpoint = from.unwrap_or(Checkpoint::GENESIS);
    let stored_at_checkpoint = if checkpoint.position == 0 {
        Some(GENESIS_HASH.to_vec())
    } else {
        connection
            .query_row(
                "SELECT hash FROM events WHERE position = ?1",
                [checkpoint.position],
                |row| row.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map_err(sqlite("read checkpoint row"))?
    };
    if let Some(bad) = checkpoint_mismatch(&checkpoint, stored_at_checkpoint.as_deref()) {
        report.first_bad = Some(bad);
        return Ok(report);
    }
    drop(connection);

    let total = head.position.saturating_sub(checkpoint.position);
    let window_rows = CHUNK_ROWS * 4 * rayon::current_num_threads().max(1) as u64;
    let mut chain = checkpoint.hash;
    let mut expected_position = checkpoint.position + 1;
    let mut window_start = checkpoint.position;
    progress(0, total);
    while window_start < head.position {
        let window_end = head.position.min(window_start + window_rows);
        let chunks: Vec<(u64, u64)> = (window_start..window_end)
            .step_by(CHUNK_ROWS as usize)
            .map(|low| (low, window_end.min(low + CHUNK_ROWS)))
            .collect();
        let checked_chunks = chunks
            .par_iter()
            .map(|&(after, up_to)| check_chunk(path, after, up_to))
            .collect::<Vec<_>>();
        for chunk in checked_chunks {
            for row in chunk? {
                if let Some(bad) = link(&row, &mut chain, &mut expected_position) {
                    report.first_bad = Some(bad);
                    return Ok(report);
                }
                report.checked += 1;
            }
        }
        window_start = window_end;
        progress(report.checked, total);
    }
    report.ok = true;
    Ok(report)
}

/// The problem when the row stored at a checkpoint's position (`stored`: its hash, `None`
/// when there is none) is not the checkpoint's; position 0 is the genesis hash.
pub(crate) fn checkpoint_mismatch(
    checkpoint: &Checkpoint,
    stored: Option<&[u8]>,
) -> Option<BadRow> {
    if stored == Some(&checkpoint.hash[..]) {
        return None;
    }
    Some(BadRow {
        position: checkpoint.position,
        problem: Problem::CheckpointMismatch,
        detail: match stored {
            None => format!(
                "no row is stored at checkpoint position {}",
                checkpoint.position
            ),
            Some(_) => format!(
                "the row at position {} does not have the checkpoint's hash",
                checkpoint.position
            ),
        },
    })
}

/// Checks one row against the chain so far and advances it; returns the problem if any.
pub(crate) fn link(
    row: &CheckedRow,
    chain: &mut [u8; 32],
    expected_position: &mut u64,
) -> Option<BadRow> {
    let position = match row {
        CheckedRow::Readable { position, .. } | CheckedRow::Malformed { position, .. } => *position,
    };
    if position != *expected_position {
        return Some(BadRow {
            position: *expected_position,
            problem: Problem::MissingRow,
            detail: format!(
                "no row at position {expected_position}; the next row is at {position}"
            ),
        });
    }
    match row {
        CheckedRow::Malformed { detail, .. } => Some(BadRow {
            position,
            problem: Problem::ChangedRow,
            detail: detail.clone(),
        }),
        CheckedRow::Readable {
            prev_hash,
            hash,
            digest,
            ..
        } => {
            if prev_hash != chain {
                return Some(BadRow {
                    position,
                    problem: Problem::BrokenLink,
                    detail: format!(
                        "prev_hash at position {position} is not the hash of position {}",
                        position - 1
                    ),
                });
            }
            let recomputed = chain_hash(chain, digest);
            if &recomputed != hash {
                return Some(BadRow {
                    position,
                    problem: Problem::ChangedRow,
                    detail: format!("the content of position {position} does not match its hash"),
                });
            }
            *chain = recomputed;
            *expected_position += 1;
            None
        }
    }
}

/// Reads rows with `after < position <= up_to` on a connection of its own and computes
/// their digests.
fn check_chunk(path: &Path, after: u64, up_to: u64) -> Result<Vec<CheckedRow>, LogError> {
    let connection = open_read_only(path, Duration::from_secs(5))?;
    connection
        .pragma_update_and_check(None, "mmap_size", VERIFY_MMAP_BYTES, |row| {
            row.get::<_, i64>(0)
        })
        .map_err(sqlite("map the log into memory"))?;
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 AND position <= ?2 ORDER BY position"
    );
    let mut statement = connection
        .prepare(&sql)
        .map_err(sqlite("prepare verify read"))?;
    let mut rows = statement
        .query(rusqlite::params![after, up_to])
        .map_err(sqlite("read events to verify"))?;
    let mut checked = Vec::with_capacity((up_to - after) as usize);
    while let Some(row) = rows.next().map_err(sqlite("read events to verify"))? {
        let position: u64 = row.get(0).map_err(sqlite("read position"))?;
        checked.push(
            check_row(position, row)
                .unwrap_or_else(|detail| CheckedRow::Malformed { position, detail }),
        );
    }
    Ok(checked)
}

/// The text of a column, or why it is not text.
fn text<'row>(row: &'row Row<'_>, index: usize, name: &str) -> Result<&'row str, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Text(bytes)) => {
            std::str::from_utf8(bytes).map_err(|_| format!("{name} is not valid UTF-8"))
        }
        _ => Err(format!("{name} is not text")),
    }
}

/// The text of an optional column: `""` for NULL; a stored empty string is malformed.
fn optional_text<'row>(row: &'row Row<'_>, index: usize, name: &str) -> Result<&'row str, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Null) => Ok(""),
        Ok(ValueRef::Text(b"")) => Err(format!("{name} is an empty string")),
        _ => text(row, index, name),
    }
}

fn integer(row: &Row<'_>, index: usize, name: &str) -> Result<u64, String> {
    match row.get_ref(index) {
        Ok(ValueRef::Integer(value)) => {
            u64::try_from(value).map_err(|_| format!("{name} is negative"))
        }
        _ => Err(format!("{name} is not an integer")),
    }
}

fn hash_column(row: &Row<'_>, index: usize, name: &str) -> Result<[u8; 32], String> {
    match row.get_ref(index) {
        Ok(ValueRef::Blob(bytes)) => bytes
            .try_into()
            .map_err(|_| format!("{name} is not 32 bytes")),
        _ => Err(format!("{name} is not a blob")),
    }
}

/// Computes a row's digest from its stored columns.
fn check_row(position: u64, row: &Row<'_>) -> Result<CheckedRow, String> {
    let event_id = match row.get_ref(3) {
        Ok(ValueRef::Blob(bytes)) => {
            Uuid::from_slice(bytes).map_err(|_| "event_id is not 16 bytes".to_string())?
        }
        _ => return Err("event_id is not a blob".to_string()),
    };
    let mut event_id_buffer = Uuid::encode_buffer();
    let event_id_text = event_id.hyphenated().encode_lower(&mut event_id_buffer);
    let schema_version = u32::try_from(integer(row, 5, "schema_version")?)
        .map_err(|_| "schema_version is out of range".to_string())?;
    let caller = CallerFields {
        stream_id: text(row, 1, "stream_id")?,
        event_id: event_id_text,
        event_type: text(row, 4, "event_type")?,
        schema_version,
        occurred_at: text(row, 6, "occurred_at")?,
        actor_json: text(row, 8, "actor")?,
        correlation_id: optional_text(row, 9, "correlation_id")?,
        causation_id: optional_text(row, 10, "causation_id")?,
        payload_json: text(row, 11, "payload")?,
    };
    let writer = WriterFields {
        stream_version: integer(row, 2, "stream_version")?,
        position,
        recorded_at: text(row, 7, "recorded_at")?,
    };
    Ok(CheckedRow::Readable {
        position,
        prev_hash: hash_column(row, 12, "prev_hash")?,
        hash: hash_column(row, 13, "hash")?,
        digest: row_digest(&caller, &writer),
    })
}
