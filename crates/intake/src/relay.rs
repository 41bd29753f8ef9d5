//! The outbox relay: publishes each outbox row to JetStream stream FEEDBACK with
//! `Nats-Msg-Id` = feedback id, many in flight at once, retries with backoff, publishes again
//! rows workflow has not confirmed in time, and prunes confirmed rows.
//!
//! New rows come from the outbox writer in memory, right after their commit (the hand-off,
//! `crate::outbox::handoff`). At start, and whenever the hand-off dropped rows (it is bounded:
//! the relay fell behind), the relay reads the unconfirmed rows after the last one it took,
//! oldest first, until it has caught up; the outbox stays the truth, so a crash between a
//! commit and its publish loses nothing. A publish is not recorded: a row is published again
//! once workflow has not confirmed it within the timeout counted from its commit, and after a
//! restart every unconfirmed row is published again (the broker's duplicate window and
//! workflow's idempotency make that harmless). Only a row published again, or published for
//! the first time after a tenth of its wait had passed (the relay or the broker was behind), is
//! stored, so that its wait starts again.
//!
//! Every ticket has exactly one outbox row (one `FeedbackReceived`), so publishing rows in
//! outbox order with many in flight keeps the order per ticket trivially.

use crate::metrics::IntakeMetrics;
use crate::outbox::handoff::{Next, RowFeed};
use crate::outbox::{due_at_ms, Outbox, OutboxRow, PruneBefore};
use crate::settings::IntakeSettings;
use async_nats::jetstream::{self, message::PublishMessage};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use service::config::NatsConfig;
use service::nats::ConnectionFlag;
use service::shutdown::Shutdown;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The header that carries the ticket id of a `FeedbackReceived`.
pub const TICKET_ID_HEADER: &str = "Cloop-Ticket-Id";
/// The header that carries the feedback id (also sent as `Nats-Msg-Id`).
pub const FEEDBACK_ID_HEADER: &str = "Cloop-Feedback-Id";

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

type AckFuture =
    Pin<Box<dyn Future<Output = (Job, Result<jetstream::publish::PublishAck, String>)> + Send>>;

/// Everything the relay needs.
#[derive(Debug, Clone)]
pub struct Relay {
    pub outbox: Outbox,
    pub context: jetstream::Context,
    pub connected: ConnectionFlag,
    pub settings: IntakeSettings,
    pub nats: NatsConfig,
    pub metrics: IntakeMetrics,
    /// The domain's dedupe window for content-derived keys, in hours.
    pub content_window_hours: u64,
}

/// One row to publish.
struct Job {
    row: OutboxRow,
    /// Its wait for a confirmation had run out when it was taken: a publish again.
    republish: bool,
    /// Taken from the hand-off or the catch-up read: counted as pending until acknowledged.
    counted: bool,
    /// Failed publishes of this job.
    failures: u32,
}

/// A row waiting to be published again after a failed publish.
struct Retry {
    due: Instant,
    job: Job,
}

/// A publish acknowledged after this fraction of the row's wait for a confirmation is late
/// ([`Relay::is_late`]).
const LATE_FRACTION: i64 = 10;

/// Rows stored as published again in one write at most.
const REPUBLISHED_BATCH: usize = 512;

/// What the relay holds between turns of its loop.
struct State {
    max_in_flight: usize,
    streams_ready: bool,
    stream_failures: u32,
    next_stream_attempt: Instant,
    in_flight: FuturesUnordered<AckFuture>,
    queued: VecDeque<Job>,
    retries: Vec<Retry>,
    /// The rows queued, in flight or waiting for a retry.
    held: HashSet<i64>,
    /// The receiving end of the hand-off (`None` when another relay took it: then every row
    /// is read).
    feed: Option<RowFeed>,
    /// Whether the relay reads the outbox (at start, and after the hand-off dropped rows)
    /// rather than taking rows from the hand-off.
    reading: bool,
    /// No read before this instant (after a failed one).
    next_read: Instant,
    /// The last sequence number taken (from the hand-off or a read).
    cursor: i64,
    /// Rows taken and not yet acknowledged by JetStream.
    unacked: i64,
    /// Rows published after their wait had run out, not yet stored: (seq, published again).
    republished: Vec<(i64, bool)>,
}

impl State {
    fn new(max_in_flight: usize, feed: Option<RowFeed>) -> Self {
        Self {
            max_in_flight,
            streams_ready: false,
            stream_failures: 0,
            next_stream_attempt: Instant::now(),
            in_flight: FuturesUnordered::new(),
            queued: VecDeque::new(),
            retries: Vec::new(),
            held: HashSet::new(),
            feed,
            reading: true,
            next_read: Instant::now(),
            cursor: 0,
            unacked: 0,
            republished: Vec::new(),
        }
    }

    /// Room for more rows in the queue.
    fn has_room(&self) -> bool {
        self.queued.len() < self.max_in_flight
    }

    /// Nothing left to publish: every committed row taken and acknowledged.
    fn is_idle(&self, last_committed: i64) -> bool {
        self.in_flight.is_empty()
            && self.queued.is_empty()
            && self.retries.is_empty()
            && !self.reading
            && self.cursor >= last_committed
    }
}

impl Relay {
    fn backoff(&self, failures: u32) -> Duration {
        let initial = self.settings.retry_backoff_initial_ms.max(1);
        let factor = 1u64 << failures.min(16);
        Duration::from_millis(
            initial
                .saturating_mul(factor)
                .min(self.settings.retry_backoff_max_ms.max(initial)),
        )
    }

    fn timeout_ms(&self) -> i64 {
        i64::try_from(self.settings.confirm_timeout().as_millis()).unwrap_or(i64::MAX)
    }

    /// Creates or updates FEEDBACK, and creates TICKET_EVENTS when it is missing (workflow
    /// owns it; whichever service starts first creates it with the same settings).
    async fn ensure_streams(&self) -> Result<(), service::ServiceError> {
        service::nats::ensure_stream(&self.context, &self.nats.feedback_stream).await?;
        service::nats::create_stream_if_missing(&self.context, &self.nats.ticket_events_stream)
            .await
    }

    /// Runs until `shutdown` is triggered, then keeps publishing what is left for at most
    /// `shutdown_flush_secs`.
    pub async fn run(self, shutdown: Shutdown) {
        let maintenance_every =
            Duration::from_millis(self.settings.maintenance_interval_ms.max(10));
        let feed = self.outbox.take_feed();
        if feed.is_none() {
            tracing::warn!("the hand-off of new rows is taken; the relay reads every row");
        }
        let mut state = State::new(self.settings.max_in_flight.max(1), feed);
        let mut flush_deadline: Option<Instant> = None;
        let mut next_maintenance = Instant::now();
        let new_rows = self.outbox.new_rows();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            self.prepare_streams(&mut state).await;
            self.take_rows(&mut state).await;
            self.send(&mut state).await;
            let idle = state.is_idle(self.outbox.last_committed());
            if let Some(deadline) = flush_deadline {
                if idle || Instant::now() >= deadline {
                    self.flush_republished(&mut state.republished).await;
                    if !idle {
                        tracing::warn!(
                            left = state.held.len(),
                            "shutdown flush deadline passed; the rest is published after restart"
                        );
                    }
                    return;
                }
            }

            tokio::select! {
                Some((job, result)) = state.in_flight.next(), if !state.in_flight.is_empty() => {
                    self.acknowledged(&mut state, job, result).await;
                }
                _ = new_rows.notified() => {
                    // With the hand-off, the next turn takes the rows from it.
                    if state.feed.is_none() {
                        state.reading = true;
                    }
                }
                _ = tick.tick() => {
                    self.flush_republished(&mut state.republished).await;
                    self.observe(&state);
                    if Instant::now() >= next_maintenance {
                        next_maintenance = Instant::now() + maintenance_every;
                        if flush_deadline.is_none() {
                            self.maintain(&mut state).await;
                        }
                    }
                }
                _ = shutdown.wait(), if flush_deadline.is_none() => {
                    flush_deadline = Some(Instant::now() + Duration::from_secs(self.settings.shutdown_flush_secs));
                    tracing::info!("relay flushing the outbox before shutdown");
                }
            }
        }
    }

    /// Sets the outbox gauges: the rows taken and not yet acknowledged, and the rows
    /// committed and not yet taken, are pending.
    fn observe(&self, state: &State) {
        let not_taken = (self.outbox.last_committed() - state.cursor).max(0);
        let counters = self.outbox.counters();
        counters.pending.store(
            state.unacked.saturating_add(not_taken),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.metrics.observe_outbox(&counters);
    }

    /// Sets up the streams when they are not ready and the connection is, with backoff.
    async fn prepare_streams(&self, state: &mut State) {
        if state.streams_ready
            || !self.connected.is_connected()
            || Instant::now() < state.next_stream_attempt
        {
            return;
        }
        match self.ensure_streams().await {
            Ok(()) => {
                state.streams_ready = true;
                state.stream_failures = 0;
            }
            Err(error) => {
                state.stream_failures += 1;
                state.next_stream_attempt = Instant::now() + self.backoff(state.stream_failures);
                tracing::warn!(%error, "set up JetStream streams, will retry");
            }
        }
    }

    /// Takes more rows when there is room: from the hand-off, or by reading the outbox.
    async fn take_rows(&self, state: &mut State) {
        if !state.has_room() {
            // Behind: the hand-off fills up, drops rows, and the relay reads them later.
            return;
        }
        if !state.reading {
            if let Some(mut feed) = state.feed.take() {
                self.take_handed(state, &mut feed);
                state.feed = Some(feed);
            }
            return;
        }
        if Instant::now() < state.next_read {
            return;
        }
        if let Some(feed) = state.feed.as_mut() {
            // The read finds these rows too.
            while let Next::Batch(_) = feed.try_next() {}
        }
        // Every row committed up to here is found by the read that follows.
        let last_committed = self.outbox.last_committed();
        let limit = state.max_in_flight - state.queued.len();
        match self.outbox.load_pending(state.cursor, limit).await {
            Ok(rows) => {
                let exhausted = rows.len() < limit;
                let (now, timeout_ms) = (now_ms(), self.timeout_ms());
                for row in rows {
                    state.cursor = state.cursor.max(row.seq);
                    let republish = due_at_ms(&row, timeout_ms) <= now;
                    self.take(state, row, republish);
                }
                if exhausted {
                    state.cursor = state.cursor.max(last_committed);
                    state.reading = false;
                }
            }
            Err(error) => {
                tracing::error!(%error, "read unconfirmed outbox rows");
                state.next_read = Instant::now() + self.backoff(4);
            }
        }
    }

    /// Takes the rows handed over since the last turn, while there is room; a batch the
    /// hand-off dropped sends the relay back to reading.
    fn take_handed(&self, state: &mut State, feed: &mut RowFeed) {
        // Read before draining: every batch committed up to it is in the hand-off by now,
        // unless it was dropped.
        let last_committed = feed.last_committed();
        while state.has_room() {
            match feed.try_next() {
                Next::Batch(batch) => {
                    if batch.after > state.cursor {
                        state.reading = true;
                        return;
                    }
                    for row in batch.rows {
                        if row.seq > state.cursor {
                            state.cursor = row.seq;
                            self.take(state, row, false);
                        }
                    }
                }
                Next::Empty => {
                    if state.cursor < last_committed {
                        state.reading = true;
                    }
                    return;
                }
            }
        }
    }

    /// Queues a row taken from the hand-off or a read, unless it is already held.
    fn take(&self, state: &mut State, row: OutboxRow, republish: bool) {
        if !state.held.insert(row.seq) {
            return;
        }
        if republish {
            self.metrics.republished.inc();
        }
        state.unacked += 1;
        state.queued.push_back(Job {
            row,
            republish,
            counted: true,
            failures: 0,
        });
    }

    /// Starts publishes while there is room and a connection: due retries first.
    async fn send(&self, state: &mut State) {
        if !state.streams_ready || !self.connected.is_connected() {
            return;
        }
        let now = Instant::now();
        while state.in_flight.len() < state.max_in_flight {
            let next = match state.retries.iter().position(|retry| retry.due <= now) {
                Some(position) => Some(state.retries.swap_remove(position).job),
                None => state.queued.pop_front(),
            };
            let Some(job) = next else { break };
            match self.publish(&job.row).await {
                Ok(ack) => state.in_flight.push(Box::pin(async move {
                    let result = ack.await.map_err(|error| error.to_string());
                    (job, result)
                })),
                Err(error) => {
                    self.metrics.publishes.with_label_values(&["failed"]).inc();
                    tracing::warn!(feedback_id = %job.row.feedback_id, %error, "publish failed");
                    self.retry_later(state, job);
                    break;
                }
            }
        }
    }

    /// Handles the broker's answer to one publish.
    async fn acknowledged(
        &self,
        state: &mut State,
        job: Job,
        result: Result<jetstream::publish::PublishAck, String>,
    ) {
        match result {
            Ok(ack) => {
                crate::failpoints::crash_point(crate::failpoints::AFTER_PUBLISH_BEFORE_MARK);
                let result = if ack.duplicate { "duplicate" } else { "ok" };
                self.metrics.publishes.with_label_values(&[result]).inc();
                let now = now_ms();
                if !job.republish && job.row.attempts == 0 && job.failures == 0 {
                    let lag = (now - job.row.received_at_ms).max(0) as f64 / 1000.0;
                    self.metrics.publish_lag.observe(lag);
                }
                state.held.remove(&job.row.seq);
                if job.counted {
                    state.unacked -= 1;
                }
                // A publish again, or a first publish late enough to cut the row's wait for
                // a confirmation short, starts its wait again (stored).
                if job.republish || self.is_late(&job.row, now) {
                    state.republished.push((job.row.seq, job.republish));
                    if state.republished.len() >= REPUBLISHED_BATCH {
                        self.flush_republished(&mut state.republished).await;
                    }
                }
            }
            Err(error) => {
                self.metrics.publishes.with_label_values(&["failed"]).inc();
                tracing::warn!(feedback_id = %job.row.feedback_id, %error, "publish not acknowledged, will retry");
                if error.contains("stream not found") || error.contains("no responders") {
                    state.streams_ready = false;
                }
                self.retry_later(state, job);
            }
        }
    }

    /// Whether a publish of `row` acknowledged at `now` came after a tenth of its wait for a
    /// confirmation had passed (the relay or the broker was behind): workflow would then have
    /// less than the whole timeout to confirm it before it is published again. Normally a row
    /// is acknowledged milliseconds after its commit, and nothing is stored.
    fn is_late(&self, row: &OutboxRow, now: i64) -> bool {
        let wait = due_at_ms(row, self.timeout_ms()).saturating_sub(row.wait_from_ms);
        now.saturating_sub(row.wait_from_ms) >= wait / LATE_FRACTION
    }

    /// Queues `job` again after the backoff of its failures so far.
    fn retry_later(&self, state: &mut State, job: Job) {
        state.retries.push(Retry {
            due: Instant::now() + self.backoff(job.failures),
            job: Job {
                failures: job.failures.saturating_add(1),
                ..job
            },
        });
    }

    /// Starts one publish; the returned future resolves with the ack.
    async fn publish(
        &self,
        row: &OutboxRow,
    ) -> Result<jetstream::context::PublishAckFuture, String> {
        let publish = PublishMessage::build()
            .payload(row.payload.clone())
            .message_id(&row.feedback_id)
            .header(TICKET_ID_HEADER, row.ticket_id.as_str())
            .header(FEEDBACK_ID_HEADER, row.feedback_id.as_str());
        self.context
            .send_publish(row.subject.clone(), publish)
            .await
            .map_err(|error| error.to_string())
    }

    /// Stores the rows published after their wait had run out, so that their wait starts
    /// again; on failure they are published again, which the broker and workflow dedupe.
    async fn flush_republished(&self, republished: &mut Vec<(i64, bool)>) {
        if republished.is_empty() {
            return;
        }
        let rows = std::mem::take(republished);
        let count = rows.len();
        if let Err(error) = self.outbox.record_republished(rows, now_ms()).await {
            tracing::error!(%error, rows = count, "record outbox rows published again");
        }
    }

    /// Publishes again rows not confirmed within the timeout, and prunes confirmed rows and
    /// expired idempotency keys.
    async fn maintain(&self, state: &mut State) {
        // Rows whose wait started again are not due any more.
        self.flush_republished(&mut state.republished).await;
        let now = now_ms();
        match self
            .outbox
            .load_unconfirmed(now, self.timeout_ms(), state.cursor, state.max_in_flight)
            .await
        {
            Ok(rows) => {
                for row in rows {
                    if state.held.insert(row.seq) {
                        tracing::info!(feedback_id = %row.feedback_id, ticket_id = %row.ticket_id, "not confirmed in time, publishing again");
                        self.metrics.republished.inc();
                        state.queued.push_back(Job {
                            row,
                            republish: true,
                            counted: false,
                            failures: 0,
                        });
                    }
                }
            }
            Err(error) => tracing::error!(%error, "read unconfirmed outbox rows"),
        }
        self.prune(now).await;
    }

    /// Deletes confirmed rows and expired idempotency keys.
    async fn prune(&self, now: i64) {
        let seconds = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let content_window_hours = self.content_window_hours;
        let before = PruneBefore {
            confirmed_before_ms: now
                .saturating_sub(seconds(self.settings.prune_confirmed_after_secs)),
            external_keys_before_ms: now.saturating_sub(seconds(
                self.settings
                    .external_id_retention_days
                    .saturating_mul(86_400),
            )),
            content_keys_before_ms: now
                .saturating_sub(seconds(content_window_hours.saturating_mul(3_600))),
        };
        match self.outbox.prune(before).await {
            Ok(pruned) => {
                self.metrics.pruned.inc_by(pruned.rows as u64);
            }
            Err(error) => tracing::error!(%error, "prune the outbox"),
        }
    }
}
