//! Reading a configuration file over the defaults, finding the key behind an error, and
//! writing the configuration back out.

use std::collections::BTreeMap;

use super::types::{DomainConfig, RESERVED_SECTIONS};
use crate::error::DomainError;

/// One step of a path into the configuration: a key or an array index.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Segment]) -> String {
    let mut rendered = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(key);
            }
            Segment::Index(index) => rendered.push_str(&format!("[{index}]")),
        }
    }
    rendered
}

/// Merges `overlay` into `base`: tables merge key by key, everything else replaces.
fn merge_tables(base: &mut toml::Table, overlay: &toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge_tables(base_table, overlay_table);
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Wraps `leaf` in the tables and arrays that `path` describes.
fn wrap(path: &[Segment], leaf: toml::Value) -> toml::Value {
    path.iter()
        .rev()
        .fold(leaf, |inner, segment| match segment {
            Segment::Key(key) => {
                let mut table = toml::Table::new();
                table.insert(key.clone(), inner);
                toml::Value::Table(table)
            }
            Segment::Index(_) => toml::Value::Array(vec![inner]),
        })
}

impl DomainConfig {
    /// Reads a configuration file's text over the defaults: a partial file overrides only what
    /// it names, the service-owned sections are kept unread, and every error names the key and
    /// the reason. The result is not yet checked: `Rules::new` compiles (and so checks) it, and
    /// `DomainConfig::from_toml_str` reads and checks in one.
    pub(crate) fn read_toml(text: &str) -> Result<Self, DomainError> {
        let mut user: toml::Table = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .and_then(|span| text.get(..span.start))
                .map_or(1, |before| before.matches('\n').count() + 1);
            DomainError::Config {
                key: format!("line {line}"),
                reason: error.message().trim().to_owned(),
            }
        })?;
        let mut reserved = BTreeMap::new();
        for section in RESERVED_SECTIONS {
            if let Some(value) = user.remove(*section) {
                match value {
                    toml::Value::Table(table) => {
                        reserved.insert(*section, table);
                    }
                    other => {
                        return Err(DomainError::Config {
                            key: (*section).to_owned(),
                            reason: format!("expected a table, found {}", other.type_str()),
                        })
                    }
                }
            }
        }
        let defaults = Self::default().to_toml_table()?;
        let probe = |path: &[Segment], value: &toml::Value| -> Result<Self, String> {
            let mut merged = defaults.clone();
            if let toml::Value::Table(overlay) = wrap(path, value.clone()) {
                merge_tables(&mut merged, &overlay);
            }
            toml::Value::Table(merged)
                .try_into::<Self>()
                .map_err(|error| error.message().trim().to_owned())
        };
        let mut config = match probe(&[], &toml::Value::Table(user.clone())) {
            Ok(config) => config,
            Err(message) => {
                let (key, reason) =
                    locate_error(&mut Vec::new(), &toml::Value::Table(user), message, &probe);
                return Err(DomainError::Config {
                    key: if key.is_empty() {
                        "(root)".to_owned()
                    } else {
                        key
                    },
                    reason,
                });
            }
        };
        config.nats = reserved.remove("nats");
        config.intake_service = reserved.remove("intake_service");
        config.workflow_service = reserved.remove("workflow_service");
        config.notify = reserved.remove("notify");
        config.webhook = reserved.remove("webhook");
        config.retention = reserved.remove("retention");
        config.logging = reserved.remove("logging");
        Ok(config)
    }

    /// The configuration as a TOML table (service-owned sections left out).
    pub fn to_toml_table(&self) -> Result<toml::Table, DomainError> {
        toml::Table::try_from(self).map_err(|error| DomainError::Config {
            key: "(root)".to_owned(),
            reason: format!("cannot render the configuration: {error}"),
        })
    }

    /// The configuration rendered as TOML (service-owned sections left out).
    pub fn to_toml_string(&self) -> Result<String, DomainError> {
        toml::to_string_pretty(self).map_err(|error| DomainError::Config {
            key: "(root)".to_owned(),
            reason: format!("cannot render the configuration: {error}"),
        })
    }

    /// The canonical JSON of the domain sections, the input of the derived version.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The configured version, or `sha256:` and the first 12 hex digits of the SHA-256 of the
    /// canonical JSON.
    pub fn effective_version(&self) -> String {
        match &self.version {
            Some(version) if !version.trim().is_empty() => version.trim().to_owned(),
            _ => format!("sha256:{}", short_hash(&self.canonical_json())),
        }
    }

    /// Whether `department` is configured.
    pub fn is_department(&self, department: &str) -> bool {
        self.departments.contains_key(department)
    }
}

/// Finds the innermost key of `value` (the user's text at `path`) that makes the probe fail.
fn locate_error<P>(
    path: &mut Vec<Segment>,
    value: &toml::Value,
    message: String,
    probe: &P,
) -> (String, String)
where
    P: Fn(&[Segment], &toml::Value) -> Result<DomainConfig, String>,
{
    match value {
        toml::Value::Table(table) => {
            if !path.is_empty() {
                if let Err(own_message) = probe(path, &toml::Value::Table(toml::Table::new())) {
                    return (render_path(path), own_message);
                }
            }
            for (key, child) in table {
                path.push(Segment::Key(key.clone()));
                if let Err(child_message) = probe(path, child) {
                    return locate_error(path, child, child_message, probe);
                }
                path.pop();
            }
            (render_path(path), message)
        }
        toml::Value::Array(items) => {
            if let Err(own_message) = probe(path, &toml::Value::Array(Vec::new())) {
                return (render_path(path), own_message);
            }
            for (index, item) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                if let Err(item_message) = probe(path, item) {
                    return locate_error(path, item, item_message, probe);
                }
                path.pop();
            }
            (render_path(path), message)
        }
        _ => (render_path(path), message),
    }
}

/// The first 12 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    hex::encode(digest)[..12].to_owned()
}
