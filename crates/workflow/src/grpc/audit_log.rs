//! The log side of `feedback.v1.Audit`: `ReadEvents` from a position (optionally one stream,
//! optionally following new rows live), `VerifyLog` with an optional check against the kept
//! checkpoints, and `GetTicketAt` by recorded time. `grpc::audit` serves them.
//!
//! Following is gap-free and duplicate-free: the task subscribes to the log's head *before*
//! it reads the backlog, so a row committed while the backlog is being read or sent wakes it
//! up, and it always continues from the position after the last row it sent. Back-pressure:
//! rows go through a bounded channel and are read in bounded batches, so a slow reader makes
//! the task wait, never the server buffer without bound.

use super::convert::log_event_message;
use crate::commands::failure_from_log;
use chrono::{DateTime, Utc};
use eventlog::{EventLog, RecordedEvent};
use proto::v1;
use service::status_from;
use std::path::PathBuf;
use tokio::sync::mpsc;
use tonic::Status;

/// Rows read from the log per batch while streaming.
pub const READ_BATCH: usize = 1_000;
/// Rows waiting in the channel to a slow reader at most.
pub const CHANNEL_ROWS: usize = 512;

/// What one `ReadEvents` call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEventsQuery {
    /// The first position to send (0 and 1 both mean the beginning).
    pub from_position: u64,
    /// Only this stream's rows.
    pub stream_id: Option<String>,
    /// Keep sending new rows as they are recorded.
    pub follow: bool,
    /// At most this many rows (`None`: no limit); ignored when following.
    pub limit: Option<u64>,
}

impl ReadEventsQuery {
    /// The query of a request: a blank stream id means every stream.
    pub fn from_request(request: &v1::ReadEventsRequest) -> Self {
        Self {
            from_position: request.from_position.max(1),
            stream_id: request
                .stream_id
                .as_ref()
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty()),
            follow: request.follow,
            limit: (!request.follow && request.limit > 0).then_some(request.limit),
        }
    }
}

/// Starts the task that streams the rows of `query` into a bounded channel and returns the
/// receiving end. The task ends when the rows (or the limit) are done and `follow` is off,
/// when the receiver is dropped, or on a read error (sent as the last item).
pub fn read_events(
    log: EventLog,
    query: ReadEventsQuery,
) -> mpsc::Receiver<Result<v1::ReadEventsResponse, Status>> {
    let (sender, receiver) = mpsc::channel(CHANNEL_ROWS);
    tokio::spawn(async move {
        if let Err(status) = stream_rows(&log, &query, &sender).await {
            let _ = sender.send(Err(status)).await;
        }
    });
    receiver
}

/// Sends the rows of `query`; returns when done or when the receiver went away.
async fn stream_rows(
    log: &EventLog,
    query: &ReadEventsQuery,
    sender: &mpsc::Sender<Result<v1::ReadEventsResponse, Status>>,
) -> Result<(), Status> {
    // Subscribed before the first read: every commit from now on is seen by `changed`.
    let mut head = log.subscribe();
    let mut next_position = query.from_position;
    // Within one stream the rows are read by version; 0 until the first row is known.
    let mut next_version = 0u64;
    let mut remaining = query.limit.unwrap_or(u64::MAX);
    loop {
        let seen_head = *head.borrow_and_update();
        let rows = read_batch(log, query, next_position, &mut next_version).await?;
        let exhausted = rows.len() < READ_BATCH;
        for row in &rows {
            if remaining == 0 {
                return Ok(());
            }
            let item = v1::ReadEventsResponse {
                event: Some(log_event_message(row)),
            };
            if sender.send(Ok(item)).await.is_err() {
                return Ok(());
            }
            remaining -= 1;
            next_position = row.position + 1;
            next_version = row.stream_version + 1;
        }
        if remaining == 0 {
            return Ok(());
        }
        if !exhausted {
            continue;
        }
        if !query.follow {
            return Ok(());
        }
        // Caught up with what was committed when the read began: wait for a newer head,
        // unless one came while reading (then read again at once).
        if *head.borrow() == seen_head {
            tokio::select! {
                changed = head.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                _ = sender.closed() => return Ok(()),
            }
        }
    }
}

/// The next rows at or after `next_position` (of one stream: at or after `next_version`,
/// which is found from the position on the first read).
async fn read_batch(
    log: &EventLog,
    query: &ReadEventsQuery,
    next_position: u64,
    next_version: &mut u64,
) -> Result<Vec<RecordedEvent>, Status> {
    let read = match &query.stream_id {
        None => log.read_all(next_position, READ_BATCH).await,
        Some(stream_id) => {
            let rows = log.read_stream(stream_id, *next_version).await;
            rows.map(|rows| {
                let mut rows: Vec<RecordedEvent> = rows
                    .into_iter()
                    .filter(|row| row.position >= next_position)
                    .collect();
                if let Some(first) = rows.first() {
                    *next_version = first.stream_version;
                }
                rows.truncate(READ_BATCH);
                rows
            })
        }
    };
    read.map_err(|error| status_from(failure_from_log(error)))
}

/// What `VerifyLog` answers, with the checkpoint figures when asked.
pub async fn verify_log(
    log: &EventLog,
    checkpoint_file: Option<PathBuf>,
) -> Result<v1::VerifyLogResponse, Status> {
    let Some(file) = checkpoint_file else {
        let report = log
            .verify_in_background(None)
            .await
            .map_err(|error| status_from(failure_from_log(error)))?;
        return Ok(v1::VerifyLogResponse {
            events_checked: report.checked,
            head_position: report.head_position,
            head_hash: hex::encode(report.head_hash),
            ok: report.ok,
            first_bad_position: report.first_bad.as_ref().map(|bad| bad.position),
            problem: report.first_bad.map(|bad| bad.detail).unwrap_or_default(),
            checkpoints_checked: 0,
            last_matching_checkpoint: None,
        });
    };
    let store = log.store().clone();
    let report = tokio::task::spawn_blocking(move || {
        let checkpoints = if file.exists() {
            audit::read_checkpoints(&file)?
        } else {
            Vec::new()
        };
        audit::verify_store_against(&store, &checkpoints, |_, _| {})
    })
    .await
    .map_err(|error| Status::internal(format!("verify task failed: {error}")))?
    .map_err(|error| {
        Status::internal(format!("verify the log against its checkpoints: {error}"))
    })?;
    let first_bad = report.first_bad().cloned();
    Ok(v1::VerifyLogResponse {
        events_checked: report.chain.checked,
        head_position: report.chain.head_position,
        head_hash: hex::encode(report.chain.head_hash),
        ok: report.ok,
        first_bad_position: first_bad.as_ref().map(|bad| bad.position),
        problem: first_bad.map(|bad| bad.detail).unwrap_or_default(),
        checkpoints_checked: report.checkpoints_checked,
        last_matching_checkpoint: report.last_matching.map(|checkpoint| checkpoint.position),
    })
}

/// The ticket as it stood at `at`: its events **recorded** at or before that instant, folded
/// (`audit::ticket_at_in`), with sealed personal data opened by `vault`. `None` when the
/// ticket did not exist yet.
pub async fn ticket_at(
    log: &EventLog,
    vault: Option<std::sync::Arc<vault::Vault>>,
    ticket_id: String,
    at: DateTime<Utc>,
) -> Result<Option<audit::TicketAt>, Status> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || audit::ticket_at_in(&log, &ticket_id, at, vault.as_deref()))
        .await
        .map_err(|error| Status::internal(format!("fold task failed: {error}")))?
        .map_err(|error| Status::internal(format!("fold the ticket: {error}")))
}
