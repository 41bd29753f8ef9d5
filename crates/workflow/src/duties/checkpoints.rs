//! The checkpoint timer: every `checkpoint_interval_secs` (five minutes by default) and once
//! more at shutdown, the head of the log (position, hash, time) is appended to the checkpoint
//! file (`<data-dir>/checkpoints.jsonl` unless `checkpoint_file` says otherwise) with
//! `audit::take_checkpoint`, and published on TICKET_EVENTS as `ticket.events.checkpoint`
//! (a JSON payload, the line of the file; `Nats-Msg-Id` = `checkpoint-<position>`).
//!
//! A checkpoint is not a ticket event and is not in the log: it is a statement about the log,
//! worth as much as the place it is kept. The published copy lets something outside this
//! machine keep it; `Audit.VerifyLog` with `check_checkpoints` compares the log with the file.
//! A head that has not moved since the last checkpoint is not written again, also across a
//! restart: the last checkpoint of the file counts as taken when it names the log's head.

use crate::clock::Clock;
use crate::error::WorkflowError;
use async_nats::jetstream::{self, message::PublishMessage};
use eventlog::EventLog;
use service::duty::Duty;
use service::nats::ConnectionFlag;
use service::shutdown::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The file name of the kept checkpoints inside the data folder, when no other is configured.
pub const CHECKPOINT_FILE: &str = "checkpoints.jsonl";

/// The event-type part of the subject checkpoints are published on.
pub const CHECKPOINT_EVENT_TYPE: &str = "checkpoint";

/// The subject checkpoints are published on: `ticket.events.checkpoint`.
pub fn checkpoint_subject() -> String {
    format!(
        "{}.{CHECKPOINT_EVENT_TYPE}",
        proto::TICKET_EVENTS_SUBJECT_PREFIX
    )
}

/// The `Nats-Msg-Id` of the checkpoint at `position`: the same head published twice within
/// the stream's duplicate window is kept once.
pub fn checkpoint_message_id(position: u64) -> String {
    format!("checkpoint-{position}")
}

/// The checkpoint file of a data folder: `configured`, or `<data-dir>/checkpoints.jsonl`.
pub fn checkpoint_path(data_dir: &Path, configured: Option<&Path>) -> PathBuf {
    configured.map_or_else(|| data_dir.join(CHECKPOINT_FILE), Path::to_path_buf)
}

/// The position of the last checkpoint kept in `path` when it is the log's `head` (same
/// position and hash): a start with no new events then keeps no new checkpoint. `None` when
/// the file is missing, unreadable or behind (a warning says why when it cannot be read).
pub fn kept_head(path: &Path, head: &eventlog::Head) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    let last = match audit::read_checkpoints(path) {
        Ok(kept) => kept.into_iter().last()?,
        Err(error) => {
            tracing::warn!(file = %path.display(), %error, "checkpoint file not readable");
            return None;
        }
    };
    (last.position == head.position && last.hash == head.hash).then_some(last.position)
}

/// The checkpoint timer.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    pub log: EventLog,
    /// Where checkpoints are appended.
    pub path: PathBuf,
    pub clock: Arc<dyn Clock>,
    pub interval: Duration,
    pub context: jetstream::Context,
    pub connected: ConnectionFlag,
    /// How long a publish may wait for its acknowledgement.
    pub publish_timeout: Duration,
}

impl Checkpointer {
    /// Takes a checkpoint of the head when it moved past `last`, appends it to the file and
    /// publishes it. Returns the checkpoint written, if any. A failed publish is logged and
    /// does not fail the checkpoint: the file holds it.
    pub async fn take_once(
        &self,
        last: Option<u64>,
    ) -> Result<Option<audit::Checkpoint>, WorkflowError> {
        let head = self.log.head().position;
        if head == 0 || last == Some(head) {
            return Ok(None);
        }
        let log = self.log.clone();
        let path = self.path.clone();
        let now = self.clock.now();
        let taken = tokio::task::spawn_blocking(move || audit::take_checkpoint(&log, &path, now))
            .await
            .map_err(|error| {
                WorkflowError::Corrupt(format!("checkpoint task failed: {error}"))
            })??;
        if let Some(checkpoint) = &taken {
            tracing::info!(
                position = checkpoint.position,
                hash = %hex::encode(checkpoint.hash),
                file = %self.path.display(),
                "checkpoint kept"
            );
            if let Err(error) = self.publish(checkpoint).await {
                tracing::warn!(position = checkpoint.position, %error, "checkpoint not published");
            }
        }
        Ok(taken)
    }

    /// Publishes one checkpoint on `ticket.events.checkpoint` and waits for its ack.
    async fn publish(&self, checkpoint: &audit::Checkpoint) -> Result<(), String> {
        // Right after the start the connection is usually still being made: wait for it as
        // long as a publish may take rather than give up at once.
        if !self.connected.wait_connected(self.publish_timeout).await {
            return Err("nats is not connected".to_owned());
        }
        let message = PublishMessage::build()
            .payload(checkpoint.to_json_line().into_bytes().into())
            .message_id(checkpoint_message_id(checkpoint.position));
        let ack = self
            .context
            .send_publish(checkpoint_subject(), message)
            .await
            .map_err(|error| format!("publish: {error}"))?;
        tokio::time::timeout(
            self.publish_timeout,
            std::future::IntoFuture::into_future(ack),
        )
        .await
        .map_err(|_| "no acknowledgement in time".to_owned())?
        .map_err(|error| format!("acknowledgement: {error}"))?;
        Ok(())
    }

    /// Runs until `shutdown`: a checkpoint at once, then one every interval, and a last one
    /// when the shutdown comes (the caller triggers it after everything that appends has
    /// stopped, so the last checkpoint is the final head).
    pub async fn run(self, shutdown: Shutdown) {
        // The position of the last checkpoint taken, so that an unchanged head takes none;
        // at the start, the file's last one when it is the head.
        let (path, head) = (self.path.clone(), self.log.head());
        let kept = tokio::task::spawn_blocking(move || kept_head(&path, &head))
            .await
            .unwrap_or(None);
        let last = tokio::sync::Mutex::new(kept);
        Duty::every("checkpoint", self.interval)
            .last_run_on_shutdown()
            .failures_are_errors()
            .run(shutdown, || async {
                let mut last = last.lock().await;
                if let Some(checkpoint) = self.take_once(*last).await? {
                    *last = Some(checkpoint.position);
                }
                Ok::<_, WorkflowError>(())
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_head_counts_as_taken_only_when_it_is_the_head() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(CHECKPOINT_FILE);
        let head = eventlog::Head {
            position: 7,
            hash: [7; 32],
        };
        assert_eq!(kept_head(&path, &head), None, "no file yet");
        let kept = audit::Checkpoint::from_head(&head, chrono::Utc::now());
        audit::append_checkpoint(&path, &kept).expect("append");
        // A restart with no new event: the head is kept already, nothing to write.
        assert_eq!(kept_head(&path, &head), Some(7));
        // New events since: a new checkpoint is due.
        let moved = eventlog::Head {
            position: 8,
            hash: [8; 32],
        };
        assert_eq!(kept_head(&path, &moved), None);
        // The same position with another hash is not the same head.
        let other = eventlog::Head {
            position: 7,
            hash: [9; 32],
        };
        assert_eq!(kept_head(&path, &other), None);
    }

    #[test]
    fn names_follow_the_documented_forms() {
        assert_eq!(checkpoint_subject(), "ticket.events.checkpoint");
        assert_eq!(checkpoint_message_id(1200), "checkpoint-1200");
        let data = Path::new("/var/lib/cloop/workflow");
        assert_eq!(
            checkpoint_path(data, None),
            Path::new("/var/lib/cloop/workflow/checkpoints.jsonl")
        );
        assert_eq!(
            checkpoint_path(data, Some(Path::new("/mnt/worm/cp.jsonl"))),
            Path::new("/mnt/worm/cp.jsonl")
        );
    }
}
