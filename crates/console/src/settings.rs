//! The `[console]` section of the configuration file.
//!
//! ```toml
//! [console]
//! tokens = "/etc/closedloop/tokens.toml"   # else CLOOP_TOKENS
//! session_ttl_secs = 28800
//! secure_cookies = true                   # behind HTTPS
//! ```

use serde::Deserialize;
use std::path::PathBuf;

/// The `[console]` table as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// The tokens file that names the people who sign in (their name, role and department);
    /// the environment's CLOOP_TOKENS when absent.
    pub tokens: Option<PathBuf>,
    /// How long a session lasts after sign-in, in seconds.
    pub session_ttl_secs: u64,
    /// Marks the cookies `Secure` (the console is served over HTTPS by a proxy).
    pub secure_cookies: bool,
    /// Tickets on one page of the queue.
    pub queue_page_size: usize,
    /// How long a call to the workflow may take, in milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            tokens: None,
            session_ttl_secs: 8 * 3600,
            secure_cookies: false,
            queue_page_size: 50,
            request_timeout_ms: 10_000,
        }
    }
}

/// Takes the `[console]` table out of a configuration file's text: the console's settings,
/// and the rest of the file (the shared sections, read by `service::config::ConfigFile`).
pub fn split_console_section(text: &str) -> Result<(String, ConsoleSettings), String> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|error| error.message().to_owned())?;
    let settings = match table.remove("console") {
        None => ConsoleSettings::default(),
        Some(value) => value
            .try_into()
            .map_err(|error: toml::de::Error| format!("[console]: {}", error.message()))?,
    };
    let rest = toml::to_string(&table).map_err(|error| error.to_string())?;
    Ok((rest, settings))
}

impl ConsoleSettings {
    /// Refuses values that cannot work, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if self.session_ttl_secs == 0 {
            return Err("[console] session_ttl_secs must be above 0".to_owned());
        }
        if self.queue_page_size == 0 || self.queue_page_size > 500 {
            return Err("[console] queue_page_size must be from 1 to 500".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_section_is_read_and_the_rest_kept() {
        let text = "[console]\ntokens = \"/t.toml\"\nsession_ttl_secs = 60\n\n[calendar]\nutc_offset = \"+08:00\"\n";
        let (rest, settings) = split_console_section(text).expect("valid");
        assert_eq!(settings.tokens, Some(PathBuf::from("/t.toml")));
        assert_eq!(settings.session_ttl_secs, 60);
        assert!(
            rest.contains("utc_offset") && !rest.contains("console"),
            "{rest}"
        );
        let wrong = split_console_section("[console]\nsession_ttl = 1\n").expect_err("unknown key");
        assert!(wrong.starts_with("[console]"), "{wrong}");
        assert!(ConsoleSettings {
            session_ttl_secs: 0,
            ..ConsoleSettings::default()
        }
        .check()
        .is_err());
    }
}
