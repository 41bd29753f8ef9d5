//! The intake service's Prometheus metrics: submissions by channel and result, outbox depth by
//! state, commit batch sizes, publishes and publish lag, confirmations, writes refused on a full
//! data disk.

use crate::outbox::OutboxCounters;
use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};
use service::metrics::{counter, counter_vec, gauge, gauge_vec, histogram};

/// Every metric of the service, registered in one registry.
#[derive(Debug, Clone)]
pub struct IntakeMetrics {
    pub registry: Registry,
    /// `cloop_intake_submissions_total{channel, result}`; result is accepted, duplicate,
    /// invalid, unavailable or refused (authentication and role).
    pub submissions: IntCounterVec,
    /// `cloop_intake_outbox_rows{state}`: pending (not yet acknowledged by JetStream since the
    /// start) and published (acknowledged, not yet confirmed by workflow); the relay derives
    /// the split from what it holds, the outbox stores only whether a row is confirmed.
    pub outbox_rows: IntGaugeVec,
    /// `cloop_intake_outbox_depth`: rows not yet confirmed.
    pub outbox_depth: IntGauge,
    /// `cloop_intake_commit_batch_size`: submissions and updates per outbox transaction.
    pub commit_batch: Histogram,
    /// `cloop_intake_publish_lag_seconds`: from the answer to the first publish ack.
    pub publish_lag: Histogram,
    /// `cloop_intake_publishes_total{result}`: ok, duplicate (the broker had it), failed.
    pub publishes: IntCounterVec,
    /// `cloop_intake_republished_total`: rows published again after the confirm timeout.
    pub republished: IntCounter,
    /// `cloop_intake_confirmed_total`: rows workflow confirmed.
    pub confirmed: IntCounter,
    /// `cloop_intake_pruned_total`: confirmed rows deleted.
    pub pruned: IntCounter,
    /// `cloop_intake_disk_full_total`: outbox writes refused because the data disk is full.
    pub disk_full: IntCounter,
}

impl IntakeMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let submissions = counter_vec(
            &registry,
            "cloop_intake_submissions_total",
            "Submissions by channel and result",
            &["channel", "result"],
        )?;
        let outbox_rows = gauge_vec(
            &registry,
            "cloop_intake_outbox_rows",
            "Outbox rows not yet confirmed, by state",
            &["state"],
        )?;
        let outbox_depth = gauge(
            &registry,
            "cloop_intake_outbox_depth",
            "Outbox rows not yet confirmed by workflow",
        )?;
        let commit_batch = histogram(
            &registry,
            "cloop_intake_commit_batch_size",
            "Commands per outbox transaction",
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0],
        )?;
        let publish_lag = histogram(
            &registry,
            "cloop_intake_publish_lag_seconds",
            "From the answer to the JetStream publish ack",
            vec![
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0,
            ],
        )?;
        let publishes = counter_vec(
            &registry,
            "cloop_intake_publishes_total",
            "JetStream publishes by result",
            &["result"],
        )?;
        let republished = counter(
            &registry,
            "cloop_intake_republished_total",
            "Rows published again because workflow did not confirm them in time",
        )?;
        let confirmed = counter(
            &registry,
            "cloop_intake_confirmed_total",
            "Rows confirmed by workflow",
        )?;
        let pruned = counter(
            &registry,
            "cloop_intake_pruned_total",
            "Confirmed rows deleted",
        )?;
        let disk_full = counter(
            &registry,
            "cloop_intake_disk_full_total",
            "Outbox writes refused because the data disk is full",
        )?;
        Ok(Self {
            registry,
            submissions,
            outbox_rows,
            outbox_depth,
            commit_batch,
            publish_lag,
            publishes,
            republished,
            confirmed,
            pruned,
            disk_full,
        })
    }

    /// Counts one submission; `channel` is only used when it is a configured one, so that
    /// garbage cannot create unbounded label values.
    pub fn count_submission(&self, channel: &str, result: &str) {
        self.submissions.with_label_values(&[channel, result]).inc();
    }

    /// Copies the outbox counters into the gauges.
    pub fn observe_outbox(&self, counters: &OutboxCounters) {
        self.outbox_rows
            .with_label_values(&["pending"])
            .set(counters.pending());
        self.outbox_rows
            .with_label_values(&["published"])
            .set(counters.published());
        self.outbox_depth.set(counters.depth());
    }
}
