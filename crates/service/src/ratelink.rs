//! The customer's signed rating link: the `[selfservice]` table, the link key and the token
//! that proves a ticket in `/rate/<ticket id>?t=<token>`.
//!
//! `cloop-notify` puts the link in the review-request notice; `cloop-workflow` checks the token
//! where `SelfService.GetStatus` and `SelfService.Rate` would check the phone's digits. Both
//! read the same key file, so the token is computed from the event alone and nothing is stored
//! for it. The token is `<expiry>.<event id>.<mac>`: the expiry in unix seconds, the id of the
//! event that asked for the review, and the first 16 bytes (32 hex digits) of the
//! HMAC-SHA256, keyed with the link key, of `"cloop-rating-link"`, the ticket id, the event id
//! and the expiry, each ended by a NUL byte. The MAC is compared in constant time.

use crate::error::ServiceError;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The bytes of a fresh link key; a key file must hold at least this many.
pub const KEY_BYTES: usize = 32;

/// The bytes of the MAC kept in a token.
const MAC_BYTES: usize = 16;

/// The longest event id a token may carry (a UUID has 36 characters).
const MAX_EVENT_ID_CHARS: usize = 64;

/// The label that keeps the link's MAC apart from every other use of the key.
const LABEL: &[u8] = b"cloop-rating-link";

/// `[selfservice]`: the customer's signed rating links (read by cloop-workflow and
/// cloop-notify; `docs/notify.md`, "The rating link").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelfServiceSettings {
    /// The key file of the links; a relative path is next to the configuration file. Made
    /// (32 random bytes, mode 0600) by whichever service reads it first. Empty: no links.
    pub link_secret_file: String,
    /// How long a link stays good after the review was asked for, in days.
    pub link_ttl_days: u32,
    /// The console's address as customers reach it (`https://feedback.example.com`): the
    /// links are `<public_url>/rate/<ticket id>?t=<token>`. Required by cloop-notify when
    /// `link_secret_file` is set.
    pub public_url: String,
}

impl Default for SelfServiceSettings {
    fn default() -> Self {
        Self {
            link_secret_file: String::new(),
            link_ttl_days: 14,
            public_url: String::new(),
        }
    }
}

impl SelfServiceSettings {
    /// The key file, a relative one resolved in `config_dir`; `None` when links are off.
    pub fn key_path(&self, config_dir: Option<&Path>) -> Option<PathBuf> {
        let file = self.link_secret_file.trim();
        if file.is_empty() {
            return None;
        }
        let path = PathBuf::from(file);
        Some(match config_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        })
    }

    /// The link key, read or made; `None` when links are off.
    pub fn load_key(&self, config_dir: Option<&Path>) -> Result<Option<LinkKey>, ServiceError> {
        if self.link_ttl_days == 0 {
            return Err(config_error("link_ttl_days must be at least 1"));
        }
        self.key_path(config_dir)
            .map(|path| LinkKey::load_or_create(&path))
            .transpose()
    }

    /// How long a link stays good.
    pub fn ttl(&self) -> Duration {
        Duration::days(i64::from(self.link_ttl_days))
    }

    /// The console's address without a trailing slash, checked to be an http(s) URL.
    pub fn base_url(&self) -> Result<String, ServiceError> {
        let url = self.public_url.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Ok(url.to_owned())
            }
            _ => Err(config_error(&format!(
                "public_url must be the console's http:// or https:// address, got {:?}",
                self.public_url
            ))),
        }
    }
}

fn config_error(reason: &str) -> ServiceError {
    ServiceError::Config {
        path: "[selfservice]".to_owned(),
        reason: reason.to_owned(),
    }
}

/// The secret of the rating links.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// A key of these bytes; fewer than [`KEY_BYTES`] are refused.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= KEY_BYTES).then(|| Self(bytes.to_vec()))
    }

    /// A fresh random key (tests, and the first start).
    pub fn random() -> Self {
        Self(rand::random::<[u8; KEY_BYTES]>().to_vec())
    }

    /// The key in `path`, made (mode 0600) when there is none yet. Two services starting at
    /// once agree: the new key is written to a file of its own and linked into place, so a
    /// reader sees either no file or the whole key.
    pub fn load_or_create(path: &Path) -> Result<Self, ServiceError> {
        match std::fs::read(path) {
            Ok(bytes) => Self::from_file(path, &bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::random();
                let draft = path.with_extension(format!("new-{}", std::process::id()));
                let written = write_private(&draft, &key.0);
                let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
                let _ = std::fs::remove_file(&draft);
                match linked {
                    Ok(()) => Ok(key),
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        let bytes =
                            std::fs::read(path).map_err(|source| read_error(path, source))?;
                        Self::from_file(path, &bytes)
                    }
                    Err(source) => Err(read_error(path, source)),
                }
            }
            Err(source) => Err(read_error(path, source)),
        }
    }

    fn from_file(path: &Path, bytes: &[u8]) -> Result<Self, ServiceError> {
        Self::new(bytes).ok_or_else(|| {
            config_error(&format!(
                "{} holds {} bytes, fewer than the {KEY_BYTES} of a link key",
                path.display(),
                bytes.len()
            ))
        })
    }

    fn mac(&self, ticket_id: &str, event_id: &str, expires: i64) -> Hmac<Sha256> {
        // HMAC takes keys of any length: `new_from_slice` never fails for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in [LABEL, ticket_id.as_bytes(), event_id.as_bytes()] {
            mac.update(part);
            mac.update(b"\0");
        }
        mac.update(expires.to_string().as_bytes());
        mac.update(b"\0");
        mac
    }

    /// The token of the link to `ticket_id` asked for by event `event_id`, good until
    /// `expires`.
    pub fn token(&self, ticket_id: &str, event_id: &str, expires: DateTime<Utc>) -> String {
        let expires = expires.timestamp();
        let tag = self
            .mac(ticket_id, event_id, expires)
            .finalize()
            .into_bytes();
        format!("{expires}.{event_id}.{}", hex::encode(&tag[..MAC_BYTES]))
    }

    /// Whether `token` is a link to `ticket_id` made with this key and still good at `now`.
    pub fn check(&self, ticket_id: &str, token: &str, now: DateTime<Utc>) -> bool {
        let mut parts = token.splitn(3, '.');
        let (Some(expires), Some(event_id), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(expires) = expires.parse::<i64>() else {
            return false;
        };
        let event_ok = !event_id.is_empty()
            && event_id.len() <= MAX_EVENT_ID_CHARS
            && event_id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        if !event_ok || tag.len() != MAC_BYTES {
            return false;
        }
        let good = self
            .mac(ticket_id, event_id, expires)
            .verify_truncated_left(&tag)
            .is_ok();
        good && now.timestamp() < expires
    }
}

/// What makes the links of the review-request notices: the key, how long a link stays good
/// and the console's address.
#[derive(Debug, Clone)]
pub struct RatingLinks {
    pub key: LinkKey,
    pub ttl: Duration,
    /// The console's address without a trailing slash.
    pub base_url: String,
}

impl RatingLinks {
    /// The links of `settings`: `None` when no key file is named; an error when one is but
    /// the console's address is missing or not a URL.
    pub fn from_settings(
        settings: &SelfServiceSettings,
        config_dir: Option<&Path>,
    ) -> Result<Option<Self>, ServiceError> {
        let Some(key) = settings.load_key(config_dir)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            key,
            ttl: settings.ttl(),
            base_url: settings.base_url()?,
        }))
    }

    /// The link to rate `ticket_id`, asked for by event `event_id` at `asked_at`: the same
    /// link every time for the same event.
    pub fn url(&self, ticket_id: &str, event_id: &str, asked_at: DateTime<Utc>) -> String {
        let token = self
            .key
            .token(ticket_id, event_id, expiry(asked_at, self.ttl));
        format!("{}/rate/{ticket_id}?t={token}", self.base_url)
    }
}

/// When a link asked for at `asked_at` stops being good.
pub fn expiry(asked_at: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    asked_at + ttl
}

fn read_error(path: &Path, source: std::io::Error) -> ServiceError {
    ServiceError::Read {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to a new file at `path`, readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TICKET: &str = "260316-F0MWE-R1R00M";
    const EVENT: &str = "0195f3a2-7c41-7d2e-9a10-3b5c7d9e1f20";

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0)
            .single()
            .expect("valid instant")
    }

    fn key() -> LinkKey {
        LinkKey::new(&[7u8; KEY_BYTES]).expect("long enough")
    }

    #[test]
    fn a_good_token_proves_its_ticket_until_it_expires() {
        let expires = expiry(at(2), Duration::days(14));
        let token = key().token(TICKET, EVENT, expires);
        assert!(token.starts_with(&format!("{}.{EVENT}.", expires.timestamp())));
        assert_eq!(token.rsplit('.').next().map(str::len), Some(2 * MAC_BYTES));
        assert!(key().check(TICKET, &token, at(2)));
        assert!(key().check(TICKET, &token, at(15)));
        assert!(!key().check(TICKET, &token, at(16)), "expired on the 16th");
        assert_eq!(token, key().token(TICKET, EVENT, expires), "deterministic");
    }

    #[test]
    fn a_tampered_token_another_ticket_or_another_key_is_refused() {
        let expires = expiry(at(2), Duration::days(14));
        let token = key().token(TICKET, EVENT, expires);
        assert!(
            !key().check("260316-F0MWE-R1R00N", &token, at(3)),
            "other ticket"
        );
        assert!(!LinkKey::random().check(TICKET, &token, at(3)), "other key");
        let later = (expires + Duration::days(30)).timestamp();
        let extended = token.replacen(&expires.timestamp().to_string(), &later.to_string(), 1);
        assert!(!key().check(TICKET, &extended, at(3)), "a longer expiry");
        let other_event = token.replacen("0195", "0196", 1);
        assert!(!key().check(TICKET, &other_event, at(3)), "another event");
        let mut flipped = token.clone();
        let last = flipped
            .pop()
            .map_or('0', |c| if c == '0' { '1' } else { '0' });
        flipped.push(last);
        assert!(!key().check(TICKET, &flipped, at(3)), "another MAC");
        for garbage in [
            "",
            "..",
            "1.2",
            "x.y.z",
            &format!("{}.{EVENT}", expires.timestamp()),
        ] {
            assert!(!key().check(TICKET, garbage, at(3)), "{garbage:?}");
        }
        let short = &token[..token.len() - 2];
        assert!(!key().check(TICKET, short, at(3)), "a shortened MAC");
    }

    #[test]
    fn the_key_file_is_made_once_privately_and_short_keys_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rating-link.key");
        let first = LinkKey::load_or_create(&path).expect("made");
        let again = LinkKey::load_or_create(&path).expect("read");
        let token = first.token(TICKET, EVENT, at(20));
        assert!(
            again.check(TICKET, &token, at(3)),
            "the same key both times"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("key").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let short = dir.path().join("short.key");
        std::fs::write(&short, b"too short").expect("write");
        let error = LinkKey::load_or_create(&short).expect_err("refused");
        assert!(error.to_string().contains("fewer than the 32"), "{error}");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            2,
            "no draft left behind"
        );
    }

    #[test]
    fn the_settings_resolve_the_key_next_to_the_configuration_and_check_the_url() {
        let settings = SelfServiceSettings {
            link_secret_file: "keys/link.key".into(),
            public_url: "https://feedback.example.com/".into(),
            ..Default::default()
        };
        assert_eq!(
            settings.key_path(Some(Path::new("/etc/cloop"))),
            Some(PathBuf::from("/etc/cloop/keys/link.key"))
        );
        assert_eq!(SelfServiceSettings::default().key_path(None), None);
        assert_eq!(
            settings.base_url().expect("valid"),
            "https://feedback.example.com"
        );
        let bad = SelfServiceSettings {
            public_url: "feedback.example.com".into(),
            ..Default::default()
        };
        assert!(bad.base_url().is_err());
        assert_eq!(SelfServiceSettings::default().ttl(), Duration::days(14));
    }

    #[test]
    fn a_link_is_the_consoles_rate_page_with_the_token() {
        let links = RatingLinks {
            key: key(),
            ttl: Duration::days(14),
            base_url: "https://feedback.example.com".into(),
        };
        let url = links.url(TICKET, EVENT, at(2));
        let prefix = format!("https://feedback.example.com/rate/{TICKET}?t=");
        let token = url.strip_prefix(&prefix).expect("the rate page");
        assert!(key().check(TICKET, token, at(15)));
        assert!(!key().check(TICKET, token, at(17)));
        assert_eq!(url, links.url(TICKET, EVENT, at(2)));
        let dir = tempfile::tempdir().expect("temp dir");
        let without_url = SelfServiceSettings {
            link_secret_file: "link.key".into(),
            ..Default::default()
        };
        assert!(RatingLinks::from_settings(&without_url, Some(dir.path())).is_err());
        assert!(
            RatingLinks::from_settings(&SelfServiceSettings::default(), None)
                .expect("off")
                .is_none()
        );
    }
}
