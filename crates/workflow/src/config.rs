//! The `[workflow_service]` table of the configuration file with its defaults, and
//! [`WorkflowConfig`], everything [`crate::start`] needs.

use crate::clock::Clock;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The workflow service's own settings (`[workflow_service]`). Every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowSettings {
    /// The durable pull consumer on FEEDBACK.
    pub consumer_name: String,
    /// How long JetStream waits for an ack before it delivers a message again, in seconds.
    pub ack_wait_secs: u64,
    /// How often a message is delivered at most (-1: no limit). Must exceed the number of
    /// backoff steps when backoff is given.
    pub max_deliver: i64,
    /// Redelivery delays after each failed delivery, in milliseconds; empty uses `ack_wait`.
    /// JetStream takes the first step as the ack wait of every delivery, so steps shorter than
    /// `ack_wait_secs` are raised to it (see [`WorkflowSettings::backoff`]): a shorter one would
    /// redeliver messages that are still queued in the consumer.
    pub backoff_ms: Vec<u64>,
    /// Messages fetched and recorded in one transaction at most.
    pub consume_batch: usize,
    /// Unacknowledged messages JetStream lets the consumer hold.
    pub max_ack_pending: i64,
    /// Where messages that can never be recorded go, with the reason in a header.
    pub dead_letter_subject: String,
    /// How often the SLA timers look for due tickets, in milliseconds.
    pub timer_tick_ms: u64,
    /// Tickets the timers handle per tick at most.
    pub timer_batch: usize,
    /// Log rows the publisher reads and publishes per round.
    pub publish_batch: usize,
    /// The first retry delay of the publisher after a failure; doubles up to 5 s.
    pub publish_retry_ms: u64,
    /// The default and the largest page of `ListTickets` and `ListSimilar`; a larger
    /// `page_size` is served as `max_page_size` (clamped, not refused).
    pub default_page_size: u32,
    pub max_page_size: u32,
    /// Open watches (`WatchTickets`, `ReadEvents` with `follow`) one principal may hold at
    /// once; another is refused with RESOURCE_EXHAUSTED.
    pub max_watches_per_principal: usize,
    /// The longest `filter.text` of `ListTickets`/`WatchTickets`, in characters.
    pub max_search_chars: usize,
    /// The most words in `filter.text` (each word is one more index lookup).
    pub max_search_terms: usize,
    /// How often a command without `expected_version` is retried on a concurrent change.
    pub command_retries: u32,
    /// The largest gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
    /// SQLite's `synchronous` setting for the log: "full" (default) or "normal".
    pub synchronous: String,
    /// How often the key store is copied into `<data dir>/backups/`, in seconds (default a
    /// day; 0 turns the timer off).
    pub key_backup_interval_secs: u64,
    /// How many key store backups are kept; older ones are deleted (an erased key lives on
    /// in every backup taken before the erasure).
    pub key_backups_kept: usize,
    /// How often a checkpoint of the log's head is kept and published, in seconds (one is
    /// also taken at shutdown).
    pub checkpoint_interval_secs: u64,
    /// Where checkpoints are appended; `<data-dir>/checkpoints.jsonl` when not set. Keep it
    /// (or a copy) where whoever can write the log cannot.
    pub checkpoint_file: Option<PathBuf>,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        Self {
            consumer_name: "cloop-workflow".to_owned(),
            ack_wait_secs: 30,
            max_deliver: 20,
            backoff_ms: vec![30_000, 60_000, 120_000, 300_000],
            consume_batch: 1_000,
            max_ack_pending: 5_000,
            dead_letter_subject: "feedback.deadletter".to_owned(),
            timer_tick_ms: 1_000,
            timer_batch: 500,
            publish_batch: 2_000,
            publish_retry_ms: 100,
            default_page_size: 50,
            max_page_size: 500,
            max_watches_per_principal: 8,
            max_search_chars: 200,
            max_search_terms: 8,
            command_retries: 16,
            max_message_bytes: 1024 * 1024,
            synchronous: "full".to_owned(),
            key_backup_interval_secs: 86_400,
            key_backups_kept: 7,
            checkpoint_interval_secs: 300,
            checkpoint_file: None,
        }
    }
}

impl WorkflowSettings {
    /// Checks the values that have a limited range; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.consumer_name.trim().is_empty() {
            return Err("[workflow_service] consumer_name must not be empty".into());
        }
        if self.consume_batch == 0 || self.publish_batch == 0 || self.timer_batch == 0 {
            return Err(
                "[workflow_service] consume_batch, publish_batch and timer_batch must be positive"
                    .into(),
            );
        }
        if self.max_deliver != -1
            && (self.max_deliver < 1
                || (!self.backoff_ms.is_empty()
                    && self.max_deliver <= i64::try_from(self.backoff_ms.len()).unwrap_or(0)))
        {
            return Err("[workflow_service] max_deliver must be -1 or greater than the number of backoff steps".into());
        }
        if self.max_ack_pending < 1 {
            return Err("[workflow_service] max_ack_pending must be positive".into());
        }
        if self.default_page_size == 0 || self.max_page_size < self.default_page_size {
            return Err(
                "[workflow_service] default_page_size must be positive and at most max_page_size"
                    .into(),
            );
        }
        if self.max_watches_per_principal == 0 {
            return Err("[workflow_service] max_watches_per_principal must be positive".into());
        }
        if self.max_search_chars == 0 || self.max_search_terms == 0 {
            return Err(
                "[workflow_service] max_search_chars and max_search_terms must be positive".into(),
            );
        }
        if !matches!(self.synchronous.as_str(), "full" | "normal") {
            return Err(format!(
                "[workflow_service] synchronous must be \"full\" or \"normal\", not {:?}",
                self.synchronous
            ));
        }
        if self.key_backup_interval_secs > 0 && self.key_backups_kept == 0 {
            return Err(
                "[workflow_service] key_backups_kept must be positive while key backups are on"
                    .into(),
            );
        }
        if self.dead_letter_subject.trim().is_empty() {
            return Err("[workflow_service] dead_letter_subject must not be empty".into());
        }
        Ok(())
    }

    pub fn ack_wait(&self) -> Duration {
        Duration::from_secs(self.ack_wait_secs.max(1))
    }

    /// The backoff JetStream is given: every step at least the ack wait, because JetStream
    /// uses the first step as the ack wait of every delivery.
    pub fn backoff(&self) -> Vec<Duration> {
        let ack_wait = self.ack_wait();
        self.backoff_ms
            .iter()
            .map(|millis| Duration::from_millis(*millis).max(ack_wait))
            .collect()
    }

    pub fn timer_tick(&self) -> Duration {
        Duration::from_millis(self.timer_tick_ms.max(10))
    }

    /// The interval of the checkpoint timer.
    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_secs(self.checkpoint_interval_secs.max(1))
    }

    /// The interval of the key store backup timer; `None` when it is off.
    pub fn key_backup_interval(&self) -> Option<Duration> {
        (self.key_backup_interval_secs > 0)
            .then(|| Duration::from_secs(self.key_backup_interval_secs))
    }
}

/// Everything [`crate::start`] needs: addresses, folders, rules, settings and the clock.
#[derive(Debug, Clone)]
pub struct WorkflowConfig {
    /// Addresses, data folder, tokens, rules, NATS and TLS, as every service has them.
    pub base: service::ServiceBase,
    /// Where the event log lives (`--store`): `None` is `workflow.db` in the data folder; a
    /// PostgreSQL store lets several replicas share the log (see `leader`).
    pub store: Option<eventlog::StoreUrl>,
    /// Where the customer keys live (`--keys-store`): `None` is `keys.db` in the data folder
    /// next to a SQLite log, the log's own database next to a PostgreSQL one. A database of
    /// their own keeps keys out of the log's backups.
    pub keys_store: Option<eventlog::StoreUrl>,
    pub settings: WorkflowSettings,
    /// The `[retention]` table: when archived tickets leave the lists.
    pub retention: crate::duties::retention::RetentionSettings,
    /// The system clock in production; tests may pass a [`crate::clock::TestClock`].
    pub clock: Arc<dyn Clock>,
    /// The trained classifier of the classify step with its thresholds (`[classifier]`, read
    /// by [`crate::classifier::load`]); `None` when it is turned off.
    pub classifier: Option<Arc<domain::classifier::placement::Placer>>,
    /// The key of the customers' signed rating links (`[selfservice]`, read by
    /// [`service::ratelink::SelfServiceSettings::load_key`]); `None` when none is configured.
    pub rating_links: Option<service::ratelink::LinkKey>,
}

/// The default gRPC address of `cloop-workflow`.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50052))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        assert_eq!(WorkflowSettings::default().validate(), Ok(()));
        let too_few_deliveries = WorkflowSettings {
            max_deliver: 2,
            ..WorkflowSettings::default()
        };
        let error = too_few_deliveries
            .validate()
            .expect_err("2 deliveries, 4 backoff steps");
        assert!(error.contains("max_deliver"), "{error}");
        let bad_sync = WorkflowSettings {
            synchronous: "sometimes".into(),
            ..WorkflowSettings::default()
        };
        assert!(bad_sync.validate().is_err());
    }

    #[test]
    fn the_section_is_read_from_the_configuration_file() {
        let file = service::config::ConfigFile::from_toml_str(
            "[workflow_service]\ntimer_tick_ms = 50\nack_wait_secs = 1\nbackoff_ms = [1000]\n",
            None,
        )
        .expect("valid file");
        let settings: WorkflowSettings = file.section("workflow_service").expect("section");
        assert_eq!(settings.timer_tick(), Duration::from_millis(50));
        assert_eq!(settings.backoff(), vec![Duration::from_millis(1_000)]);
        let short_backoff = WorkflowSettings {
            backoff_ms: vec![200, 60_000],
            ..WorkflowSettings::default()
        };
        assert_eq!(
            short_backoff.backoff(),
            vec![Duration::from_secs(30), Duration::from_secs(60)],
            "no step is shorter than the ack wait"
        );
        assert_eq!(settings.consumer_name, "cloop-workflow");
    }
}
