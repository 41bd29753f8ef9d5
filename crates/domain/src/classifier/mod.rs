//! A trained text classifier beside the keyword rules: it reads a submission's text and gives
//! kind, content type, priority and department, each with a probability for every value.
//!
//! Pure and deterministic like the rest of the crate: a [`Model`] is read from bytes
//! ([`Model::from_bytes`]), predicts from text alone, and never touches a file or a clock.
//! Training ([`train::train`]) is pure too and deterministic for a given seed; reading the
//! corpus file and writing the model file are the training tool's
//! (`cargo run --release -p domain --example train-classifier`, `docs/classification.md`).
//!
//! - [`features`]: NFKC-normalised text to hashed character 1–3-grams, words and the
//!   configured keywords with their meanings;
//! - [`model`]: per field a multinomial logistic regression over those features, and the
//!   versioned file format;
//! - [`train`]: stochastic gradient descent from labelled examples;
//! - [`corpus`]: the labelled corpus's CSV, read and checked against the configuration;
//! - [`evaluate`]: accuracy, confusion table, urgent recall and the share placed without a
//!   person on a held-out set;
//! - [`placement`]: the classify step's two thresholds per field (classify, suggest or say
//!   nothing) and the aggregate's policy with a model.
//!
//! The keyword rules stay a floor on priority: a priority keyword (a safety hazard, an outage,
//! a legal threat) sets the least priority a prediction may have, and the model may raise it
//! but never lower it ([`priority_floor`]).

pub mod corpus;
pub mod evaluate;
pub mod features;
pub mod labels;
pub mod model;
pub mod placement;
pub mod shipped;
pub mod train;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use model::Model;

use crate::config::DomainConfig;
use crate::rules::classify::Classifier;
use crate::types::{ContentType, Kind, Priority};
use crate::DomainError;

/// A field the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Kind,
    ContentType,
    Priority,
    Department,
}

impl Field {
    /// Every field, in the order of the model file and of [`Prediction::fields`].
    pub const ALL: &'static [Field] = &[
        Field::Kind,
        Field::ContentType,
        Field::Priority,
        Field::Department,
    ];

    /// The field's name, as in the corpus header and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::ContentType => "content_type",
            Field::Priority => "priority",
            Field::Department => "department",
        }
    }

    fn index(self) -> usize {
        match self {
            Field::Kind => 0,
            Field::ContentType => 1,
            Field::Priority => 2,
            Field::Department => 3,
        }
    }

    /// Whether `labels` are distinct valid values of this field.
    fn check_labels(self, labels: &[String]) -> Result<(), String> {
        for (index, label) in labels.iter().enumerate() {
            if labels[..index].contains(label) {
                return Err(format!("the label {label:?} appears twice"));
            }
            let valid = match self {
                Field::Kind => Kind::parse("kind", label).is_ok(),
                Field::ContentType => ContentType::parse("content_type", label).is_ok(),
                Field::Priority => Priority::parse("priority", label).is_ok(),
                Field::Department => {
                    !label.is_empty()
                        && label
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                }
            };
            if !valid {
                return Err(format!("{label:?} is not a valid {self}"));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field of a prediction: the chosen value, its probability and every value ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPrediction {
    pub value: String,
    /// The chosen value's probability (1 when the priority floor chose it).
    pub probability: f64,
    /// Every label with its probability, most probable first (ties in label order).
    pub ranked: Vec<(String, f64)>,
}

/// What the model says about one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub kind: Kind,
    pub content_type: ContentType,
    pub priority: Priority,
    pub department: String,
    /// Per field, in the order of [`Field::ALL`].
    pub fields: Vec<FieldPrediction>,
    /// The priority the keyword floor imposed, when it raised the model's.
    pub floor_applied: Option<Priority>,
}

impl Prediction {
    /// The prediction of one field.
    pub fn field(&self, field: Field) -> &FieldPrediction {
        &self.fields[field.index()]
    }

    /// The least probability over all fields: the confidence of the whole placement.
    pub fn confidence(&self) -> f64 {
        self.fields
            .iter()
            .map(|field| field.probability)
            .fold(1.0, f64::min)
    }
}

/// The least priority the keyword rules allow for `text`: the most urgent priority keyword
/// it contains (safety hazards and outages are urgent; rights, disputes and "everyone
/// affected" are high), or `None`.
pub fn priority_floor(rules: &Classifier, text: &str) -> Option<Priority> {
    rules.evidence(text).1.priority
}

impl Model {
    /// Predicts every field of `text`. `floor` (from [`priority_floor`]) is the least priority
    /// allowed: a less urgent prediction is raised to it.
    pub fn predict(&self, text: &str, floor: Option<Priority>) -> Prediction {
        let features = self.featurizer.features(text);
        let mut fields: Vec<FieldPrediction> = self
            .fields
            .iter()
            .map(|weights| {
                let probabilities = weights.probabilities(&features);
                let mut ranked: Vec<(String, f64)> =
                    weights.labels.iter().cloned().zip(probabilities).collect();
                // A stable sort keeps label order among equal probabilities.
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                let (value, probability) = ranked[0].clone();
                FieldPrediction {
                    value,
                    probability,
                    ranked,
                }
            })
            .collect();
        let urgent = fields[Field::Priority.index()]
            .ranked
            .iter()
            .find(|(label, _)| label == Priority::Urgent.as_str())
            .map(|(_, probability)| *probability);
        if let Some(probability) = urgent.filter(|p| *p >= f64::from(self.header.urgent_at)) {
            let field = &mut fields[Field::Priority.index()];
            field.value = Priority::Urgent.as_str().to_owned();
            field.probability = probability;
        }
        let parse = |field: Field| fields[field.index()].value.clone();
        // Labels were checked when the model was built or read.
        let kind = Kind::parse("kind", &parse(Field::Kind)).unwrap_or(Kind::Inquiry);
        let content_type = ContentType::parse("content_type", &parse(Field::ContentType))
            .unwrap_or(ContentType::Product);
        let mut priority =
            Priority::parse("priority", &parse(Field::Priority)).unwrap_or(Priority::Medium);
        let department = parse(Field::Department);
        let mut floor_applied = None;
        if let Some(floor) = floor {
            if floor < priority {
                priority = floor;
                floor_applied = Some(floor);
                let field = &mut fields[Field::Priority.index()];
                field.value = floor.as_str().to_owned();
                field.probability = 1.0;
            }
        }
        Prediction {
            kind,
            content_type,
            priority,
            department,
            fields,
            floor_applied,
        }
    }

    /// Checks that every department the model may answer is configured in `config`.
    pub fn check_config(&self, config: &DomainConfig) -> Result<(), DomainError> {
        for department in self.labels(Field::Department) {
            if !config.departments.contains_key(department) {
                return Err(DomainError::invalid(
                    "classifier model",
                    format!("the model answers department {department:?}, which is not configured"),
                ));
            }
        }
        Ok(())
    }
}
