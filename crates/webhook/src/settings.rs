//! The `[webhook]` section of the configuration file: the channels this adapter accepts, each
//! with its shared secret (inline or from an environment variable), and the limits of the
//! HTTP side.
//!
//! ```toml
//! [webhook]
//! max_body_bytes = 65536
//!
//! [webhook.channels.web]
//! secret_env = "CLOOP_WEBHOOK_SECRET_WEB"
//!
//! [webhook.channels.app]
//! secret = "a long random string shared with the app backend"
//! ```

use serde::Deserialize;
use service::RateLimit;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The shortest secret accepted, in bytes: a shorter one is guessable.
pub const MIN_SECRET_BYTES: usize = 16;

/// The default listen address of `cloop-webhook`.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// The `[webhook]` table as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// The channels accepted at `POST /v1/feedback/<channel>`, by name.
    pub channels: BTreeMap<String, ChannelSettings>,
    /// The largest request body accepted, in bytes; larger ones are answered 413.
    pub max_body_bytes: usize,
    /// How far `X-Cloop-Timestamp` may be from this server's clock, in seconds.
    pub max_clock_skew_secs: u64,
    /// How long intake may take to answer a submission over NATS, in milliseconds.
    pub request_timeout_ms: u64,
    /// How long a client may take to send its request body, in milliseconds.
    pub read_timeout_ms: u64,
    /// The `Retry-After` of a 503 or 429 answer, in seconds.
    pub retry_after_secs: u64,
    /// Submissions handled at once at most; more are answered 503.
    pub max_in_flight: usize,
    /// Each channel's rate limit, for signed submissions: requests per second on average (0:
    /// unlimited) and at most `burst_per_channel` at once (0: one second's worth). Over it:
    /// 429 with `Retry-After`, naming the limit.
    pub rate_per_sec_per_channel: f64,
    pub burst_per_channel: u32,
    /// Each source address's rate limit, checked before the body is read (0: off, the
    /// default: behind a proxy every client has the proxy's address).
    pub rate_per_sec_per_source: f64,
    pub burst_per_source: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            channels: BTreeMap::new(),
            max_body_bytes: 64 * 1024,
            max_clock_skew_secs: 300,
            request_timeout_ms: 5_000,
            read_timeout_ms: 10_000,
            retry_after_secs: 5,
            max_in_flight: 256,
            rate_per_sec_per_channel: 200.0,
            burst_per_channel: 400,
            rate_per_sec_per_source: 0.0,
            burst_per_source: 0,
        }
    }
}

/// One channel's table: exactly one of `secret` and `secret_env`.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSettings {
    /// The shared secret itself.
    pub secret: Option<String>,
    /// The environment variable that holds the shared secret.
    pub secret_env: Option<String>,
}

impl std::fmt::Debug for ChannelSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ChannelSettings")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_env", &self.secret_env)
            .finish()
    }
}

/// A channel's shared secret, resolved. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(<redacted>)")
    }
}

/// The settings in force: limits as durations and every channel's secret resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub secrets: BTreeMap<String, Secret>,
    pub max_body_bytes: usize,
    pub max_clock_skew_secs: u64,
    pub request_timeout: Duration,
    pub read_timeout: Duration,
    pub retry_after_secs: u64,
    pub max_in_flight: usize,
    /// The limit of each channel's bucket.
    pub channel_limit: RateLimit,
    /// The limit of each source address's bucket.
    pub source_limit: RateLimit,
}

impl WebhookSettings {
    /// Checks the settings and resolves the secrets; `env` reads an environment variable.
    /// Every channel must be one of `configured_channels` (the domain's list), lower case.
    pub fn resolve(
        &self,
        configured_channels: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Resolved, String> {
        if self.channels.is_empty() {
            return Err(
                "[webhook.channels] names no channel: add at least one, e.g. \
                 [webhook.channels.web] with secret_env = \"CLOOP_WEBHOOK_SECRET_WEB\""
                    .to_owned(),
            );
        }
        if self.max_body_bytes == 0 {
            return Err("[webhook] max_body_bytes must be at least 1".to_owned());
        }
        if self.max_in_flight == 0 {
            return Err("[webhook] max_in_flight must be at least 1".to_owned());
        }
        for (key, rate) in [
            ("rate_per_sec_per_channel", self.rate_per_sec_per_channel),
            ("rate_per_sec_per_source", self.rate_per_sec_per_source),
        ] {
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(format!(
                    "[webhook] {key} must be a finite number of at least 0 (0 is unlimited)"
                ));
            }
        }
        let mut secrets = BTreeMap::new();
        for (name, channel) in &self.channels {
            let key = format!("[webhook.channels.{name}]");
            if !configured_channels.iter().any(|known| known == name) {
                return Err(format!(
                    "{key}: {name:?} is not a configured channel (expected one of: {})",
                    configured_channels.join(", ")
                ));
            }
            let secret = match (&channel.secret, &channel.secret_env) {
                (Some(secret), None) => secret.clone(),
                (None, Some(variable)) => env(variable).ok_or_else(|| {
                    format!("{key}: the environment variable {variable} is not set")
                })?,
                (Some(_), Some(_)) => {
                    return Err(format!("{key}: give either secret or secret_env, not both"))
                }
                (None, None) => return Err(format!("{key}: secret or secret_env is required")),
            };
            if secret.len() < MIN_SECRET_BYTES {
                return Err(format!(
                    "{key}: the secret is {} bytes long, at least {MIN_SECRET_BYTES} are needed",
                    secret.len()
                ));
            }
            secrets.insert(name.clone(), Secret::new(secret.into_bytes()));
        }
        Ok(Resolved {
            secrets,
            max_body_bytes: self.max_body_bytes,
            max_clock_skew_secs: self.max_clock_skew_secs,
            request_timeout: Duration::from_millis(self.request_timeout_ms.max(1)),
            read_timeout: Duration::from_millis(self.read_timeout_ms.max(1)),
            retry_after_secs: self.retry_after_secs,
            max_in_flight: self.max_in_flight,
            channel_limit: RateLimit::new(self.rate_per_sec_per_channel, self.burst_per_channel),
            source_limit: RateLimit::new(self.rate_per_sec_per_source, self.burst_per_source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service::config::ConfigFile;

    fn channels() -> Vec<String> {
        ["web", "app"]
            .iter()
            .map(|name| (*name).to_owned())
            .collect()
    }

    fn settings(text: &str) -> WebhookSettings {
        ConfigFile::from_toml_str(text, None)
            .expect("valid file")
            .section("webhook")
            .expect("valid section")
    }

    #[test]
    fn secrets_come_inline_or_from_the_environment() {
        let settings = settings(
            "[webhook]\nmax_body_bytes = 1000\n\n[webhook.channels.web]\n\
             secret = \"0123456789abcdef\"\n\n[webhook.channels.app]\nsecret_env = \"APP_SECRET\"\n",
        );
        let resolved = settings
            .resolve(&channels(), |name| {
                (name == "APP_SECRET").then(|| "from the environment".to_owned())
            })
            .expect("resolves");
        assert_eq!(resolved.max_body_bytes, 1000);
        assert_eq!(
            resolved.channel_limit,
            RateLimit::new(200.0, 400),
            "each channel is limited by default"
        );
        assert!(
            resolved.source_limit.is_unlimited(),
            "source addresses are not, unless configured"
        );
        assert_eq!(resolved.max_clock_skew_secs, 300);
        assert_eq!(
            resolved.secrets["web"].as_bytes(),
            b"0123456789abcdef".as_slice()
        );
        assert_eq!(
            resolved.secrets["app"].as_bytes(),
            b"from the environment".as_slice()
        );
        assert!(!format!("{resolved:?}").contains("0123456789abcdef"));
        assert!(!format!("{settings:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn bad_channel_tables_are_refused_with_the_key() {
        let cases = [
            ("", "names no channel"),
            (
                "[webhook.channels.fax]\nsecret = \"0123456789abcdef\"\n",
                "fax",
            ),
            (
                "[webhook.channels.web]\n",
                "secret or secret_env is required",
            ),
            (
                "[webhook.channels.web]\nsecret = \"0123456789abcdef\"\nsecret_env = \"X\"\n",
                "not both",
            ),
            (
                "[webhook.channels.web]\nsecret = \"short\"\n",
                "at least 16",
            ),
            (
                "[webhook.channels.web]\nsecret_env = \"UNSET\"\n",
                "UNSET is not set",
            ),
            (
                "[webhook]\nrate_per_sec_per_channel = -1\n\n[webhook.channels.web]\nsecret = \"0123456789abcdef\"\n",
                "rate_per_sec_per_channel",
            ),
        ];
        for (text, expected) in cases {
            let error = settings(text)
                .resolve(&channels(), |_| None)
                .expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
        let unknown = ConfigFile::from_toml_str("[webhook]\nsecrets = 1\n", None)
            .expect("domain ok")
            .section::<WebhookSettings>("webhook")
            .expect_err("unknown key");
        assert!(unknown.to_string().contains("webhook"), "{unknown}");
    }
}
