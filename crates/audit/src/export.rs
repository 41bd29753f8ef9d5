//! The JSON Lines export of the log and a second, independent implementation of the hash
//! recipe of `docs/audit.md` that checks an export without the log's code (what an
//! auditor's own tool does).
//!
//! One line per row, in position order, every field as the text that was hashed:
//!
//! ```json
//! {"position":1,"stream_id":"ticket-…","stream_version":1,"event_id":"0194f0d2-…","event_type":"received","schema_version":1,"occurred_at":"2026-11-23T18:47:00.123456Z","recorded_at":"2026-11-23T18:47:00.130211Z","actor":"{…}","correlation_id":"…","causation_id":null,"payload":"{…}","prev_hash":"00…00","hash":"9b1c…"}
//! ```
//!
//! Sealed personal data stays sealed: the payload is the stored text, so an export verifies
//! after an erasure while the erased data stays unreadable.

use std::io::{BufRead, Write};

use eventlog::{BadRow, Problem, VerifyReport};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::error::{io, AuditError};
pub use crate::line::ExportLine;
use crate::source::{RowSource, BATCH_ROWS};

/// Which rows to export: positions `from` to `to`, both included (`to: None` up to the
/// head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionRange {
    /// The first position, at least 1.
    pub from: u64,
    /// The last position, or the head.
    pub to: Option<u64>,
}

impl PositionRange {
    /// The whole log.
    pub fn all() -> PositionRange {
        PositionRange { from: 1, to: None }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Lines written.
    pub rows: u64,
    /// The first and last position written (0 when nothing was written).
    pub first_position: u64,
    /// See `first_position`.
    pub last_position: u64,
    /// The `prev_hash` of the first row written (hex): the hash a verifier starts the chain
    /// from, which should match a kept checkpoint at `first_position - 1`.
    pub chain_start: String,
    /// The hash of the last row written (hex).
    pub last_hash: String,
}

/// Writes rows of `source` in `range` as JSON Lines to `writer`, calling `progress(written,
/// total)` after every batch. The writer is flushed at the end.
pub fn export_jsonl(
    source: &dyn RowSource,
    range: PositionRange,
    writer: &mut dyn Write,
    mut progress: impl FnMut(u64, u64),
) -> Result<ExportSummary, AuditError> {
    if range.from == 0 {
        return Err(AuditError::invalid("from", "positions start at 1"));
    }
    if range.to.is_some_and(|to| to < range.from) {
        return Err(AuditError::invalid("to", "the range ends before it starts"));
    }
    let head = source.head_position()?;
    let last_wanted = range.to.map_or(head, |to| to.min(head));
    let total = (last_wanted + 1).saturating_sub(range.from);
    let mut summary = ExportSummary {
        rows: 0,
        first_position: 0,
        last_position: 0,
        chain_start: String::new(),
        last_hash: String::new(),
    };
    let mut next = range.from;
    let mut finished = false;
    while !finished && next <= last_wanted {
        let lines = source.read_export_lines(next, BATCH_ROWS)?;
        finished = lines.is_empty();
        for line in &lines {
            if line.position > last_wanted {
                finished = true;
                break;
            }
            if summary.rows == 0 {
                summary.first_position = line.position;
                summary.chain_start = line.prev_hash.clone();
            }
            let text = serde_json::to_string(line).map_err(|error| AuditError::MalformedRow {
                position: line.position,
                reason: error.to_string(),
            })?;
            writer
                .write_all(text.as_bytes())
                .and_then(|()| writer.write_all(b"\n"))
                .map_err(io("write export"))?;
            summary.rows += 1;
            summary.last_position = line.position;
            summary.last_hash = line.hash.clone();
            next = line.position + 1;
        }
        if !lines.is_empty() {
            progress(summary.rows, total);
        }
    }
    writer.flush().map_err(io("flush export"))?;
    Ok(summary)
}

/// Where the chain of an export was started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "position")]
pub enum ChainStart {
    /// The export starts at position 1: 32 zero bytes.
    Genesis,
    /// A kept checkpoint at the position before the first line.
    Checkpoint(u64),
    /// Nothing to check the first line's `prev_hash` against: the export is only shown to
    /// be consistent from the position before its first line on.
    Unanchored(u64),
}

/// What checking an export found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportVerifyReport {
    /// The chain check, in the form `eventlog::verify` reports it (`head_position` and
    /// `head_hash` are those of the last line).
    pub chain: VerifyReport,
    /// Where the chain started.
    pub start: ChainStart,
    /// Kept checkpoints inside the exported range whose hash matched.
    pub checkpoints_matched: u64,
    /// Kept checkpoints after the last line: the export is a range, or rows were cut off
    /// the end of the log.
    pub checkpoints_after_end: u64,
}

fn field(hasher: &mut Sha256, text: &str) {
    let length = u32::try_from(text.len()).unwrap_or(u32::MAX);
    hasher.update(length.to_be_bytes());
    hasher.update(text.as_bytes());
}

/// The row digest, written out from `docs/audit.md` on purpose without the log's code.
fn recipe_digest(line: &ExportLine) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let schema_version = line.schema_version.to_string();
    let stream_version = line.stream_version.to_string();
    let position = line.position.to_string();
    for text in [
        "closedloop.eventlog.v1",
        &line.stream_id,
        &line.event_id,
        &line.event_type,
        &schema_version,
        &line.occurred_at,
        &line.actor,
        line.correlation_id.as_deref().unwrap_or(""),
        line.causation_id.as_deref().unwrap_or(""),
        &line.payload,
        &stream_version,
        &position,
        &line.recorded_at,
    ] {
        field(&mut hasher, text);
    }
    hasher.finalize().into()
}

fn recipe_link(prev_hash: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(digest);
    hasher.finalize().into()
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

fn bad(position: u64, problem: Problem, detail: String) -> Option<BadRow> {
    Some(BadRow {
        position,
        problem,
        detail,
    })
}

/// Checks an export read from `reader` with the hash recipe, and every kept checkpoint that
/// falls inside it. The chain starts from 32 zero bytes when the first line is position 1,
/// else from a kept checkpoint at the position before the first line, else (unanchored)
/// from the first line's own `prev_hash`. Only reading `reader` can fail; everything wrong
/// with the content is in the report.
pub fn verify_jsonl(
    reader: impl BufRead,
    checkpoints: &[Checkpoint],
) -> Result<ExportVerifyReport, AuditError> {
    let mut verifier = ExportVerifier::new(checkpoints);
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(io("read export"))?;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(first_bad) = verifier.check_line(index + 1, &line) {
            verifier.report.chain.first_bad = first_bad;
            return Ok(verifier.report);
        }
    }
    Ok(verifier.finish())
}

/// The state of [`verify_jsonl`] between lines.
struct ExportVerifier<'a> {
    /// The kept checkpoints in position order; those before `next_checkpoint` are used.
    kept: Vec<&'a Checkpoint>,
    next_checkpoint: usize,
    report: ExportVerifyReport,
    /// The hash of the last line checked, `None` before the first line.
    chain: Option<[u8; 32]>,
    expected_position: u64,
}

impl<'a> ExportVerifier<'a> {
    fn new(checkpoints: &'a [Checkpoint]) -> Self {
        let mut kept: Vec<&Checkpoint> = checkpoints.iter().collect();
        kept.sort_by_key(|checkpoint| checkpoint.position);
        ExportVerifier {
            kept,
            next_checkpoint: 0,
            report: ExportVerifyReport {
                chain: VerifyReport {
                    checked: 0,
                    head_position: 0,
                    head_hash: eventlog::GENESIS_HASH,
                    ok: false,
                    first_bad: None,
                },
                start: ChainStart::Genesis,
                checkpoints_matched: 0,
                checkpoints_after_end: 0,
            },
            chain: None,
            expected_position: 0,
        }
    }

    /// Checks the line numbered `number` (from 1); `Err` carries the first bad row.
    fn check_line(&mut self, number: usize, line: &str) -> Result<(), Option<BadRow>> {
        let row: ExportLine = serde_json::from_str(line).map_err(|error| {
            bad(
                self.expected_position.max(1),
                Problem::ChangedRow,
                format!("line {number} is not an export row: {error}"),
            )
        })?;
        let previous = match self.chain {
            Some(hash) => hash,
            None => self.start_chain(&row)?,
        };
        self.check_position(number, &row)?;
        let computed = check_hashes(&row, &previous)?;
        self.check_checkpoints(&row, &computed)?;
        self.chain = Some(computed);
        self.report.chain.checked += 1;
        self.report.chain.head_position = row.position;
        self.report.chain.head_hash = computed;
        self.expected_position = row.position + 1;
        Ok(())
    }

    /// The first line decides where the chain starts: the hash it must link to.
    fn start_chain(&mut self, row: &ExportLine) -> Result<[u8; 32], Option<BadRow>> {
        let start_position = row.position.saturating_sub(1);
        self.expected_position = row.position;
        while self
            .kept
            .get(self.next_checkpoint)
            .is_some_and(|checkpoint| checkpoint.position < start_position)
        {
            self.next_checkpoint += 1;
        }
        if start_position == 0 {
            self.report.start = ChainStart::Genesis;
            return Ok(eventlog::GENESIS_HASH);
        }
        if let Some(checkpoint) = self
            .kept
            .get(self.next_checkpoint)
            .filter(|checkpoint| checkpoint.position == start_position)
        {
            self.next_checkpoint += 1;
            self.report.start = ChainStart::Checkpoint(start_position);
            self.report.checkpoints_matched += 1;
            return Ok(checkpoint.hash);
        }
        self.report.start = ChainStart::Unanchored(start_position);
        hex32(&row.prev_hash).ok_or_else(|| {
            bad(
                row.position,
                Problem::ChangedRow,
                format!(
                    "prev_hash at position {} is not 32 bytes of hex",
                    row.position
                ),
            )
        })
    }

    /// The line is the position expected next: no gap, no going back.
    fn check_position(&self, number: usize, row: &ExportLine) -> Result<(), Option<BadRow>> {
        let expected_position = self.expected_position;
        if row.position == expected_position {
            return Ok(());
        }
        Err(if row.position > expected_position {
            bad(
                expected_position,
                Problem::MissingRow,
                format!(
                    "no row at position {expected_position}; the next line is position {}",
                    row.position
                ),
            )
        } else {
            bad(
                expected_position,
                Problem::BrokenLink,
                format!(
                    "line {number} is position {}, out of order where {expected_position} was expected",
                    row.position
                ),
            )
        })
    }

    /// Every kept checkpoint up to the row's position: the one at it must have its hash.
    fn check_checkpoints(
        &mut self,
        row: &ExportLine,
        computed: &[u8; 32],
    ) -> Result<(), Option<BadRow>> {
        while let Some(checkpoint) = self
            .kept
            .get(self.next_checkpoint)
            .filter(|checkpoint| checkpoint.position <= row.position)
        {
            self.next_checkpoint += 1;
            if checkpoint.position < row.position {
                // Before the first line of a range export: nothing to compare it with.
                continue;
            }
            if checkpoint.hash != *computed {
                return Err(bad(
                    row.position,
                    Problem::CheckpointMismatch,
                    format!(
                        "the row at position {} does not have the hash of the checkpoint kept at {}",
                        row.position,
                        eventlog::format_timestamp(&checkpoint.recorded_at)
                    ),
                ));
            }
            self.report.checkpoints_matched += 1;
        }
        Ok(())
    }

    /// The report after the last line: every line checked.
    fn finish(mut self) -> ExportVerifyReport {
        let kept = self.kept.len();
        self.report.checkpoints_after_end = (kept - self.next_checkpoint.min(kept)) as u64;
        self.report.chain.ok = true;
        self.report
    }
}

/// The row links to `previous` and its content matches its hash: the row's hash.
fn check_hashes(row: &ExportLine, previous: &[u8; 32]) -> Result<[u8; 32], Option<BadRow>> {
    if hex32(&row.prev_hash) != Some(*previous) {
        return Err(bad(
            row.position,
            Problem::BrokenLink,
            format!(
                "prev_hash at position {} is not the hash of position {}",
                row.position,
                row.position.saturating_sub(1)
            ),
        ));
    }
    let computed = recipe_link(previous, &recipe_digest(row));
    if hex32(&row.hash) != Some(computed) {
        return Err(bad(
            row.position,
            Problem::ChangedRow,
            format!(
                "the content of position {} does not match its hash",
                row.position
            ),
        ));
    }
    Ok(computed)
}
