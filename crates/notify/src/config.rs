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
    /// A CA file (PEM) trusted, besides the system's roots, for `https://` webhooks (customer
    /// notices and staff alerts): a private CA's.
    pub ca_file: Option<std::path::PathBuf>,
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
    /// How long the workflow may take to compute a scheduled report (`Reports.Report` at the
    /// position of its `report_scheduled` event folds the log up to there), in milliseconds.
    pub report_timeout_ms: u64,
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
    /// `[notify.alerts]`: how staff alerts are sent (`docs/notify.md`, "Staff alerts").
    pub alerts: AlertSettings,
    /// `[[notify.staff]]`: the contact routes of people, by principal name.
    pub staff: Vec<StaffRoute>,
    /// `[notify.departments.<id>]`: a department's group robot.
    pub departments: BTreeMap<String, DepartmentRoute>,
}

/// `[notify.alerts]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Outside working time (the `[calendar]`) an alert waits for the next working minute,
    /// except for urgent tickets.
    pub quiet_hours: bool,
    /// The HMAC-SHA256 key of the alert webhooks; `secret_env` names a variable to read it
    /// from. Without either, `[notify.webhook]`'s secret signs them.
    pub secret: String,
    pub secret_env: String,
    /// How long one post or e-mail may take, in milliseconds.
    pub timeout_ms: u64,
    /// How often alerts that are due are looked for, in milliseconds.
    pub poll_ms: u64,
    /// Events older than this when first seen yield no alert (a fresh notifier beside an old
    /// stream does not page people about last month).
    pub skip_older_than_hours: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            quiet_hours: true,
            secret: String::new(),
            secret_env: String::new(),
            timeout_ms: default_send_timeout_ms(),
            poll_ms: 1_000,
            skip_older_than_hours: 24,
        }
    }
}

/// `[[notify.staff]]`: how one person (a principal of the tokens file) is reached.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffRoute {
    /// The principal name, as in the tokens file.
    pub name: String,
    /// An e-mail address (sent through `[notify.smtp]`).
    #[serde(default)]
    pub email: String,
    /// An `http://` or `https://` webhook (a WeCom or DingTalk group robot, or a JSON
    /// receiver); preferred over `email` when both are given.
    #[serde(default)]
    pub webhook: String,
    /// The webhook's body: `wecom`, `wecom_markdown`, `dingtalk`, `dingtalk_markdown` or
    /// `json`.
    #[serde(default = "default_format")]
    pub format: String,
    /// `zh` (the default) or `en`.
    #[serde(default = "default_staff_language")]
    pub language: String,
}

/// `[notify.departments.<id>]`: the group robot of a department.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentRoute {
    /// An `http://` or `https://` webhook of the department's group robot.
    pub webhook: String,
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default = "default_staff_language")]
    pub language: String,
}

fn default_format() -> String {
    "wecom".to_owned()
}

fn default_staff_language() -> String {
    "zh".to_owned()
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            workflow_url: "http://127.0.0.1:50052".to_owned(),
            workflow_ca: None,
            workflow_cert: None,
            workflow_key: None,
            ca_file: None,
            token: String::new(),
            token_env: "CLOOP_NOTIFY_TOKEN".to_owned(),
            consumer_name: "notify".to_owned(),
            ack_wait_ms: 60_000,
            max_attempts: 6,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 300_000,
            request_timeout_ms: 10_000,
            report_timeout_ms: 900_000,
            default_language: "zh".to_owned(),
            webhook: None,
            smtp: None,
            file: None,
            templates: BTreeMap::new(),
            alerts: AlertSettings::default(),
            staff: Vec::new(),
            departments: BTreeMap::new(),
        }
    }
}

/// `[notify.webhook]`: the HTTP sender for phone (SMS gateway) and WeChat (bridge) contacts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http://host:port/path` or `https://host[:port]/path`.
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

    /// The timeout of a scheduled report's computation, at least the request timeout.
    pub fn report_timeout(&self) -> Duration {
        Duration::from_millis(self.report_timeout_ms).max(self.request_timeout())
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
            if !is_web_address(&webhook.url) {
                return Err(error(
                    "webhook.url",
                    "must be an http:// or https:// address",
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
        self.validate_alerts()?;
        Templates::new(&self.templates)
    }

    /// The key that signs alert webhooks: `[notify.alerts]`'s, else `[notify.webhook]`'s.
    pub fn alert_secret(&self) -> String {
        let own = read_secret(&self.alerts.secret, &self.alerts.secret_env);
        if own.is_empty() {
            self.webhook_secret()
        } else {
            own
        }
    }

    /// The webhook secret, from the file or the environment.
    pub fn webhook_secret(&self) -> String {
        self.webhook
            .as_ref()
            .map(|webhook| read_secret(&webhook.secret, &webhook.secret_env))
            .unwrap_or_default()
    }
}

/// The body an alert webhook is posted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// WeCom group robot, text: `{"msgtype":"text","text":{"content":...}}`.
    Wecom,
    /// WeCom group robot, markdown: `{"msgtype":"markdown","markdown":{"content":...}}`.
    WecomMarkdown,
    /// DingTalk group robot, text: `{"msgtype":"text","text":{"content":...}}`.
    Dingtalk,
    /// DingTalk group robot, markdown: `{"msgtype":"markdown","markdown":{"title":...,"text":...}}`.
    DingtalkMarkdown,
    /// The notifier's own JSON body (like a customer notice's).
    Json,
}

impl AlertFormat {
    /// Every format, by its configuration name.
    pub const ALL: &'static [(&'static str, AlertFormat)] = &[
        ("wecom", AlertFormat::Wecom),
        ("wecom_markdown", AlertFormat::WecomMarkdown),
        ("dingtalk", AlertFormat::Dingtalk),
        ("dingtalk_markdown", AlertFormat::DingtalkMarkdown),
        ("json", AlertFormat::Json),
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == text.trim())
            .map(|(_, format)| *format)
    }

    /// The channel recorded on the ticket: `wecom`, `dingtalk` or `webhook`.
    pub fn channel(self) -> &'static str {
        match self {
            AlertFormat::Wecom | AlertFormat::WecomMarkdown => "wecom",
            AlertFormat::Dingtalk | AlertFormat::DingtalkMarkdown => "dingtalk",
            AlertFormat::Json => "webhook",
        }
    }
}

impl NotifySettings {
    /// Checks `[notify.alerts]`, `[[notify.staff]]` and `[notify.departments.*]` on their own
    /// (names against the tokens file and departments against the configuration are checked
    /// where those are known, `staff::Roster::new`).
    fn validate_alerts(&self) -> Result<(), NotifyError> {
        let error = |key: String, reason: String| NotifyError::Config {
            key: format!("notify.{key}"),
            reason,
        };
        if self.alerts.poll_ms == 0 {
            return Err(error("alerts.poll_ms".into(), "must be at least 1".into()));
        }
        let check_format_and_language = |key: &str, format: &str, language: &str| {
            if AlertFormat::parse(format).is_none() {
                let names: Vec<&str> = AlertFormat::ALL.iter().map(|(name, _)| *name).collect();
                return Err(error(
                    format!("{key}.format"),
                    format!("{format:?} is not one of {}", names.join(", ")),
                ));
            }
            if domain::rules::config::Language::from_tag(language).is_none() {
                return Err(error(format!("{key}.language"), "must be zh or en".into()));
            }
            Ok(())
        };
        let check_webhook = |key: String, url: &str, format: &str, language: &str| {
            if !is_web_address(url) {
                return Err(error(
                    format!("{key}.webhook"),
                    "must be an http:// or https:// address".into(),
                ));
            }
            check_format_and_language(&key, format, language)
        };
        let mut names = std::collections::BTreeSet::new();
        let mut any_webhook = false;
        for (index, route) in self.staff.iter().enumerate() {
            let key = format!("staff[{index}]");
            if route.name.trim().is_empty() {
                return Err(error(format!("{key}.name"), "must not be empty".into()));
            }
            if !names.insert(route.name.trim()) {
                return Err(error(
                    format!("{key}.name"),
                    format!("{:?} has a route already", route.name),
                ));
            }
            if route.email.trim().is_empty() && route.webhook.trim().is_empty() {
                return Err(error(key, "needs an email or a webhook".into()));
            }
            if !route.email.trim().is_empty() {
                if !route.email.contains('@') {
                    return Err(error(
                        format!("{key}.email"),
                        "must be an e-mail address".into(),
                    ));
                }
                if self.smtp.is_none() {
                    return Err(error(
                        format!("{key}.email"),
                        "e-mail needs [notify.smtp]".into(),
                    ));
                }
            }
            if route.webhook.trim().is_empty() {
                check_format_and_language(&key, &route.format, &route.language)?;
            } else {
                any_webhook = true;
                check_webhook(key, route.webhook.trim(), &route.format, &route.language)?;
            }
        }
        for (department, route) in &self.departments {
            any_webhook = true;
            let key = format!("departments.{department}");
            check_webhook(key, route.webhook.trim(), &route.format, &route.language)?;
        }
        if any_webhook && self.alert_secret().is_empty() {
            return Err(error(
                "alerts.secret".into(),
                "alert webhooks are signed: set secret (or secret_env) here or in [notify.webhook]"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Whether `url` is `http://` or `https://` followed by a host.
fn is_web_address(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

impl NotifySettings {
    /// Every webhook URL configured (customer notices, people, departments).
    fn webhook_urls(&self) -> impl Iterator<Item = &str> {
        let notices = self.webhook.iter().map(|webhook| webhook.url.as_str());
        let people = self.staff.iter().map(|route| route.webhook.as_str());
        let departments = self
            .departments
            .values()
            .map(|route| route.webhook.as_str());
        notices.chain(people).chain(departments).map(str::trim)
    }

    /// The TLS of the `https://` webhooks, loaded when one is configured (or `ca_file` is
    /// set); `None` when every webhook is plain `http://`.
    pub fn webhook_tls(&self) -> Result<Option<crate::https::WebhookTls>, NotifyError> {
        let https = self.webhook_urls().any(|url| url.starts_with("https://"));
        if !https && self.ca_file.is_none() {
            return Ok(None);
        }
        crate::https::WebhookTls::load(self.ca_file.as_deref())
            .map(Some)
            .map_err(|reason| NotifyError::Config {
                key: "notify.ca_file".to_owned(),
                reason,
            })
    }

    /// Checks that every recipient of the scheduled reports (`[report_delivery]`) can be
    /// reached: an e-mail route in `[[notify.staff]]` and the `[notify.smtp]` sender. Nothing
    /// to check while delivery is off.
    pub fn check_report_delivery(
        &self,
        delivery: &domain::rules::config::ReportDeliveryConfig,
    ) -> Result<(), NotifyError> {
        if !delivery.enabled() {
            return Ok(());
        }
        if self.smtp.is_none() {
            return Err(NotifyError::Config {
                key: "notify.smtp".into(),
                reason: "[report_delivery] e-mails the reports: configure the sender".into(),
            });
        }
        for (index, name) in delivery.recipients.iter().enumerate() {
            let reachable = self
                .staff
                .iter()
                .any(|route| route.name.trim() == name.trim() && !route.email.trim().is_empty());
            if !reachable {
                return Err(NotifyError::Config {
                    key: format!("report_delivery.recipients[{index}]"),
                    reason: format!("{name:?} has no e-mail route in [[notify.staff]]"),
                });
            }
        }
        Ok(())
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
    fn report_recipients_need_an_e_mail_route_and_the_smtp_sender() {
        let delivery = domain::rules::config::ReportDeliveryConfig {
            monthly: true,
            recipients: vec!["qian.manager".into()],
            ..Default::default()
        };
        let mut settings = NotifySettings::default();
        assert!(settings.check_report_delivery(&Default::default()).is_ok());
        let error = settings
            .check_report_delivery(&delivery)
            .expect_err("no sender");
        assert!(error.to_string().contains("notify.smtp"), "{error}");
        settings.smtp = Some(SmtpSettings {
            host: "127.0.0.1".into(),
            port: 25,
            from: "service@example.com".into(),
            timeout_ms: 1_000,
        });
        let error = settings
            .check_report_delivery(&delivery)
            .expect_err("no route");
        assert!(
            error.to_string().contains("report_delivery.recipients[0]"),
            "{error}"
        );
        settings.staff.push(StaffRoute {
            name: "qian.manager".into(),
            email: "qian@example.com".into(),
            webhook: String::new(),
            format: default_format(),
            language: default_staff_language(),
        });
        assert!(settings.check_report_delivery(&delivery).is_ok());
    }

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

    fn with_alerts(toml_text: &str) -> Result<Templates, NotifyError> {
        let mut settings: NotifySettings = toml::from_str(toml_text).expect("valid toml");
        settings.token = "t".to_owned();
        settings.validate()
    }

    fn refused_key(toml_text: &str) -> String {
        match with_alerts(toml_text) {
            Err(NotifyError::Config { key, .. }) => key,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn staff_routes_are_checked_naming_the_key() {
        let smtp = "[smtp]\nhost = \"127.0.0.1\"\nfrom = \"s@example.com\"\n";
        let secret = "[alerts]\nsecret = \"k\"\n";
        assert!(with_alerts(&format!(
            "{secret}{smtp}[[staff]]\nname = \"zhao.liu\"\nemail = \"z@example.com\"\n\
             [[staff]]\nname = \"wang.wu\"\nwebhook = \"http://127.0.0.1:1/robot\"\nformat = \"dingtalk_markdown\"\nlanguage = \"en\"\n\
             [departments.technical]\nwebhook = \"http://127.0.0.1:1/t\"\n"
        ))
        .is_ok());
        assert_eq!(
            refused_key("[[staff]]\nname = \"zhao.liu\"\nemail = \"z@example.com\"\n"),
            "notify.staff[0].email",
            "e-mail needs [notify.smtp]"
        );
        assert_eq!(
            refused_key(&format!("{smtp}[[staff]]\nname = \"zhao.liu\"\n")),
            "notify.staff[0]"
        );
        assert!(
            with_alerts(&format!(
                "{secret}[[staff]]\nname = \"a\"\nwebhook = \"https://qyapi.weixin.qq.com/x\"\n"
            ))
            .is_ok(),
            "a group robot's own https:// address"
        );
        assert_eq!(
            refused_key(&format!(
                "{secret}[[staff]]\nname = \"a\"\nwebhook = \"ftp://h/x\"\n"
            )),
            "notify.staff[0].webhook"
        );
        assert_eq!(
            refused_key(&format!(
                "{secret}[[staff]]\nname = \"a\"\nwebhook = \"https://\"\n"
            )),
            "notify.staff[0].webhook"
        );
        assert_eq!(
            refused_key(&format!(
                "{secret}[[staff]]\nname = \"a\"\nwebhook = \"http://h/x\"\nformat = \"slack\"\n"
            )),
            "notify.staff[0].format"
        );
        assert_eq!(
            refused_key(&format!(
                "{secret}[[staff]]\nname = \"a\"\nwebhook = \"http://h/x\"\nlanguage = \"fr\"\n"
            )),
            "notify.staff[0].language"
        );
        assert_eq!(
            refused_key(&format!(
                "{secret}[[staff]]\nname = \"a\"\nwebhook = \"http://h/x\"\n\
                 [[staff]]\nname = \"a\"\nwebhook = \"http://h/y\"\n"
            )),
            "notify.staff[1].name"
        );
        assert_eq!(
            refused_key("[departments.technical]\nwebhook = \"http://h/x\"\n"),
            "notify.alerts.secret",
            "alert webhooks are signed"
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
