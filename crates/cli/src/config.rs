//! Where the CLI's settings come from, first match wins: command-line flags, environment
//! variables (`CLOOP_INTAKE`, `CLOOP_WORKFLOW`, `CLOOP_TOKEN`, `CLOOP_UTC_OFFSET`; clap reads
//! them together with the flags; also `CLOOP_CA`, `CLOOP_CERT`, `CLOOP_KEY`, `CLOOP_LANG`), then
//! the profile file (TOML, keys `intake`, `workflow`, `token`, `utc_offset`, `lang`, `ca`,
//! `cert`, `key`;
//! `--profile` / `CLOOP_PROFILE`, default
//! `~/.config/cloop/profile.toml`), then the defaults.

use crate::error::CliError;
use chrono::FixedOffset;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default address of cloop-intake.
pub const DEFAULT_INTAKE: &str = "http://127.0.0.1:50051";
/// The default address of cloop-workflow.
pub const DEFAULT_WORKFLOW: &str = "http://127.0.0.1:50052";
/// The default offset instants are shown in: the business calendar's default.
pub const DEFAULT_UTC_OFFSET: &str = "+08:00";

/// The profile file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub intake: Option<String>,
    pub workflow: Option<String>,
    pub token: Option<String>,
    pub utc_offset: Option<String>,
    /// The language of the report's labels, `zh` or `en`.
    pub lang: Option<String>,
    /// The CA file to trust for `https://` addresses.
    pub ca: Option<PathBuf>,
    /// The client certificate and key for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The settings after flags, environment, profile and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub intake: String,
    pub workflow: String,
    pub token: Option<String>,
    pub offset: FixedOffset,
    /// How long one call may take before it fails with DEADLINE_EXCEEDED.
    pub timeout: std::time::Duration,
    /// TLS of the calls to `https://` addresses (`--ca`, `--cert`, `--key`); `None` when no
    /// file is named (an `https://` address then trusts the system's roots).
    pub tls: Option<service::tls::ClientTls>,
}

/// The default profile path, `~/.config/cloop/profile.toml` (or under `XDG_CONFIG_HOME`).
pub fn default_profile_path() -> Option<PathBuf> {
    if let Some(config_home) = std::env::var_os("XDG_CONFIG_HOME").filter(|value| !value.is_empty())
    {
        return Some(PathBuf::from(config_home).join("cloop/profile.toml"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/cloop/profile.toml"))
}

/// Reads a profile. A missing file at the default path is an empty profile; a missing file
/// that was named explicitly is an error.
pub fn read_profile(path: Option<&Path>) -> Result<Profile, CliError> {
    let (path, explicit) = match path {
        Some(path) => (path.to_path_buf(), true),
        None => match default_profile_path() {
            Some(path) => (path, false),
            None => return Ok(Profile::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(Profile::default())
        }
        Err(error) => {
            return Err(CliError::io(format!("read profile {}", path.display()))(
                error,
            ))
        }
    };
    toml::from_str(&text).map_err(|error| {
        CliError::Usage(format!(
            "invalid profile {}: {}",
            path.display(),
            error.message()
        ))
    })
}

/// Parses "+08:00", "-05:30" or "Z".
pub fn parse_offset(text: &str) -> Result<FixedOffset, CliError> {
    domain::rules::calendar::parse_utc_offset(text).ok_or_else(|| {
        CliError::Usage(format!("invalid utc offset {text:?}: expected e.g. +08:00"))
    })
}

/// Adds `http://` to an address given as `host:port`.
pub fn normalise_address(address: &str) -> String {
    let trimmed = address.trim();
    if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    }
}

/// Merges what flags and environment gave with the profile and the defaults.
pub fn settings(
    intake: Option<String>,
    workflow: Option<String>,
    token: Option<String>,
    utc_offset: Option<String>,
    timeout_seconds: u64,
    profile: &Profile,
) -> Result<Settings, CliError> {
    let pick = |given: Option<String>, from_profile: &Option<String>, default: &str| {
        given
            .filter(|value| !value.trim().is_empty())
            .or_else(|| from_profile.clone())
            .unwrap_or_else(|| default.to_owned())
    };
    let offset_text = pick(utc_offset, &profile.utc_offset, DEFAULT_UTC_OFFSET);
    Ok(Settings {
        intake: normalise_address(&pick(intake, &profile.intake, DEFAULT_INTAKE)),
        workflow: normalise_address(&pick(workflow, &profile.workflow, DEFAULT_WORKFLOW)),
        token: token
            .filter(|value| !value.trim().is_empty())
            .or_else(|| profile.token.clone())
            .map(|value| value.trim().to_owned()),
        offset: parse_offset(&offset_text)?,
        timeout: std::time::Duration::from_secs(timeout_seconds.max(1)),
        tls: None,
    })
}

/// The language of the report's labels: `--lang` / `CLOOP_LANG`, else the profile's `lang`,
/// else what `locale` (the environment's `LANG`) names, else Chinese
/// ([`reports::Lang::from_locale`]).
pub fn language(
    given: Option<&str>,
    profile: &Profile,
    locale: Option<&str>,
) -> Result<reports::Lang, CliError> {
    let chosen = given
        .filter(|value| !value.trim().is_empty())
        .map(|value| ("--lang", value))
        .or_else(|| profile.lang.as_deref().map(|value| ("profile lang", value)));
    match chosen {
        Some((source, value)) => reports::Lang::parse(value).ok_or_else(|| {
            CliError::Usage(format!(
                "{source}: {value:?} is not a language; use zh or en"
            ))
        }),
        None => Ok(reports::Lang::from_locale(locale)),
    }
}

/// Reads the TLS files of `--ca`, `--cert`, `--key` (flags and environment win over the
/// profile's `ca`, `cert`, `key`).
pub fn client_tls(
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    profile: &Profile,
) -> Result<Option<service::tls::ClientTls>, CliError> {
    let pick = |given: Option<PathBuf>, flag: &'static str, from_profile: &Option<PathBuf>| match (
        given,
        from_profile,
    ) {
        (Some(path), _) => Some((flag, path)),
        (None, Some(path)) => Some(("profile", path.clone())),
        (None, None) => None,
    };
    let ca = pick(ca, "--ca", &profile.ca);
    let cert = pick(cert, "--cert", &profile.cert);
    let key = pick(key, "--key", &profile.key);
    fn named<'a>(file: &'a Option<(&'static str, PathBuf)>) -> Option<(&'static str, &'a Path)> {
        file.as_ref().map(|(name, path)| (*name, path.as_path()))
    }
    service::tls::ClientTls::load(named(&ca), named(&cert), named(&key))
        .map_err(|error| CliError::Usage(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_profile_and_the_profile_over_defaults() {
        let profile: Profile = toml::from_str(
            "workflow = \"10.0.0.5:50052\"\ntoken = \"from-profile\"\nutc_offset = \"+09:00\"\n",
        )
        .unwrap();
        let merged = settings(
            Some("http://intake.example:1".into()),
            None,
            Some("from-flag".into()),
            None,
            30,
            &profile,
        )
        .unwrap();
        assert_eq!(merged.intake, "http://intake.example:1");
        assert_eq!(merged.workflow, "http://10.0.0.5:50052");
        assert_eq!(merged.token.as_deref(), Some("from-flag"));
        assert_eq!(merged.offset.local_minus_utc(), 9 * 3600);
        let defaults = settings(None, None, None, None, 30, &Profile::default()).unwrap();
        assert_eq!(defaults.intake, DEFAULT_INTAKE);
        assert_eq!(defaults.workflow, DEFAULT_WORKFLOW);
        assert_eq!(defaults.token, None);
    }

    #[test]
    fn the_language_is_the_flag_then_the_profile_then_lang_then_chinese() {
        use reports::Lang;
        let profile: Profile = toml::from_str("lang = \"en\"\n").unwrap();
        let none = Profile::default();
        assert_eq!(language(Some("zh"), &profile, None).unwrap(), Lang::Zh);
        assert_eq!(
            language(None, &profile, Some("zh_CN.UTF-8")).unwrap(),
            Lang::En
        );
        assert_eq!(
            language(None, &none, Some("en_GB.UTF-8")).unwrap(),
            Lang::En
        );
        assert_eq!(
            language(None, &none, Some("zh_TW.UTF-8")).unwrap(),
            Lang::Zh
        );
        assert_eq!(language(None, &none, Some("C.UTF-8")).unwrap(), Lang::Zh);
        assert_eq!(language(None, &none, None).unwrap(), Lang::Zh);
        let error = language(Some("fr"), &none, None).unwrap_err();
        assert!(error.to_string().contains("--lang"), "{error}");
    }

    #[test]
    fn unknown_profile_keys_are_refused() {
        assert!(toml::from_str::<Profile>("workflw = \"x\"").is_err());
    }

    #[test]
    fn an_explicit_missing_profile_is_an_error() {
        let error = read_profile(Some(Path::new("/nonexistent/cloop/profile.toml"))).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("read profile /nonexistent/cloop/profile.toml"));
    }
}
