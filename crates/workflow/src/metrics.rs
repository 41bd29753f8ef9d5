//! The Prometheus metrics of the workflow service.

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge, Registry};
use service::metrics::{counter, counter_vec, gauge, histogram};

/// Every metric the service exports, registered in its own registry.
#[derive(Debug, Clone)]
pub struct WorkflowMetrics {
    pub registry: Registry,
    /// Messages of FEEDBACK recorded as new tickets.
    pub received: IntCounter,
    /// Messages of FEEDBACK that were already recorded (redelivered or duplicated).
    pub duplicates: IntCounter,
    /// Messages sent to the dead-letter subject.
    pub dead_letters: IntCounter,
    /// Messages recorded per transaction of the consumer.
    pub consume_batch: Histogram,
    /// Commands by name and outcome (ok, refused, denied, conflict, error).
    pub commands: IntCounterVec,
    /// Commands retried after a concurrent change.
    pub command_retries: IntCounter,
    /// Events recorded by the SLA timers, by type.
    pub timer_events: IntCounterVec,
    /// Log rows published to TICKET_EVENTS.
    pub published: IntCounter,
    /// The last log position published.
    pub published_position: IntGauge,
    /// Failed publish rounds (retried).
    pub publish_failures: IntCounter,
    /// Writes refused because the data disk is full (`cloop_workflow_disk_full_total`).
    pub disk_full: IntCounter,
}

impl WorkflowMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("cloop_workflow".into()), None)?;
        let counter = |name: &str, help: &str| counter(&registry, name, help);
        let received = counter("received_total", "feedback messages recorded as tickets")?;
        let duplicates = counter(
            "duplicate_messages_total",
            "feedback messages that were already recorded",
        )?;
        let dead_letters = counter(
            "dead_letters_total",
            "feedback messages sent to the dead-letter subject",
        )?;
        let command_retries = counter(
            "command_retries_total",
            "commands retried after a concurrent change",
        )?;
        let published = counter("published_total", "log rows published to TICKET_EVENTS")?;
        let publish_failures = counter("publish_failures_total", "failed publish rounds")?;
        let disk_full = counter(
            "disk_full_total",
            "writes refused because the data disk is full",
        )?;
        let consume_batch = histogram(
            &registry,
            "consume_batch_size",
            "messages recorded per transaction",
            vec![1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0],
        )?;
        let commands = counter_vec(
            &registry,
            "commands_total",
            "commands by name and outcome",
            &["command", "outcome"],
        )?;
        let timer_events = counter_vec(
            &registry,
            "timer_events_total",
            "events recorded by the sla timers",
            &["type"],
        )?;
        let published_position = gauge(
            &registry,
            "published_position",
            "the last log position published",
        )?;
        Ok(Self {
            registry,
            received,
            duplicates,
            dead_letters,
            consume_batch,
            commands,
            command_retries,
            timer_events,
            published,
            published_position,
            publish_failures,
            disk_full,
        })
    }
}
