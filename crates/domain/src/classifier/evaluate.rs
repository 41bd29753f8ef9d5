//! Evaluation of a model on labelled examples it was not trained on: accuracy per field, the
//! department confusion table, urgent recall and false urgent rate (after the keyword
//! floor), at several thresholds the share that would be placed without a person (every
//! field at least that probable) and how often those placements are right, and the
//! calibration: how often the model is right at each level of confidence it states.
//!
//! An example scores only the fields it has a label for (`Example::field_weights` above 0):
//! a ticket whose department a person corrected but whose classification nobody checked
//! scores its department alone.

use std::fmt::Write as _;

use super::train::Example;
use super::{priority_floor, Field, Model};
use crate::rules::classify::Classifier;
use crate::types::Priority;

/// The placements at one confidence threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub threshold: f64,
    /// Examples whose every field reached the threshold.
    pub placed: usize,
    /// Of those, how many had the right department.
    pub department_right: usize,
    /// Of those, how many had every field right.
    pub all_right: usize,
}

/// The predictions whose confidence fell in one band, and how many were right.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The band is `from <= confidence < to` (the last band includes 1).
    pub from: f64,
    pub to: f64,
    /// Field predictions (one per scored field of each example) in the band.
    pub predictions: usize,
    /// Of those, how many were right.
    pub right: usize,
    /// The sum of their stated probabilities (the mean is what the model claims).
    pub stated: f64,
}

/// The bands of the calibration table.
pub const BANDS: [f64; 6] = [0.0, 0.3, 0.5, 0.7, 0.9, 1.0];

/// The figures of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub examples: usize,
    /// Right answers per field, in the order of [`Field::ALL`].
    pub correct: [usize; 4],
    /// Examples with a label for each field (every example, for a corpus).
    pub scored: [usize; 4],
    pub departments: Vec<String>,
    /// `confusion[actual][predicted]`, both indices into `departments`.
    pub confusion: Vec<Vec<usize>>,
    /// Urgent examples, and how many of them were predicted urgent.
    pub urgent: usize,
    pub urgent_found: usize,
    /// Examples that are not urgent, and how many of them were predicted urgent.
    pub not_urgent: usize,
    pub false_urgent: usize,
    /// Predictions whose priority the keyword floor raised.
    pub floor_raised: usize,
    pub placements: Vec<Placement>,
    /// Calibration: each field prediction by the probability stated for it, in [`BANDS`].
    pub bands: Vec<Band>,
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Evaluation {
    /// The share of right answers for `field`, among the examples labelled for it.
    pub fn accuracy(&self, field: Field) -> f64 {
        share(self.correct[field.index()], self.scored[field.index()])
    }

    /// Right answers over every scored field (a single figure to compare two models by).
    pub fn total_correct(&self) -> usize {
        self.correct.iter().sum()
    }

    /// The share of urgent examples predicted urgent.
    pub fn urgent_recall(&self) -> f64 {
        share(self.urgent_found, self.urgent)
    }

    /// The share of examples that are not urgent but were predicted urgent.
    pub fn false_urgent_rate(&self) -> f64 {
        share(self.false_urgent, self.not_urgent)
    }

    /// The evaluation as a plain-text report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "examples: {}", self.examples);
        for field in Field::ALL {
            let _ = writeln!(
                out,
                "{:<13} {:>6.1}%  ({}/{})",
                field.as_str(),
                100.0 * self.accuracy(*field),
                self.correct[field.index()],
                self.scored[field.index()]
            );
        }
        let _ = writeln!(
            out,
            "urgent recall {:.1}% ({}/{}), false urgent {:.1}% ({}/{}), floor raised {}",
            100.0 * self.urgent_recall(),
            self.urgent_found,
            self.urgent,
            100.0 * self.false_urgent_rate(),
            self.false_urgent,
            self.not_urgent,
            self.floor_raised
        );
        let _ = writeln!(
            out,
            "\ndepartment confusion (rows: labelled, columns: predicted)"
        );
        let short: Vec<String> = self
            .departments
            .iter()
            .map(|name| name.chars().take(6).collect())
            .collect();
        let _ = write!(out, "{:<17}", "");
        for name in &short {
            let _ = write!(out, "{name:>7}");
        }
        let _ = writeln!(out);
        for (name, row) in self.departments.iter().zip(&self.confusion) {
            let _ = write!(out, "{name:<17}");
            for count in row {
                let _ = write!(out, "{count:>7}");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "\nthreshold  placed without a person  department right  all fields right"
        );
        for placement in &self.placements {
            let _ = writeln!(
                out,
                "{:>9.2}  {:>14.1}% ({:>4})  {:>15.1}%  {:>15.1}%",
                placement.threshold,
                100.0 * share(placement.placed, self.examples),
                placement.placed,
                100.0 * share(placement.department_right, placement.placed),
                100.0 * share(placement.all_right, placement.placed),
            );
        }
        let _ = writeln!(
            out,
            "\ncalibration (every field prediction by the probability it was given)\n\
             band         predictions  stated  right"
        );
        for band in &self.bands {
            let _ = writeln!(
                out,
                "{:.1}-{:.1}  {:>15}  {:>5.1}%  {:>5.1}%",
                band.from,
                band.to,
                band.predictions,
                100.0 * band.stated / band.predictions.max(1) as f64,
                100.0 * share(band.right, band.predictions),
            );
        }
        out
    }
}

/// Evaluates `model` on `examples`, with the priority floor of `rules`, and the placements
/// at each of `thresholds`.
pub fn evaluate(
    model: &Model,
    examples: &[Example],
    rules: &Classifier,
    thresholds: &[f64],
) -> Evaluation {
    let departments = model.labels(Field::Department).to_vec();
    let mut evaluation = Evaluation {
        examples: examples.len(),
        correct: [0; 4],
        scored: [0; 4],
        confusion: vec![vec![0; departments.len()]; departments.len()],
        departments,
        urgent: 0,
        urgent_found: 0,
        not_urgent: 0,
        false_urgent: 0,
        floor_raised: 0,
        placements: thresholds
            .iter()
            .map(|threshold| Placement {
                threshold: *threshold,
                placed: 0,
                department_right: 0,
                all_right: 0,
            })
            .collect(),
        bands: BANDS
            .windows(2)
            .map(|pair| Band {
                from: pair[0],
                to: pair[1],
                predictions: 0,
                right: 0,
                stated: 0.0,
            })
            .collect(),
    };
    for example in examples {
        let prediction = model.predict(&example.text, priority_floor(rules, &example.text));
        let mut all_right = true;
        for field in Field::ALL {
            if example.field_weight(*field) <= 0.0 {
                continue;
            }
            let predicted = prediction.field(*field);
            let right = predicted.value == example.label(*field);
            evaluation.scored[field.index()] += 1;
            evaluation.correct[field.index()] += usize::from(right);
            all_right &= right;
            let band = evaluation
                .bands
                .iter()
                .rposition(|band| predicted.probability >= band.from)
                .unwrap_or(0);
            let band = &mut evaluation.bands[band];
            band.predictions += 1;
            band.right += usize::from(right);
            band.stated += predicted.probability;
        }
        let department_scored = example.field_weight(Field::Department) > 0.0;
        let position = |name: &str| evaluation.departments.iter().position(|d| d == name);
        if let (true, Some(actual), Some(predicted)) = (
            department_scored,
            position(&example.department),
            position(&prediction.department),
        ) {
            evaluation.confusion[actual][predicted] += 1;
        }
        let predicted_urgent = prediction.priority == Priority::Urgent;
        if example.field_weight(Field::Priority) <= 0.0 {
            // Nothing known about its priority.
        } else if example.priority == Priority::Urgent {
            evaluation.urgent += 1;
            evaluation.urgent_found += usize::from(predicted_urgent);
        } else {
            evaluation.not_urgent += 1;
            evaluation.false_urgent += usize::from(predicted_urgent);
        }
        evaluation.floor_raised += usize::from(prediction.floor_applied.is_some());
        let confidence = prediction.confidence();
        let department_right = prediction.department == example.department;
        for placement in &mut evaluation.placements {
            if confidence >= placement.threshold {
                placement.placed += 1;
                placement.department_right += usize::from(department_right);
                placement.all_right += usize::from(all_right);
            }
        }
    }
    evaluation
}
