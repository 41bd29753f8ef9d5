//! Evaluation of a model on labelled examples it was not trained on: accuracy per field, the
//! department confusion table, urgent recall and false urgent rate (after the keyword
//! floor), and at several thresholds the share that would be placed without a person (every
//! field at least that probable) and how often those placements are right.

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

/// The figures of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub examples: usize,
    /// Right answers per field, in the order of [`Field::ALL`].
    pub correct: [usize; 4],
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
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Evaluation {
    /// The share of right answers for `field`.
    pub fn accuracy(&self, field: Field) -> f64 {
        share(self.correct[field.index()], self.examples)
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
                self.examples
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
    };
    for example in examples {
        let prediction = model.predict(&example.text, priority_floor(rules, &example.text));
        let mut all_right = true;
        for field in Field::ALL {
            let right = prediction.field(*field).value == example.label(*field);
            evaluation.correct[field.index()] += usize::from(right);
            all_right &= right;
        }
        let position = |name: &str| evaluation.departments.iter().position(|d| d == name);
        if let (Some(actual), Some(predicted)) = (
            position(&example.department),
            position(&prediction.department),
        ) {
            evaluation.confusion[actual][predicted] += 1;
        }
        let predicted_urgent = prediction.priority == Priority::Urgent;
        if example.priority == Priority::Urgent {
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
