//! The trained classifier in the classify step: two thresholds per field decide whether the
//! model classifies a ticket on its own (`auto`), suggests a classification for a person to
//! confirm (`suggest`), or says nothing. `[classifier]` of the configuration holds them
//! ([`ClassifierSettings`]); [`Placer`] is a model with its thresholds, and [`WithModel`] is the
//! aggregate's [`Policy`]: the rules, asked first, and the model for what they cannot place.
//!
//! Pure: reading the model file is the service's; this module gets the model already read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{priority_floor, Field, Model, Prediction};
use crate::config::DomainConfig;
use crate::rules::Rules;
use crate::types::{
    Classification, Deadlines, ModelVerdict, Outcome, Placement, Policy, RewardRule, Route,
    SuggestedField, SuggestedValue, Suggestion,
};
use crate::DomainError;

/// How many values of each field a suggestion carries.
pub const SUGGESTED_VALUES: usize = 3;

/// The two thresholds of one field: from `auto` up the model's value is taken without a
/// person; from `suggest` up (below `auto`) it is suggested. `0 <= suggest <= auto <= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub auto: f64,
    pub suggest: f64,
}

/// The `[classifier]` table of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierSettings {
    /// `false` turns the model off: the keyword rules alone classify, as before it existed.
    pub enabled: bool,
    /// The model file; absent: the model shipped with the service.
    pub model: Option<String>,
    pub kind: Thresholds,
    pub content_type: Thresholds,
    pub priority: Thresholds,
    pub department: Thresholds,
}

impl Default for ClassifierSettings {
    /// The defaults measured on the corpus's held-out split with the shipped model
    /// (`docs/classification.md`, "Thresholds").
    fn default() -> Self {
        Self {
            enabled: true,
            model: None,
            kind: Thresholds {
                auto: 0.5,
                suggest: 0.3,
            },
            content_type: Thresholds {
                auto: 0.5,
                suggest: 0.3,
            },
            priority: Thresholds {
                auto: 0.5,
                suggest: 0.3,
            },
            department: Thresholds {
                auto: 0.5,
                suggest: 0.3,
            },
        }
    }
}

impl ClassifierSettings {
    /// The defaults with the same two thresholds for every field.
    pub fn uniform(auto: f64, suggest: f64) -> Self {
        let thresholds = Thresholds { auto, suggest };
        Self {
            kind: thresholds,
            content_type: thresholds,
            priority: thresholds,
            department: thresholds,
            ..Self::default()
        }
    }

    /// The thresholds of `field`.
    pub fn thresholds(&self, field: Field) -> Thresholds {
        match field {
            Field::Kind => self.kind,
            Field::ContentType => self.content_type,
            Field::Priority => self.priority,
            Field::Department => self.department,
        }
    }

    /// Checks every pair of thresholds; the error names the key.
    pub fn validate(&self) -> Result<(), DomainError> {
        for field in Field::ALL {
            let Thresholds { auto, suggest } = self.thresholds(*field);
            let key = |which: &str| format!("classifier.{field}.{which}");
            for (which, value) in [("auto", auto), ("suggest", suggest)] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(DomainError::invalid(
                        key(which),
                        format!("{value} is outside 0 to 1"),
                    ));
                }
            }
            if suggest > auto {
                return Err(DomainError::invalid(
                    key("suggest"),
                    format!("{suggest} is above the auto threshold {auto}"),
                ));
            }
        }
        if self
            .model
            .as_deref()
            .is_some_and(|path| path.trim().is_empty())
        {
            return Err(DomainError::invalid(
                "classifier.model",
                "must name a file (leave it out for the shipped model)",
            ));
        }
        Ok(())
    }
}

/// Where the thresholds put a prediction: `auto` when every field reaches its `auto`
/// threshold, nothing when any field is below its `suggest` threshold, `suggest` otherwise.
pub fn place(prediction: &Prediction, settings: &ClassifierSettings) -> Placement {
    let mut placement = Placement::Auto;
    for field in Field::ALL {
        let thresholds = settings.thresholds(*field);
        let probability = prediction.field(*field).probability;
        if probability < thresholds.suggest {
            return Placement::Unsure;
        }
        if probability < thresholds.auto {
            placement = Placement::Suggest;
        }
    }
    placement
}

/// A probability as recorded: rounded to 4 decimals, so events read well and stay short.
fn rounded(probability: f64) -> f64 {
    (probability * 10_000.0).round() / 10_000.0
}

/// The suggestion of a prediction: per field the chosen value first, then the next most
/// probable ones, [`SUGGESTED_VALUES`] at most. `at` is the Unix epoch until the aggregate
/// sets it.
pub fn suggestion(prediction: &Prediction, model_version: &str) -> Suggestion {
    let fields = Field::ALL
        .iter()
        .map(|field| {
            let predicted = prediction.field(*field);
            let mut values = vec![SuggestedValue {
                value: predicted.value.clone(),
                probability: rounded(predicted.probability),
            }];
            values.extend(
                predicted
                    .ranked
                    .iter()
                    .filter(|(value, _)| *value != predicted.value)
                    .take(SUGGESTED_VALUES - 1)
                    .map(|(value, probability)| SuggestedValue {
                        value: value.clone(),
                        probability: rounded(*probability),
                    }),
            );
            SuggestedField {
                field: field.as_str().to_owned(),
                values,
            }
        })
        .collect();
    Suggestion {
        model_version: model_version.to_owned(),
        fields,
        confidence: rounded(prediction.confidence()),
        floor_applied: prediction.floor_applied,
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

/// A model with its thresholds, checked against the configuration: what the workflow loads
/// once at start.
#[derive(Debug, Clone)]
pub struct Placer {
    model: Model,
    settings: ClassifierSettings,
}

impl Placer {
    /// Checks the thresholds and that every department the model may answer is configured.
    pub fn new(
        model: Model,
        settings: ClassifierSettings,
        config: &DomainConfig,
    ) -> Result<Self, DomainError> {
        settings.validate()?;
        model.check_config(config)?;
        Ok(Self { model, settings })
    }

    /// The model's version.
    pub fn version(&self) -> &str {
        self.model.version()
    }

    /// The thresholds.
    pub fn settings(&self) -> &ClassifierSettings {
        &self.settings
    }

    /// The model's verdict on `text`, with the rules' priority keywords as its floor.
    pub fn verdict(&self, rules: &Rules, text: &str) -> ModelVerdict {
        let floor = priority_floor(rules.classifier(), text);
        let prediction = self.model.predict(text, floor);
        ModelVerdict {
            placement: place(&prediction, &self.settings),
            suggestion: suggestion(&prediction, self.model.version()),
        }
    }
}

/// The aggregate's policy with the trained classifier: the rules answer everything, and the
/// model (when there is one) gives its verdict on what the rules are not confident about.
#[derive(Debug, Clone, Copy)]
pub struct WithModel<'a> {
    pub rules: &'a Rules,
    pub placer: Option<&'a Placer>,
}

impl Policy for WithModel<'_> {
    fn classify(&self, content: &str, product: Option<&str>) -> Classification {
        self.rules.classify(content, product)
    }

    fn route(&self, classification: &Classification, product: Option<&str>) -> Option<Route> {
        self.rules.route(classification, product)
    }

    fn deadlines(&self, received_at: DateTime<Utc>, classification: &Classification) -> Deadlines {
        self.rules.deadlines(received_at, classification)
    }

    fn deadlines_for(
        &self,
        start: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
    ) -> Deadlines {
        self.rules.deadlines_for(start, classification, vip)
    }

    fn requires_approval(&self, classification: &Classification, outcome: Outcome) -> bool {
        self.rules.requires_approval(classification, outcome)
    }

    fn satisfied_threshold(&self) -> u8 {
        self.rules.satisfied_threshold()
    }

    fn is_department(&self, department: &str) -> bool {
        self.rules.is_department(department)
    }

    fn version(&self) -> String {
        Policy::version(self.rules)
    }

    fn reward(&self) -> Option<RewardRule> {
        self.rules.reward()
    }

    fn max_notes_per_ticket(&self) -> usize {
        self.rules.max_notes_per_ticket()
    }

    fn terms(&self, content: &str) -> Vec<String> {
        Policy::terms(self.rules, content)
    }

    fn is_member(&self, department: &str, person: &str) -> bool {
        self.rules.is_member(department, person)
    }

    fn model_verdict(&self, content: &str) -> Option<ModelVerdict> {
        self.placer
            .map(|placer| placer.verdict(self.rules, content))
    }
}
