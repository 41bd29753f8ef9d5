//! The hand-off of committed rows from the writer to the relay, in memory: after each commit
//! that added rows, the writer passes them on (sequence number, subject, payload, feedback id)
//! so that the relay publishes them without reading them back.
//!
//! The hand-off is bounded (in rows). When it is full (the relay fell behind, or no relay
//! takes it) the writer drops the batch: the rows are committed, so the relay finds them with
//! its read of the outbox. Every batch says which row was committed last before it
//! ([`Committed::after`]), and the writer publishes the last sequence number committed
//! ([`RowFeed::last_committed`]): a receiver that took every row up to its cursor sees a
//! dropped batch as a batch whose `after` is beyond its cursor, or as a cursor behind the last
//! committed row once the hand-off is empty.

use super::OutboxRow;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Rows the hand-off holds at most by default.
pub const DEFAULT_HANDOFF_ROWS: usize = 8_192;

/// One committed batch of new rows, in sequence order.
#[derive(Debug)]
pub struct Committed {
    /// The sequence number of the last row committed before this batch (0 for none), whether
    /// or not that row was handed over.
    pub after: i64,
    pub rows: Vec<OutboxRow>,
}

/// What the writer and the receiving end share.
#[derive(Debug, Default)]
struct Shared {
    /// The sequence number of the last row committed, stored after its batch was handed over
    /// (or dropped).
    last_committed: AtomicI64,
    /// Rows handed over and not yet received.
    queued_rows: AtomicUsize,
    /// Batches dropped because the hand-off was full.
    dropped_batches: AtomicU64,
    /// Reads of the outbox for rows to publish (by the relay's catch-up).
    reads: AtomicU64,
}

/// The writer's end.
pub(super) struct HandoffSender {
    sender: mpsc::UnboundedSender<Committed>,
    shared: Arc<Shared>,
    limit: usize,
    last: i64,
}

impl HandoffSender {
    /// Hands over the rows of a committed batch (in sequence order), or drops them when the
    /// hand-off is full; then publishes the last sequence number committed.
    pub(super) fn committed(&mut self, rows: Vec<OutboxRow>) {
        let Some(last) = rows.last().map(|row| row.seq) else {
            return;
        };
        let count = rows.len();
        let queued = self.shared.queued_rows.load(Ordering::Acquire);
        let room = queued.saturating_add(count) <= self.limit;
        let handed = room && {
            self.shared.queued_rows.fetch_add(count, Ordering::AcqRel);
            let sent = self
                .sender
                .send(Committed {
                    after: self.last,
                    rows,
                })
                .is_ok();
            if !sent {
                self.shared.queued_rows.fetch_sub(count, Ordering::AcqRel);
            }
            sent
        };
        if !handed {
            self.shared.dropped_batches.fetch_add(1, Ordering::Relaxed);
        }
        self.last = self.last.max(last);
        // Release: whoever reads this value finds every batch handed over before it.
        self.shared
            .last_committed
            .store(self.last, Ordering::Release);
    }
}

/// The receiving end: taken once, by the relay.
#[derive(Debug)]
pub struct RowFeed {
    receiver: mpsc::UnboundedReceiver<Committed>,
    shared: Arc<Shared>,
}

/// What [`RowFeed::try_next`] found.
#[derive(Debug)]
pub enum Next {
    /// A batch, in order.
    Batch(Committed),
    /// Nothing handed over at the moment.
    Empty,
}

impl RowFeed {
    /// The next batch handed over, without waiting.
    pub fn try_next(&mut self) -> Next {
        match self.receiver.try_recv() {
            Ok(batch) => {
                self.shared
                    .queued_rows
                    .fetch_sub(batch.rows.len(), Ordering::AcqRel);
                Next::Batch(batch)
            }
            Err(_) => Next::Empty,
        }
    }

    /// The sequence number of the last row committed. Read it before draining the hand-off:
    /// every batch up to it is then found by [`Self::try_next`], unless it was dropped.
    pub fn last_committed(&self) -> i64 {
        self.shared.last_committed.load(Ordering::Acquire)
    }

    /// Rows handed over and not yet taken.
    pub fn queued_rows(&self) -> usize {
        self.shared.queued_rows.load(Ordering::Acquire)
    }
}

/// Counters of the hand-off, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandoffStats {
    /// Batches dropped because the hand-off was full.
    pub dropped_batches: u64,
    /// Reads of the outbox for rows to publish (the relay's catch-up).
    pub reads: u64,
}

/// Both ends of a new hand-off; the writer starts after `last_committed`.
pub(super) fn handoff(
    limit: usize,
    last_committed: i64,
) -> (
    HandoffSender,
    Arc<Mutex<Option<RowFeed>>>,
    HandoffStatsSource,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    shared
        .last_committed
        .store(last_committed, Ordering::Release);
    (
        HandoffSender {
            sender,
            shared: shared.clone(),
            limit,
            last: last_committed,
        },
        Arc::new(Mutex::new(Some(RowFeed {
            receiver,
            shared: shared.clone(),
        }))),
        HandoffStatsSource(shared),
    )
}

/// Reads the hand-off's counters.
#[derive(Debug, Clone)]
pub(super) struct HandoffStatsSource(Arc<Shared>);

impl HandoffStatsSource {
    /// The sequence number of the last row committed.
    pub(super) fn last_committed(&self) -> i64 {
        self.0.last_committed.load(Ordering::Acquire)
    }

    /// Counts one read of the outbox for rows to publish.
    pub(super) fn count_read(&self) {
        self.0.reads.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> HandoffStats {
        HandoffStats {
            dropped_batches: self.0.dropped_batches.load(Ordering::Relaxed),
            reads: self.0.reads.load(Ordering::Relaxed),
        }
    }
}
