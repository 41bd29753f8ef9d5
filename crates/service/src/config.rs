//! The one configuration file of the services: the domain's sections (read by
//! `domain::rules::DomainConfig`), and the service-owned tables (`[nats]`, `[intake_service]`,
//! `[workflow_service]`, ...) read here with typed defaults.

use crate::error::ServiceError;
use domain::rules::DomainConfig;
use domain::Rules;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A loaded configuration: the domain part, compiled into its rules once at loading, and the
/// raw table for service sections.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it came from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    /// The domain's sections as read (the configuration `rules` were compiled from).
    pub domain: DomainConfig,
    rules: Arc<Rules>,
    table: toml::Table,
}

impl ConfigFile {
    /// The built-in defaults.
    pub fn defaults() -> Self {
        let rules = Rules::defaults();
        Self {
            path: None,
            domain: rules.config().clone(),
            rules: Arc::new(rules),
            table: toml::Table::new(),
        }
    }

    /// Reads `path`, or returns the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Self, ServiceError> {
        let Some(path) = path else {
            return Ok(Self::defaults());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ServiceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, Some(path))
    }

    /// Parses configuration text; errors name the file and the dotted key.
    pub fn from_toml_str(text: &str, path: Option<&Path>) -> Result<Self, ServiceError> {
        let shown = path.map_or_else(|| "<text>".to_owned(), |path| path.display().to_string());
        let table: toml::Table = toml::from_str(text).map_err(|error| ServiceError::Config {
            path: shown.clone(),
            reason: error.message().to_owned(),
        })?;
        let rules = Rules::from_toml_str(text).map_err(|error| ServiceError::Config {
            path: shown,
            reason: error.to_string(),
        })?;
        Ok(Self {
            path: path.map(Path::to_path_buf),
            domain: rules.config().clone(),
            rules: Arc::new(rules),
            table,
        })
    }

    fn shown_path(&self) -> String {
        self.path.as_ref().map_or_else(
            || "<defaults>".to_owned(),
            |path| path.display().to_string(),
        )
    }

    /// The domain's rules of this file, compiled (and so checked) when it was loaded.
    pub fn rules(&self) -> Arc<Rules> {
        Arc::clone(&self.rules)
    }

    /// Reads the service-owned table `key` (absent → `T::default()`); unknown keys and wrong
    /// types are errors naming `key`.
    pub fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ServiceError> {
        match self.table.get(key) {
            None => Ok(T::default()),
            Some(value) => {
                value
                    .clone()
                    .try_into()
                    .map_err(|error: toml::de::Error| ServiceError::Config {
                        path: self.shown_path(),
                        reason: format!("[{key}]: {}", error.message()),
                    })
            }
        }
    }
}

/// The `[nats]` table: the JetStream streams the services create or update at start-up.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Stream FEEDBACK: `FeedbackReceived` published by intake.
    pub feedback_stream: StreamSettings,
    /// Stream TICKET_EVENTS: the log rows published by workflow.
    pub ticket_events_stream: StreamSettings,
    /// How long a JetStream API call or publish ack may take, in milliseconds.
    pub request_timeout_ms: u64,
    /// When set, the replica count of both streams (overrides each stream's `replicas`): 3 in
    /// a three-node cluster. `--stream-replicas` (`CLOOP_STREAM_REPLICAS`) overrides this.
    pub stream_replicas: Option<usize>,
    /// The client's identity and TLS (`creds`, `nkey`, `user`, `password`, `password_file`,
    /// `ca`, `cert`, `key`, `inbox_prefix`): what the `--nats-*` flags of `nats_auth` set,
    /// which win over these keys. Checked by `NatsConfig::client_auth`.
    pub creds: Option<PathBuf>,
    pub nkey: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<crate::secret::Secret>,
    pub password_file: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub inbox_prefix: Option<String>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            feedback_stream: StreamSettings::feedback(),
            ticket_events_stream: StreamSettings::ticket_events(),
            request_timeout_ms: 5_000,
            stream_replicas: None,
            creds: None,
            nkey: None,
            user: None,
            password: None,
            password_file: None,
            ca: None,
            cert: None,
            key: None,
            inbox_prefix: None,
        }
    }
}

/// The most replicas JetStream allows for a stream.
pub const MAX_STREAM_REPLICAS: usize = 5;

impl NatsConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// Applies the replica count of `--stream-replicas` (`flag`, which wins) or of the
    /// `stream_replicas` key to both streams, and checks every stream's count (1 to 5).
    pub fn with_stream_replicas(mut self, flag: Option<usize>) -> Result<Self, ServiceError> {
        if let Some(replicas) = flag.or(self.stream_replicas) {
            self.stream_replicas = Some(replicas);
            self.feedback_stream.replicas = replicas;
            self.ticket_events_stream.replicas = replicas;
        }
        for stream in [&self.feedback_stream, &self.ticket_events_stream] {
            if !(1..=MAX_STREAM_REPLICAS).contains(&stream.replicas) {
                return Err(ServiceError::Config {
                    path: "[nats]".to_owned(),
                    reason: format!(
                        "stream {} replicas {}: must be 1 to {MAX_STREAM_REPLICAS}",
                        stream.name, stream.replicas
                    ),
                });
            }
        }
        Ok(self)
    }
}

/// How messages are retained: JetStream's `limits`, `interest` or `workqueue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    Limits,
    Interest,
    Workqueue,
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    File,
    Memory,
}

/// The settings of one JetStream stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    pub name: String,
    pub subjects: Vec<String>,
    #[serde(default = "default_retention")]
    pub retention: Retention,
    #[serde(default = "default_storage")]
    pub storage: Storage,
    /// How long messages are kept, in seconds; 0 keeps them until a limit removes them.
    #[serde(default)]
    pub max_age_secs: u64,
    /// The byte limit of the stream; -1 for none.
    #[serde(default = "unlimited")]
    pub max_bytes: i64,
    #[serde(default = "one")]
    pub replicas: usize,
    /// The `Nats-Msg-Id` duplicate window, in seconds.
    #[serde(default = "two_minutes")]
    pub duplicate_window_secs: u64,
}

fn default_retention() -> Retention {
    Retention::Limits
}
fn default_storage() -> Storage {
    Storage::File
}
fn unlimited() -> i64 {
    -1
}
fn one() -> usize {
    1
}
fn two_minutes() -> u64 {
    120
}

impl StreamSettings {
    /// FEEDBACK: `feedback.received.>`, kept for 30 days.
    pub fn feedback() -> Self {
        Self {
            name: proto::FEEDBACK_STREAM.to_owned(),
            subjects: vec![format!("{}.>", proto::RECEIVED_SUBJECT_PREFIX)],
            retention: Retention::Limits,
            storage: Storage::File,
            max_age_secs: 30 * 24 * 3600,
            max_bytes: -1,
            replicas: 1,
            duplicate_window_secs: 120,
        }
    }

    /// TICKET_EVENTS: `ticket.events.>`, kept for 30 days.
    pub fn ticket_events() -> Self {
        Self {
            name: proto::TICKET_EVENTS_STREAM.to_owned(),
            subjects: vec![format!("{}.>", proto::TICKET_EVENTS_SUBJECT_PREFIX)],
            ..Self::feedback()
        }
    }

    /// The async-nats stream configuration.
    pub fn to_stream_config(&self) -> async_nats::jetstream::stream::Config {
        use async_nats::jetstream::stream;
        stream::Config {
            name: self.name.clone(),
            subjects: self.subjects.clone(),
            retention: match self.retention {
                Retention::Limits => stream::RetentionPolicy::Limits,
                Retention::Interest => stream::RetentionPolicy::Interest,
                Retention::Workqueue => stream::RetentionPolicy::WorkQueue,
            },
            storage: match self.storage {
                Storage::File => stream::StorageType::File,
                Storage::Memory => stream::StorageType::Memory,
            },
            max_age: Duration::from_secs(self.max_age_secs),
            max_bytes: self.max_bytes,
            num_replicas: self.replicas.max(1),
            duplicate_window: Duration::from_secs(self.duplicate_window_secs),
            ..Default::default()
        }
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self::feedback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Example {
        node_id: u16,
    }

    #[test]
    fn no_file_means_defaults() {
        let config = ConfigFile::load(None).expect("defaults");
        assert!(config
            .domain
            .channels
            .iter()
            .any(|channel| channel == "web"));
        let nats: NatsConfig = config.section("nats").expect("default nats");
        assert_eq!(nats.feedback_stream.name, "FEEDBACK");
        assert_eq!(
            nats.ticket_events_stream.subjects,
            vec!["ticket.events.>".to_owned()]
        );
    }

    #[test]
    fn service_sections_are_read_and_checked() {
        let text = "[intake_service]\nnode_id = 7\n\n[nats.feedback_stream]\nname = \"FEEDBACK\"\nsubjects = [\"feedback.received.>\"]\nreplicas = 3\n";
        let config = ConfigFile::from_toml_str(text, None).expect("valid");
        let example: Example = config.section("intake_service").expect("section");
        assert_eq!(example.node_id, 7);
        let nats: NatsConfig = config.section("nats").expect("nats");
        assert_eq!(nats.feedback_stream.replicas, 3);
        assert_eq!(nats.feedback_stream.duplicate_window_secs, 120);

        let bad =
            ConfigFile::from_toml_str("[intake_service]\nnode = 7\n", None).expect("domain ok");
        let error = bad
            .section::<Example>("intake_service")
            .expect_err("unknown key");
        assert!(error.to_string().contains("intake_service"), "{error}");
    }

    #[test]
    fn stream_replicas_apply_to_both_streams_and_the_flag_wins() {
        let config =
            ConfigFile::from_toml_str("[nats]\nstream_replicas = 3\n", None).expect("valid");
        let nats: NatsConfig = config.section("nats").expect("nats");
        let from_key = nats.clone().with_stream_replicas(None).expect("3 is valid");
        assert_eq!(from_key.feedback_stream.replicas, 3);
        assert_eq!(from_key.ticket_events_stream.replicas, 3);
        let from_flag = nats.with_stream_replicas(Some(1)).expect("1 is valid");
        assert_eq!(from_flag.feedback_stream.replicas, 1);
        assert_eq!(from_flag.ticket_events_stream.replicas, 1);
        let default = NatsConfig::default()
            .with_stream_replicas(None)
            .expect("defaults are valid");
        assert_eq!(default.feedback_stream.replicas, 1);
        for wrong in [0, 6] {
            let error = NatsConfig::default()
                .with_stream_replicas(Some(wrong))
                .expect_err("out of range");
            assert!(error.to_string().contains("replicas"), "{error}");
        }
    }

    #[test]
    fn the_rules_are_compiled_at_loading() {
        let error = ConfigFile::from_toml_str("channels = []\n", Some(Path::new("x.toml")))
            .expect_err("a configuration without channels does not compile");
        assert!(error.to_string().contains("x.toml"), "{error}");
        assert!(error.to_string().contains("channel"), "{error}");
        let config =
            ConfigFile::from_toml_str("channels = [\"web\", \"email\"]\n", None).expect("valid");
        assert_eq!(config.rules().config(), &config.domain);
        assert_eq!(config.rules().config().channels, ["web", "email"]);
    }

    #[test]
    fn a_shared_file_with_a_console_table_is_accepted() {
        let text = "[intake_service]\nnode_id = 3\n\n[workflow_service]\n\n[console]\nlisten = \"127.0.0.1:8080\"\ntitle = \"Support\"\n";
        let config = ConfigFile::from_toml_str(text, Some(Path::new("shared.toml")))
            .expect("[console] belongs to the console, not to the domain");
        let example: Example = config.section("intake_service").expect("section");
        assert_eq!(example.node_id, 3);
        assert!(config.rules().config().channels.iter().any(|c| c == "web"));
    }

    #[test]
    fn a_broken_file_gives_one_clear_error() {
        let error = ConfigFile::from_toml_str("channels = 5", Some(Path::new("x.toml")))
            .expect_err("channels must be a list");
        assert!(error.to_string().contains("x.toml"), "{error}");
    }
}
