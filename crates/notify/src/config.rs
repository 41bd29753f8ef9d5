//! The `[notify]` section of the configuration file: where the workflow is, the service token,
//! the consumer, the retry policy, the senders (webhook, SMTP, a local file) and the notice
//! templates.

use crate::error::NotifyError;
use crate::template::Templates;
use domain::notification::NoticeKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[notify]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// The workflow's gRPC address (`GetTicket`, `RecordNotification`).
    pub workflow_url: String,
    /// The CA file (PEM) that signed the workflow's certificate, for an `https://`
    /// `workflow_url` (`--workflow-ca` wins); without it the system's roots are trusted.
    pub workflow_ca: Option<std::path::PathBuf>,
    /// The client certificate and key (PEM) shown to a workflow that requires mutual TLS
    /// (`--workflow-cert`, `--workflow-key` win).
    pub workflow_cert: Option<std::path::PathBuf>,
    pub workflow_key: Option<std::path::PathBuf>,
    /// A bearer token of role `service` (or `admin`) for the workflow. `token_env` names an
    /// environment variable to read it from instead, so the file need not hold it.
    pub token: String,
    pub token_env: String,
    /// The durable consumer's name on TICKET_EVENTS.
    pub consumer_name: String,
    /// How long JetStream waits for an ack before redelivering, in milliseconds.
    pub ack_wait_ms: u64,
    /// Delivery attempts per notice before giving up (recorded `final`).
    pub max_attempts: u32,
    /// Exponential backoff between attempts: base, doubled each attempt, capped, with jitter.
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// How long one gRPC call to the workflow may take, in milliseconds.
    pub request_timeout_ms: u64,
    /// The language of customers whose ticket names none: `zh` or `en`.
    pub default_language: String,
    pub webhook: Option<WebhookSettings>,
    pub smtp: Option<SmtpSettings>,
    /// `[notify.file]`: notices appended to a local file, for the contacts neither of the
    /// others reaches.
    pub file: Option<FileSettings>,
    /// `[notify.templates.zh]` / `[notify.templates.en]`: `<notice> = "text"` and
    /// `<notice>_subject` for e-mail; each overrides the built-in text.
    pub templates: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            workflow_url: "http://127.0.0.1:50052".to_owned(),
            workflow_ca: None,
            workflow_cert: None,
            workflow_key: None,
            token: String::new(),
            token_env: "CLOOP_NOTIFY_TOKEN".to_owned(),
            consumer_name: "notify".to_owned(),
            ack_wait_ms: 60_000,
            max_attempts: 6,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 300_000,
            request_timeout_ms: 10_000,
            default_language: "zh".to_owned(),
            webhook: None,
            smtp: None,
            file: None,
            templates: BTreeMap::new(),
        }
    }
}

/// `[notify.webhook]`: the HTTP sender for phone (SMS gateway) and WeChat (bridge) contacts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http://host:port/path`.
    pub url: String,
    /// The HMAC-SHA256 key; `secret_env` names an environment variable to read it from.
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub secret_env: String,
    #[serde(default = "default_send_timeout_ms")]
    pub timeout_ms: u64,
}

/// `[notify.smtp]`: the e-mail sender (plain SMTP to a local relay).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender address, e.g. `service@example.com`.
    pub from: String,
    #[serde(default = "default_send_timeout_ms")]
    pub timeout_ms: u64,
}

/// `[notify.file]`: each notice appended as one JSON line (the webhook's body) to a local file,
/// created with mode 0600 since it holds contacts. It stands in for the contacts no webhook or
/// SMTP sender is configured for: a local demonstration (`make run`), or a hand-off to a
/// system that reads the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// The file; a relative path is inside the data folder (`--data-dir`).
    pub path: std::path::PathBuf,
}

fn default_send_timeout_ms() -> u64 {
    10_000
}

fn default_smtp_port() -> u16 {
    25
}

fn read_secret(value: &str, env: &str) -> String {
    if !value.is_empty() {
        return value.to_owned();
    }
    if env.is_empty() {
        return String::new();
    }
    std::env::var(env).unwrap_or_default()
}

impl NotifySettings {
    /// The workflow token, from the file or the environment.
    pub fn workflow_token(&self) -> String {
        read_secret(&self.token, &self.token_env)
    }

    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms.max(1_000))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(100))
    }

    /// The pause before attempt `attempt + 1`: `base · 2^(attempt-1)`, capped, then a random
    /// share of up to a half taken off (`jitter` in 0..1), so retries of many notices spread.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let full = self
            .backoff_base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.backoff_cap_ms);
        let jitter = jitter.clamp(0.0, 1.0);
        let cut = (full as f64 * 0.5 * jitter) as u64;
        Duration::from_millis(full.saturating_sub(cut))
    }

    /// Checks what start-up needs; the error names the key.
    pub fn validate(&self) -> Result<Templates, NotifyError> {
        let error = |key: &str, reason: &str| NotifyError::Config {
            key: format!("notify.{key}"),
            reason: reason.to_owned(),
        };
        if !self.workflow_url.starts_with("http://") && !self.workflow_url.starts_with("https://") {
            return Err(error("workflow_url", "must start with http:// or https://"));
        }
        if self.workflow_token().is_empty() {
            return Err(error(
                "token",
                "a service token is needed (token, or the variable named by token_env)",
            ));
        }
        if self.max_attempts == 0 {
            return Err(error("max_attempts", "must be at least 1"));
        }
        if self.backoff_cap_ms < self.backoff_base_ms {
            return Err(error("backoff_cap_ms", "must not be below backoff_base_ms"));
        }
        if domain::rules::config::Language::from_tag(&self.default_language).is_none() {
            return Err(error("default_language", "must be zh or en"));
        }
        if let Some(webhook) = &self.webhook {
            if !webhook.url.starts_with("http://") {
                return Err(error(
                    "webhook.url",
                    "must be an http:// address (terminate TLS in a local proxy)",
                ));
            }
            if read_secret(&webhook.secret, &webhook.secret_env).is_empty() {
                return Err(error(
                    "webhook.secret",
                    "a signing secret is needed (secret, or the variable named by secret_env)",
                ));
            }
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                return Err(error("smtp.host", "must not be empty"));
            }
            if !smtp.from.contains('@') {
                return Err(error("smtp.from", "must be an e-mail address"));
            }
        }
        if let Some(file) = &self.file {
            if file.path.as_os_str().is_empty() {
                return Err(error("file.path", "must not be empty"));
            }
        }
        if self.webhook.is_none() && self.smtp.is_none() && self.file.is_none() {
            tracing::warn!("no sender configured: every notice will fail as unreachable");
        }
        Templates::new(&self.templates)
    }

    /// The webhook secret, from the file or the environment.
    pub fn webhook_secret(&self) -> String {
        self.webhook
            .as_ref()
            .map(|webhook| read_secret(&webhook.secret, &webhook.secret_env))
            .unwrap_or_default()
    }
}

/// The command id of one recorded attempt: a repeat of the same attempt records nothing new.
pub fn command_id(source_event_id: &str, notice: NoticeKind, attempt: u32) -> String {
    format!("notify:{source_event_id}:{notice}:{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_only_shortens() {
        let settings = NotifySettings {
            backoff_base_ms: 100,
            backoff_cap_ms: 1_000,
            ..NotifySettings::default()
        };
        assert_eq!(settings.backoff(1, 0.0), Duration::from_millis(100));
        assert_eq!(settings.backoff(2, 0.0), Duration::from_millis(200));
        assert_eq!(settings.backoff(3, 0.0), Duration::from_millis(400));
        assert_eq!(settings.backoff(9, 0.0), Duration::from_millis(1_000));
        assert_eq!(settings.backoff(64, 0.0), Duration::from_millis(1_000));
        assert_eq!(settings.backoff(2, 1.0), Duration::from_millis(100));
    }

    #[test]
    fn missing_token_and_bad_addresses_are_refused() {
        let settings = NotifySettings {
            token_env: String::new(),
            ..NotifySettings::default()
        };
        assert!(
            matches!(settings.validate(), Err(NotifyError::Config { key, .. }) if key == "notify.token")
        );
        let settings = NotifySettings {
            token: "t".to_owned(),
            webhook: Some(WebhookSettings {
                url: "ftp://x".to_owned(),
                secret: "s".to_owned(),
                secret_env: String::new(),
                timeout_ms: 1,
            }),
            ..NotifySettings::default()
        };
        assert!(
            matches!(settings.validate(), Err(NotifyError::Config { key, .. }) if key == "notify.webhook.url")
        );
    }

    #[test]
    fn command_ids_fit_the_limit() {
        let id = command_id(
            "0195f3a0-0000-7000-8000-000000000001",
            NoticeKind::SuggestionAdopted,
            99,
        );
        assert!(id.len() <= domain::ids::MAX_COMMAND_ID_CHARS);
    }
}
