//! Kept checkpoints: the file format, appending and reading it, and verifying a log
//! database against the checkpoints kept elsewhere.
//!
//! A checkpoint file holds one JSON object per line, appended, oldest first:
//!
//! ```json
//! {"position":1200,"hash":"9b1c…(64 hex digits)","recorded_at":"2026-11-23T18:47:00.123456Z"}
//! ```
//!
//! A chain rewritten consistently (every hash recomputed after a changed row) passes the
//! chain check; only a hash written down before the rewrite, somewhere the rewriter could
//! not change, shows it.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use eventlog::{BadRow, EventLog, Head, LogOptions, Problem, StoreUrl, VerifyReport};
use serde::{Deserialize, Serialize};

use crate::error::{io, AuditError};
use crate::source::LogFile;

/// The head of the log at one moment, as written down to be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CheckpointLine", into = "CheckpointLine")]
pub struct Checkpoint {
    /// The position of the row.
    pub position: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// When the checkpoint was taken.
    pub recorded_at: DateTime<Utc>,
}

/// The line form of a checkpoint: the hash in lowercase hex, the instant as the log writes
/// instants.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    position: u64,
    hash: String,
    recorded_at: String,
}

impl From<Checkpoint> for CheckpointLine {
    fn from(checkpoint: Checkpoint) -> Self {
        CheckpointLine {
            position: checkpoint.position,
            hash: hex::encode(checkpoint.hash),
            recorded_at: eventlog::format_timestamp(&checkpoint.recorded_at),
        }
    }
}

impl TryFrom<CheckpointLine> for Checkpoint {
    type Error = String;

    fn try_from(line: CheckpointLine) -> Result<Self, Self::Error> {
        let hash = hex::decode(&line.hash)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| "hash is not 64 hex digits".to_string())?;
        let recorded_at = DateTime::parse_from_rfc3339(&line.recorded_at)
            .map_err(|error| format!("recorded_at: {error}"))?
            .with_timezone(&Utc);
        Ok(Checkpoint {
            position: line.position,
            hash,
            recorded_at,
        })
    }
}

impl Checkpoint {
    /// A checkpoint of the log's head, taken at `recorded_at` (microsecond precision).
    pub fn from_head(head: &Head, recorded_at: DateTime<Utc>) -> Checkpoint {
        Checkpoint {
            position: head.position,
            hash: head.hash,
            recorded_at: eventlog::truncate_to_micros(recorded_at),
        }
    }

    /// The checkpoint in the form `EventLog::verify(Some(..))` takes, to verify only the
    /// rows after it.
    pub fn to_log(&self) -> eventlog::Checkpoint {
        eventlog::Checkpoint {
            position: self.position,
            hash: self.hash,
        }
    }

    /// The checkpoint as one line of a checkpoint file (no newline); also what the workflow
    /// publishes.
    pub fn to_json_line(&self) -> String {
        let line = CheckpointLine::from(*self);
        // A struct of a number and two strings always serialises.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Reads one line of a checkpoint file; `line_number` (from 1) names it in errors.
    pub fn parse_line(text: &str, line_number: usize) -> Result<Checkpoint, AuditError> {
        serde_json::from_str(text.trim()).map_err(|error| AuditError::MalformedCheckpoint {
            line: line_number,
            reason: error.to_string(),
        })
    }
}

/// Appends one checkpoint to a checkpoint file (created if missing) and fsyncs it. A last
/// line left without its newline by a crash is closed first, so it stays one bad line
/// rather than spoiling the new one.
pub fn append_checkpoint(
    path: impl AsRef<Path>,
    checkpoint: &Checkpoint,
) -> Result<(), AuditError> {
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path.as_ref())
        .map_err(io("open checkpoint file"))?;
    let length = file
        .metadata()
        .map_err(io("read checkpoint file size"))?
        .len();
    let mut text = String::new();
    if length > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(length - 1))
            .map_err(io("read checkpoint file"))?;
        file.read_exact(&mut last)
            .map_err(io("read checkpoint file"))?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(&checkpoint.to_json_line());
    text.push('\n');
    file.write_all(text.as_bytes())
        .map_err(io("append checkpoint"))?;
    file.sync_all().map_err(io("sync checkpoint file"))?;
    Ok(())
}

/// Takes a checkpoint of the log's current head at `now` and appends it to the checkpoint
/// file; returns it (to publish it too). What the workflow's checkpoint timer calls, from a
/// blocking thread. An empty log (position 0) is not written down and gives `None`.
pub fn take_checkpoint(
    log: &eventlog::EventLog,
    path: impl AsRef<Path>,
    now: DateTime<Utc>,
) -> Result<Option<Checkpoint>, AuditError> {
    let head = log.head();
    if head.position == 0 {
        return Ok(None);
    }
    let checkpoint = Checkpoint::from_head(&head, now);
    append_checkpoint(path, &checkpoint)?;
    Ok(Some(checkpoint))
}

/// Reads every checkpoint of a checkpoint file, in file order; blank lines are skipped and
/// a malformed line is an error naming it.
pub fn read_checkpoints(path: impl AsRef<Path>) -> Result<Vec<Checkpoint>, AuditError> {
    let file = std::fs::File::open(path.as_ref()).map_err(io("open checkpoint file"))?;
    let mut checkpoints = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io("read checkpoint file"))?;
        if line.trim().is_empty() {
            continue;
        }
        checkpoints.push(Checkpoint::parse_line(&line, index + 1)?);
    }
    Ok(checkpoints)
}

/// What verifying a log database against kept checkpoints found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReport {
    /// The chain check from the first row, as `eventlog::verify_path` reports it.
    pub chain: VerifyReport,
    /// Checkpoints compared with the database.
    pub checkpoints_checked: u64,
    /// The last (highest) checkpoint whose hash the database still has, if any.
    pub last_matching: Option<Checkpoint>,
    /// The first (lowest) checkpoint the database contradicts: its row has another hash, or
    /// no row is stored at its position (rows were cut off the end).
    pub first_mismatch: Option<BadRow>,
    /// Whether the chain verifies and every checkpoint matches.
    pub ok: bool,
}

impl CheckpointReport {
    /// The first problem found: the lower of the chain's first bad row and the first
    /// contradicted checkpoint.
    pub fn first_bad(&self) -> Option<&BadRow> {
        match (&self.chain.first_bad, &self.first_mismatch) {
            (Some(chain), Some(checkpoint)) if checkpoint.position < chain.position => {
                Some(checkpoint)
            }
            (Some(chain), _) => Some(chain),
            (None, checkpoint) => checkpoint.as_ref(),
        }
    }
}

/// Verifies the log database at `db_path`: recomputes the whole chain with
/// `eventlog::verify_path` (reporting `progress(checked, total)`), and compares the stored
/// hash at every kept checkpoint's position with the checkpoint's hash. A chain rewritten
/// consistently passes the first check and fails the second at the first checkpoint taken
/// after the rewritten row; rows cut off the end fail it at the first checkpoint beyond the
/// new head.
pub fn verify_against(
    db_path: impl AsRef<Path>,
    checkpoints: &[Checkpoint],
    progress: impl FnMut(u64, u64),
) -> Result<CheckpointReport, AuditError> {
    verify_store_against(
        &StoreUrl::Sqlite(db_path.as_ref().to_path_buf()),
        checkpoints,
        progress,
    )
}

/// `verify_against` for the log a `--store` value names: a SQLite file (opened read-only)
/// or a PostgreSQL database (read through an `EventLog` handle, the chain recomputed with
/// `eventlog::verify_store`).
pub fn verify_store_against(
    store: &StoreUrl,
    checkpoints: &[Checkpoint],
    progress: impl FnMut(u64, u64),
) -> Result<CheckpointReport, AuditError> {
    let first_mismatch = match store {
        StoreUrl::Sqlite(path) => {
            let file = LogFile::open(path)?;
            compare_checkpoints(checkpoints, |position| file.hash_at(position))?
        }
        StoreUrl::Postgres(url) => {
            let log = EventLog::open_postgres(url, LogOptions::default(), None)?;
            compare_checkpoints(checkpoints, |position| {
                Ok(log
                    .read_all_blocking(position, 1)?
                    .into_iter()
                    .find(|row| row.position == position)
                    .map(|row| row.hash.to_vec()))
            })?
        }
    };
    let (checkpoints_checked, last_matching, first_mismatch) = first_mismatch;
    let chain = eventlog::verify_store(store, None, progress)?;
    let ok = chain.ok && first_mismatch.is_none();
    Ok(CheckpointReport {
        chain,
        checkpoints_checked,
        last_matching,
        first_mismatch,
        ok,
    })
}

/// Compares every checkpoint (lowest first) with the hash `hash_at` reads at its position,
/// up to the first one the log contradicts: how many were compared, the last that matches
/// and the first contradicted.
fn compare_checkpoints(
    checkpoints: &[Checkpoint],
    hash_at: impl Fn(u64) -> Result<Option<Vec<u8>>, AuditError>,
) -> Result<(u64, Option<Checkpoint>, Option<BadRow>), AuditError> {
    let mut sorted: Vec<Checkpoint> = checkpoints.to_vec();
    sorted.sort_by_key(|checkpoint| checkpoint.position);
    let mut checked = 0;
    let mut last_matching: Option<Checkpoint> = None;
    for checkpoint in &sorted {
        checked += 1;
        let stored = if checkpoint.position == 0 {
            Some(eventlog::GENESIS_HASH.to_vec())
        } else {
            hash_at(checkpoint.position)?
        };
        match stored {
            Some(hash) if hash == checkpoint.hash => last_matching = Some(*checkpoint),
            stored => {
                let kept_at = eventlog::format_timestamp(&checkpoint.recorded_at);
                let detail = match stored {
                    None => format!(
                        "no row is stored at position {}, which the checkpoint kept at {kept_at} saw: rows were cut off the end",
                        checkpoint.position
                    ),
                    Some(_) => format!(
                        "the row at position {} does not have the hash of the checkpoint kept at {kept_at}: the chain up to it was rewritten{}",
                        checkpoint.position,
                        last_matching.map_or(String::new(), |matching| format!(
                            " after position {}, where the checkpoint kept at {} still matches",
                            matching.position,
                            eventlog::format_timestamp(&matching.recorded_at)
                        ))
                    ),
                };
                let bad = BadRow {
                    position: checkpoint.position,
                    problem: Problem::CheckpointMismatch,
                    detail,
                };
                return Ok((checked, last_matching, Some(bad)));
            }
        }
    }
    Ok((checked, last_matching, None))
}
