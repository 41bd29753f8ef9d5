//! The trained classifier of the classify step: the `[classifier]` table read and its model
//! file loaded once at start (the shipped model is compiled in), and the model's arrival
//! recorded in the log as a `classifier_changed` event when its version or thresholds differ
//! from the last ones recorded.

use crate::error::WorkflowError;
use chrono::{DateTime, Utc};
use domain::classifier::placement::{ClassifierSettings, Placer};
use domain::classifier::Model;
use domain::ids::EventId;
use eventlog::{EventLog, ExpectedVersion};
use std::path::Path;
use std::sync::Arc;

/// The model shipped with the service: `crates/domain/data/classifier/model.bin`.
pub const SHIPPED_MODEL: &[u8] = include_bytes!("../../domain/data/classifier/model.bin");

/// The stream where the classifier's arrivals are recorded.
pub const CLASSIFIER_STREAM: &str = "classifier-workflow";

/// The event type of a recorded classifier arrival.
pub const CLASSIFIER_CHANGED: &str = "classifier_changed";

/// Reads the model `settings` name (relative paths from `base`, the configuration file's
/// folder) and checks it and the thresholds against `rules`; `None` when the classifier is
/// turned off. Every error names the file or the key and the reason.
pub fn load(
    settings: ClassifierSettings,
    rules: &domain::Rules,
    base: Option<&Path>,
) -> Result<Option<Arc<Placer>>, WorkflowError> {
    settings
        .validate()
        .map_err(|error| WorkflowError::Config(format!("[classifier] {error}")))?;
    if !settings.enabled {
        return Ok(None);
    }
    let model = match settings.model.as_deref() {
        None => Model::from_bytes(SHIPPED_MODEL).map_err(|error| {
            WorkflowError::Config(format!("the shipped classifier model: {error}"))
        })?,
        Some(path) => {
            let path = match base {
                Some(base) if Path::new(path).is_relative() => base.join(path),
                _ => Path::new(path).to_path_buf(),
            };
            let bytes = std::fs::read(&path).map_err(|error| {
                WorkflowError::Config(format!(
                    "[classifier] model: read {}: {error}",
                    path.display()
                ))
            })?;
            Model::from_bytes(&bytes).map_err(|error| {
                WorkflowError::Config(format!("[classifier] model {}: {error}", path.display()))
            })?
        }
    };
    let placer = Placer::new(model, settings, rules.config())
        .map_err(|error| WorkflowError::Config(format!("[classifier] {error}")))?;
    Ok(Some(Arc::new(placer)))
}

/// What a `classifier_changed` event records of a classifier (or of none, turned off).
fn state(placer: Option<&Placer>) -> serde_json::Value {
    match placer {
        None => serde_json::json!({ "enabled": false }),
        Some(placer) => serde_json::json!({
            "enabled": true,
            "model_version": placer.version(),
            "thresholds": placer.settings(),
        }),
    }
}

/// Records the classifier's version and thresholds as a `classifier_changed` event when they
/// differ from the last ones recorded, so that every `classified` and
/// `classification_suggested` event names a model the log explains.
pub async fn record_version(
    log: &EventLog,
    placer: Option<&Placer>,
    now: DateTime<Utc>,
) -> Result<(), WorkflowError> {
    let rows = log.read_stream(CLASSIFIER_STREAM, 0).await?;
    let previous = rows.last().and_then(|row| {
        let payload = serde_json::from_str::<serde_json::Value>(&row.payload_json).ok()?;
        payload.get("classifier").cloned()
    });
    let current = state(placer);
    if previous.as_ref() == Some(&current) {
        return Ok(());
    }
    let version = rows.len() as u64;
    let previous_version = previous
        .as_ref()
        .and_then(|previous| previous.get("model_version"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let model_version = current
        .get("model_version")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let payload = serde_json::json!({
        "classifier": current,
        "model_version": model_version,
        "previous_model_version": previous_version,
        "at": now,
    });
    let event = crate::record::service_event(
        EventId::derived(&format!("classifier/{version}/{payload}")),
        CLASSIFIER_CHANGED,
        payload,
        now,
    );
    log.append(
        CLASSIFIER_STREAM,
        ExpectedVersion::Exact(version),
        vec![event],
    )
    .await?;
    tracing::info!(model = %model_version, previous = %previous_version, "classifier recorded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_loads_and_bad_settings_name_their_key() {
        let rules = domain::Rules::defaults();
        let placer = load(ClassifierSettings::default(), &rules, None)
            .expect("the shipped model loads")
            .expect("on by default");
        assert!(placer.version().starts_with("sha256:"));
        let off = ClassifierSettings {
            enabled: false,
            ..ClassifierSettings::default()
        };
        assert!(load(off, &rules, None).expect("off is valid").is_none());
        let mut crossed = ClassifierSettings::default();
        crossed.priority.suggest = 0.9;
        let error = load(crossed, &rules, None).expect_err("suggest above auto");
        assert!(
            error.to_string().contains("classifier.priority.suggest"),
            "{error}"
        );
        let missing = ClassifierSettings {
            model: Some("/nonexistent/model.bin".into()),
            ..ClassifierSettings::default()
        };
        let error = load(missing, &rules, None).expect_err("no such file");
        assert!(
            error.to_string().contains("/nonexistent/model.bin"),
            "{error}"
        );
    }

    #[test]
    fn a_damaged_model_file_is_refused_with_the_reason() {
        let folder = tempfile::tempdir().expect("temp dir");
        std::fs::write(folder.path().join("model.bin"), b"not a model").expect("write");
        let settings = ClassifierSettings {
            model: Some("model.bin".into()),
            ..ClassifierSettings::default()
        };
        let error =
            load(settings, &domain::Rules::defaults(), Some(folder.path())).expect_err("damaged");
        assert!(error.to_string().contains("CLOOPCLS"), "{error}");
    }
}
