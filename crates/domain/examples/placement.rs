//! Measures the classify step with the trained classifier on the corpus's held-out split: each
//! held-out row is received through the aggregate (`decide`, the rules first, the model for
//! what they cannot place) with the shipped model, and the result compared with its labels.
//!
//! ```text
//! cargo run --release -p domain --example placement                 # the default thresholds
//! cargo run --release -p domain --example placement -- --sweep      # a grid of thresholds
//! cargo run --release -p domain --example placement -- --auto 0.6 --suggest 0.3
//! ```
//!
//! Prints, for the thresholds: the share placed without a person (classified and dispatched,
//! by the rules or by the model), of those (and of the model's alone) the share with the right
//! department and with every field right, the share
//! suggested (and how often the suggestion's chosen values are all right, so that one click
//! confirms it), the share left with nothing, and the time to decide one submission (p50, p99).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use domain::aggregate::{decide, fold};
use domain::classifier::corpus::{self, CorpusRow, Split};
use domain::classifier::placement::{ClassifierSettings, Placer, WithModel};
use domain::classifier::Model;
use domain::command::{Command, Submission};
use domain::ids::{FeedbackId, TicketIdGenerator};
use domain::ticket::Customer;
use domain::types::Step;
use domain::Rules;

/// What the thresholds did with the held-out rows.
#[derive(Default)]
struct Tally {
    rows: usize,
    by_rules: usize,
    by_model: usize,
    placed_department_right: usize,
    placed_all_right: usize,
    model_department_right: usize,
    model_all_right: usize,
    suggested: usize,
    suggested_all_right: usize,
    nothing: usize,
    micros: Vec<u128>,
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn submission(row: &CorpusRow, index: usize) -> Submission {
    let received_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let mut ids = TicketIdGenerator::new(1);
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
    Submission {
        feedback_id: FeedbackId::new(received_at, bytes),
        ticket_id: ids.next(received_at),
        channel: row.channel.clone(),
        external_id: None,
        customer: Customer {
            phone: Some("13800138000".to_owned()),
            ..Customer::default()
        },
        content: row.example.text.clone(),
        occurred_at: None,
        received_at,
        product: row.product.clone(),
        order_id: None,
        attributes: Default::default(),
        language: None,
    }
}

fn measure(rules: &Rules, placer: &Placer, rows: &[&CorpusRow]) -> Tally {
    let policy = WithModel {
        rules,
        placer: Some(placer),
    };
    let mut tally = Tally::default();
    for (index, row) in rows.iter().enumerate() {
        let command = Command::Receive(Box::new(submission(row, index)));
        let started = Instant::now();
        let decided = decide(&fold(&[]), &command, chrono::DateTime::UNIX_EPOCH, &policy);
        tally.micros.push(started.elapsed().as_micros());
        let Ok(events) = decided else { continue };
        tally.rows += 1;
        let ticket = fold(&events);
        let label = &row.example;
        if ticket.step == Step::Handle {
            let department = ticket.department.as_deref() == Some(label.department.as_str());
            let all = department
                && ticket.kind == Some(label.kind)
                && ticket.content_type == Some(label.content_type)
                && ticket.priority == Some(label.priority);
            if ticket.classification_model_version.is_some() {
                tally.by_model += 1;
                tally.model_department_right += usize::from(department);
                tally.model_all_right += usize::from(all);
            } else {
                tally.by_rules += 1;
            }
            tally.placed_department_right += usize::from(department);
            tally.placed_all_right += usize::from(all);
        } else if let Some(suggestion) = &ticket.suggestion {
            tally.suggested += 1;
            tally.suggested_all_right += usize::from(
                suggestion.top("kind") == Some(label.kind.as_str())
                    && suggestion.top("content_type") == Some(label.content_type.as_str())
                    && suggestion.top("priority") == Some(label.priority.as_str())
                    && suggestion.top("department") == Some(label.department.as_str()),
            );
        } else {
            tally.nothing += 1;
        }
    }
    tally.micros.sort_unstable();
    tally
}

fn quantile(sorted: &[u128], q: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn line(auto: f64, suggest: f64, tally: &Tally) -> String {
    let placed = tally.by_rules + tally.by_model;
    format!(
        "auto {auto:.2} suggest {suggest:.2}: placed {:.1}% (rules {:.1}%, model {:.1}%; department right {:.1}%, all right {:.1}%; of the model's: department right {:.1}%, all right {:.1}%), suggested {:.1}% (all right {:.1}%), nothing {:.1}%, decide p50 {} µs p99 {} µs",
        percent(placed, tally.rows),
        percent(tally.by_rules, tally.rows),
        percent(tally.by_model, tally.rows),
        percent(tally.placed_department_right, placed),
        percent(tally.placed_all_right, placed),
        percent(tally.model_department_right, tally.by_model),
        percent(tally.model_all_right, tally.by_model),
        percent(tally.suggested, tally.rows),
        percent(tally.suggested_all_right, tally.suggested),
        percent(tally.nothing, tally.rows),
        quantile(&tally.micros, 0.5),
        quantile(&tally.micros, 0.99),
    )
}

fn run() -> Result<(), String> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/classifier");
    let rules = Rules::defaults();
    let text = std::fs::read_to_string(data.join("corpus.csv")).map_err(|e| e.to_string())?;
    let rows = corpus::parse(&text, rules.config()).map_err(|e| e.to_string())?;
    let heldout: Vec<&CorpusRow> = rows
        .iter()
        .filter(|row| row.split == Split::Heldout)
        .collect();
    let bytes = std::fs::read(data.join("model.bin")).map_err(|e| e.to_string())?;
    let model = Model::from_bytes(&bytes).map_err(|e| e.to_string())?;
    println!("model {}, {} held-out rows", model.version(), heldout.len());
    let mut args = std::env::args().skip(1);
    let mut chosen = ClassifierSettings::default();
    let mut sweep = false;
    while let Some(arg) = args.next() {
        let mut number = || -> Result<f64, String> {
            args.next()
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| format!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--sweep" => sweep = true,
            "--auto" => {
                let auto = number()?;
                chosen = ClassifierSettings::uniform(auto, chosen.kind.suggest);
            }
            "--suggest" => {
                let suggest = number()?;
                chosen = ClassifierSettings::uniform(chosen.kind.auto, suggest);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let grid: Vec<ClassifierSettings> = if sweep {
        [0.5, 0.6, 0.7, 0.8, 0.9]
            .iter()
            .flat_map(|auto| {
                [0.2, 0.3, 0.4].map(|suggest| ClassifierSettings::uniform(*auto, suggest))
            })
            .collect()
    } else {
        vec![chosen]
    };
    for settings in grid {
        let (auto, suggest) = (settings.kind.auto, settings.kind.suggest);
        let placer =
            Placer::new(model.clone(), settings, rules.config()).map_err(|e| e.to_string())?;
        println!(
            "{}",
            line(auto, suggest, &measure(&rules, &placer, &heldout))
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
