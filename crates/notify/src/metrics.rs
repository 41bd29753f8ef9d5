//! The counters of the notifier on `/metrics`.

use crate::error::NotifyError;
use prometheus::{IntCounterVec, Opts, Registry};

/// The counters on `/metrics`.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Notices the sender accepted, by channel.
    pub sent: IntCounterVec,
    /// Failed attempts, by channel (`none` when the customer could not be reached at all).
    pub failed: IntCounterVec,
    /// Redelivered (event, notice) pairs that were already sent and were not sent again.
    pub skipped: IntCounterVec,
    /// Staff alert attempts, by channel (`wecom`, `dingtalk`, `webhook`, `email`) and outcome
    /// (`sent`, `failed`).
    pub alerts: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, NotifyError> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label])
                .map_err(|error| NotifyError::Workflow(format!("metric {name}: {error}")))
        };
        let sent = counter(
            "cloop_notify_sent_total",
            "Notices accepted by a sender",
            "channel",
        )?;
        let failed = counter(
            "cloop_notify_failed_attempts_total",
            "Failed delivery attempts",
            "channel",
        )?;
        let skipped = counter(
            "cloop_notify_duplicates_skipped_total",
            "Redelivered notices already sent",
            "notice",
        )?;
        let alerts = IntCounterVec::new(
            Opts::new(
                "cloop_notify_staff_alerts_total",
                "Staff alert attempts by channel and outcome",
            ),
            &["channel", "outcome"],
        )
        .map_err(|error| NotifyError::Workflow(format!("metric alerts: {error}")))?;
        for metric in [&sent, &failed, &skipped, &alerts] {
            registry
                .register(Box::new(metric.clone()))
                .map_err(|error| NotifyError::Workflow(format!("register metric: {error}")))?;
        }
        Ok(Self {
            registry,
            sent,
            failed,
            skipped,
            alerts,
        })
    }
}
