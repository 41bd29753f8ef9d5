//! The outbox relay: publishes each outbox row to JetStream stream FEEDBACK with
//! `Nats-Msg-Id` = feedback id, many in flight at once, retries with backoff, marks rows
//! published on the ack, publishes again rows workflow has not confirmed in time, and prunes
//! confirmed rows.
//!
//! Every ticket has exactly one outbox row (one `FeedbackReceived`), so publishing rows in
//! outbox order with many in flight keeps the order per ticket trivially.

use crate::metrics::IntakeMetrics;
use crate::outbox::{Outbox, OutboxRow, PruneBefore};
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

type AckFuture = Pin<
    Box<
        dyn Future<
                Output = (
                    OutboxRow,
                    bool,
                    Result<jetstream::publish::PublishAck, String>,
                ),
            > + Send,
    >,
>;

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

/// A row waiting to be published again.
struct Retry {
    due: Instant,
    row: OutboxRow,
    republish: bool,
}

/// What the relay holds between turns of its loop.
struct State {
    max_in_flight: usize,
    streams_ready: bool,
    stream_failures: u32,
    next_stream_attempt: Instant,
    in_flight: FuturesUnordered<AckFuture>,
    queued: VecDeque<(OutboxRow, bool)>,
    retries: Vec<Retry>,
    /// The rows queued, in flight or waiting for a retry.
    held: HashSet<i64>,
    cursor: i64,
    exhausted: bool,
    acked: Vec<i64>,
}

impl State {
    fn new(max_in_flight: usize) -> Self {
        Self {
            max_in_flight,
            streams_ready: false,
            stream_failures: 0,
            next_stream_attempt: Instant::now(),
            in_flight: FuturesUnordered::new(),
            queued: VecDeque::new(),
            retries: Vec::new(),
            held: HashSet::new(),
            cursor: 0,
            exhausted: false,
            acked: Vec::new(),
        }
    }

    fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
            && self.queued.is_empty()
            && self.retries.is_empty()
            && self.exhausted
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
        let mut state = State::new(self.settings.max_in_flight.max(1));
        let mut flush_deadline: Option<Instant> = None;
        let mut next_maintenance = Instant::now();
        let new_rows = self.outbox.new_rows();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            self.prepare_streams(&mut state).await;
            self.load_more(&mut state).await;
            self.send(&mut state).await;
            let idle = state.is_idle();
            if let Some(deadline) = flush_deadline {
                if idle || Instant::now() >= deadline {
                    self.flush_acked(&mut state.acked).await;
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
                Some((row, republish, result)) = state.in_flight.next(), if !state.in_flight.is_empty() => {
                    self.acknowledged(&mut state, row, republish, result).await;
                }
                _ = new_rows.notified() => {
                    state.exhausted = false;
                }
                _ = tick.tick() => {
                    self.flush_acked(&mut state.acked).await;
                    self.metrics.observe_outbox(&self.outbox.counters());
                    if Instant::now() >= next_maintenance {
                        next_maintenance = Instant::now() + maintenance_every;
                        state.exhausted = false;
                        if flush_deadline.is_none() {
                            self.maintain(&mut state.queued, &mut state.held).await;
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

    /// Loads more pending rows when there is room.
    async fn load_more(&self, state: &mut State) {
        if state.exhausted || state.queued.len() >= state.max_in_flight {
            return;
        }
        match self
            .outbox
            .load_pending(state.cursor, state.max_in_flight)
            .await
        {
            Ok(rows) => {
                state.exhausted = rows.len() < state.max_in_flight;
                for row in rows {
                    state.cursor = state.cursor.max(row.seq);
                    if state.held.insert(row.seq) {
                        state.queued.push_back((row, false));
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "read pending outbox rows");
                state.exhausted = true;
            }
        }
    }

    /// Starts publishes while there is room and a connection: due retries first.
    async fn send(&self, state: &mut State) {
        if !state.streams_ready || !self.connected.is_connected() {
            return;
        }
        let now = Instant::now();
        while state.in_flight.len() < state.max_in_flight {
            let next = match state.retries.iter().position(|retry| retry.due <= now) {
                Some(position) => {
                    let retry = state.retries.swap_remove(position);
                    Some((retry.row, retry.republish))
                }
                None => state.queued.pop_front(),
            };
            let Some((row, republish)) = next else { break };
            match self.publish(row.clone(), republish).await {
                Ok(future) => state.in_flight.push(future),
                Err(error) => {
                    self.metrics.publishes.with_label_values(&["failed"]).inc();
                    tracing::warn!(feedback_id = %row.feedback_id, %error, "publish failed");
                    self.retry_later(state, row, republish);
                    break;
                }
            }
        }
    }

    /// Handles the broker's answer to one publish.
    async fn acknowledged(
        &self,
        state: &mut State,
        row: OutboxRow,
        republish: bool,
        result: Result<jetstream::publish::PublishAck, String>,
    ) {
        match result {
            Ok(ack) => {
                crate::failpoints::crash_point(crate::failpoints::AFTER_PUBLISH_BEFORE_MARK);
                let result = if ack.duplicate { "duplicate" } else { "ok" };
                self.metrics.publishes.with_label_values(&[result]).inc();
                if !republish && row.attempts == 0 {
                    let lag = (now_ms() - row.received_at_ms).max(0) as f64 / 1000.0;
                    self.metrics.publish_lag.observe(lag);
                }
                state.held.remove(&row.seq);
                state.acked.push(row.seq);
                if state.acked.len() >= 512 {
                    self.flush_acked(&mut state.acked).await;
                }
            }
            Err(error) => {
                self.metrics.publishes.with_label_values(&["failed"]).inc();
                tracing::warn!(feedback_id = %row.feedback_id, %error, "publish not acknowledged, will retry");
                if error.contains("stream not found") || error.contains("no responders") {
                    state.streams_ready = false;
                }
                self.retry_later(state, row, republish);
            }
        }
    }

    /// Queues `row` again after the backoff of its attempts so far.
    fn retry_later(&self, state: &mut State, row: OutboxRow, republish: bool) {
        let failures = u32::try_from(row.attempts.max(0)).unwrap_or(u32::MAX);
        state.retries.push(Retry {
            due: Instant::now() + self.backoff(failures),
            row: OutboxRow {
                attempts: row.attempts + 1,
                ..row
            },
            republish,
        });
    }

    /// Starts one publish; the returned future resolves with the ack (or its failure).
    async fn publish(&self, row: OutboxRow, republish: bool) -> Result<AckFuture, String> {
        let publish = PublishMessage::build()
            .payload(row.payload.clone().into())
            .message_id(&row.feedback_id)
            .header(TICKET_ID_HEADER, row.ticket_id.as_str())
            .header(FEEDBACK_ID_HEADER, row.feedback_id.as_str());
        let ack = self
            .context
            .send_publish(row.subject.clone(), publish)
            .await
            .map_err(|error| error.to_string())?;
        Ok(Box::pin(async move {
            let result = ack.await.map_err(|error| error.to_string());
            (row, republish, result)
        }))
    }

    async fn flush_acked(&self, acked: &mut Vec<i64>) {
        if acked.is_empty() {
            return;
        }
        let seqs = std::mem::take(acked);
        if let Err(error) = self.outbox.mark_published(seqs.clone(), now_ms()).await {
            // The rows stay pending and are published again: the broker and workflow dedupe.
            tracing::error!(%error, rows = seqs.len(), "mark outbox rows published");
        }
    }

    /// Publishes again rows not confirmed within the timeout, and prunes confirmed rows and
    /// expired idempotency keys.
    async fn maintain(&self, queued: &mut VecDeque<(OutboxRow, bool)>, held: &mut HashSet<i64>) {
        let now = now_ms();
        let timeout_ms =
            i64::try_from(self.settings.confirm_timeout().as_millis()).unwrap_or(i64::MAX);
        match self
            .outbox
            .load_unconfirmed(now, timeout_ms, self.settings.max_in_flight.max(1))
            .await
        {
            Ok(rows) => {
                for row in rows {
                    if held.insert(row.seq) {
                        tracing::info!(feedback_id = %row.feedback_id, ticket_id = %row.ticket_id, "not confirmed in time, publishing again");
                        self.metrics.republished.inc();
                        queued.push_back((row, true));
                    }
                }
            }
            Err(error) => tracing::error!(%error, "read unconfirmed outbox rows"),
        }
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
