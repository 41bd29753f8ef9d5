//! `cloop audit rules --month YYYY-MM`: the rule audit of a month, offline on the
//! workflow's event log (a file opened read-only, or `--store URL`), as a table or JSON.
//! Sealed personal data is not needed and stays sealed.

use super::{parse_instant, Context};
use crate::args::RulesArgs;
use crate::error::CliError;
use crate::render::instant;
use crate::render_audit::{rule_audit_json, rule_audit_text};
use std::path::Path;

/// The domain configuration of an offline audit: the file's, or the built-in defaults.
pub(crate) fn rules_from(config: Option<&Path>) -> Result<domain::Rules, CliError> {
    match config {
        Some(config_path) => {
            let text = std::fs::read_to_string(config_path)
                .map_err(CliError::io(format!("read {}", config_path.display())))?;
            domain::Rules::from_toml_str(&text).map_err(|error| {
                CliError::Usage(format!(
                    "invalid configuration {}: {error}",
                    config_path.display()
                ))
            })
        }
        None => Ok(domain::Rules::defaults()),
    }
}

/// Runs `cloop audit rules` on tokio's blocking pool (SQLite reads block).
pub async fn run(context: &Context, arguments: RulesArgs) -> Result<(), CliError> {
    let context = context.clone();
    tokio::task::spawn_blocking(move || run_blocking(&context, &arguments))
        .await
        .map_err(|error| CliError::Other(format!("run the rule audit: {error}")))?
}

fn run_blocking(context: &Context, arguments: &RulesArgs) -> Result<(), CliError> {
    let month = audit::Month::parse(&arguments.month)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    let as_of = match &arguments.as_of {
        Some(text) => {
            let timestamp = parse_instant("as-of", text, context.settings.offset)?;
            instant(Some(&timestamp))
                .ok_or_else(|| CliError::Usage(format!("invalid as-of {text:?}")))?
        }
        None => chrono::Utc::now(),
    };
    let rules = rules_from(arguments.config.as_deref())?;
    let store = super::log::log_store(crate::args::LogSource {
        db: arguments.db.clone(),
        store: arguments.store.clone(),
    })?;
    let log = super::log::open_source(&store)?;
    let report = audit::audit_month(log.as_ref(), &rules, month, &audit::RuleOptions::new(as_of))
        .map_err(|error| CliError::Other(format!("audit {}: {error}", arguments.month)))?;
    context.print(
        &rule_audit_text(&report, &context.view),
        &rule_audit_json(&report),
    )
}
