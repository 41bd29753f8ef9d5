//! The `[intake_service]` table of the configuration file, with its defaults, and everything
//! else `run` needs.

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// The intake service's own settings (`[intake_service]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeSettings {
    /// This replica's node id (0 to 1023), part of every ticket id it makes; `CLOOP_NODE_ID`
    /// overrides it. Replicas sharing a stream must have different node ids.
    pub node_id: u16,
    /// The queue group of the `feedback.inbound.<channel>` subscription.
    pub queue_group: String,
    /// Publishes in flight at once.
    pub max_in_flight: usize,
    /// Submissions committed in one SQLite transaction at most.
    pub max_batch: usize,
    /// How long a submission may wait for the outbox writer before UNAVAILABLE.
    pub accept_timeout_ms: u64,
    /// A published row not confirmed by workflow after this long is published again.
    pub confirm_timeout_secs: u64,
    /// Confirmed rows are deleted after this long.
    pub prune_confirmed_after_secs: u64,
    /// `(channel, external_id)` keys are remembered this long.
    pub external_id_retention_days: u64,
    /// The first retry delay of a failed publish; doubles up to `retry_backoff_max_ms`.
    pub retry_backoff_initial_ms: u64,
    pub retry_backoff_max_ms: u64,
    /// How often the relay looks for unconfirmed rows to publish again and rows to prune.
    pub maintenance_interval_ms: u64,
    /// The durable JetStream consumer on TICKET_EVENTS that confirms rows; empty means
    /// `intake-confirm-<node_id>`.
    pub confirm_consumer: String,
    /// How long a graceful shutdown keeps publishing what is left in the outbox.
    pub shutdown_flush_secs: u64,
    /// The largest gRPC message accepted, in bytes (larger ones get OUT_OF_RANGE).
    pub max_message_bytes: usize,
    /// SQLite's `synchronous` setting for the outbox: "full" (default) or "normal".
    pub synchronous: String,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            node_id: 0,
            queue_group: "cloop-intake".to_owned(),
            max_in_flight: 1024,
            max_batch: 2048,
            accept_timeout_ms: 5_000,
            confirm_timeout_secs: 300,
            prune_confirmed_after_secs: 3_600,
            external_id_retention_days: 30,
            retry_backoff_initial_ms: 100,
            retry_backoff_max_ms: 5_000,
            maintenance_interval_ms: 1_000,
            confirm_consumer: String::new(),
            shutdown_flush_secs: 10,
            max_message_bytes: 1024 * 1024,
            synchronous: "full".to_owned(),
        }
    }
}

impl IntakeSettings {
    /// Checks the values that have a limited range.
    pub fn validate(&self) -> Result<(), String> {
        if self.node_id > domain::ids::MAX_NODE {
            return Err(format!(
                "[intake_service] node_id {} is above {}",
                self.node_id,
                domain::ids::MAX_NODE
            ));
        }
        if self.max_in_flight == 0 || self.max_batch == 0 {
            return Err("[intake_service] max_in_flight and max_batch must be positive".into());
        }
        if !matches!(self.synchronous.as_str(), "full" | "normal") {
            return Err(format!(
                "[intake_service] synchronous must be \"full\" or \"normal\", not {:?}",
                self.synchronous
            ));
        }
        if self.queue_group.trim().is_empty() {
            return Err("[intake_service] queue_group must not be empty".into());
        }
        Ok(())
    }

    pub fn confirm_consumer_name(&self) -> String {
        if self.confirm_consumer.trim().is_empty() {
            format!("intake-confirm-{}", self.node_id)
        } else {
            self.confirm_consumer.trim().to_owned()
        }
    }

    /// The durable consumer that confirms replies: the confirmation consumer's name with
    /// `-replies`.
    pub fn confirm_replies_consumer_name(&self) -> String {
        format!("{}-replies", self.confirm_consumer_name())
    }

    pub fn confirm_timeout(&self) -> Duration {
        Duration::from_secs(self.confirm_timeout_secs)
    }

    pub fn accept_timeout(&self) -> Duration {
        Duration::from_millis(self.accept_timeout_ms.max(1))
    }
}

/// Everything [`crate::run`] needs: addresses, folders, rules and settings.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// Addresses, data folder, tokens, rules, NATS and TLS, as every service has them.
    pub base: service::ServiceBase,
    pub settings: IntakeSettings,
}

/// The default gRPC address of `cloop-intake`.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}
