//! Trains the classifier from the corpus's train split, evaluates it on the held-out split
//! and writes the model file (docs/classification.md).
//!
//! ```text
//! cargo run --release -p domain --example train-classifier            # train, evaluate, write
//! cargo run --release -p domain --example train-classifier -- --check # fail if the file differs
//! ```
//!
//! Options: `--corpus FILE` (default `crates/domain/data/classifier/corpus.csv`), `--out
//! FILE` (default `crates/domain/data/classifier/model.bin`), `--check` (write nothing; exit
//! 1 when the file is not what training produces). Training is deterministic: the same corpus
//! and build give the same file byte for byte.
//!
//! `--misses` also lists the evaluated rows whose department or kind is wrong or whose
//! urgency was missed or invented, and counts the confusions: where new labels help most.
//! With `--folds K` it lists those of the train rows, each scored by the fold's model that
//! did not train on it (the first seed's), so misses are read without the held-out rows.
//!
//! Tuning, never on the held-out split: `--validate` trains on four fifths of the train split
//! and evaluates on the other fifth (every fifth train row) and writes nothing; `--epochs N`,
//! `--rate R`, `--l2 L` and `--bits B`, `--balance P`, `--urgent-at P` and `--sharpen S` (calibration: every weight times S) change the training
//! options from their defaults; `--ngrams N` (character n-grams up to N), `--bigrams` /
//! `--no-bigrams` (pairs of neighbouring words), `--segmented` / `--no-segmented` (Chinese words as jieba
//! segments them) and `--keyword-copies K` the features. `--seed N` sets the seed of the
//! shuffles (default 20261207), `--shuffles K` averages K runs of their own shuffles into one
//! model, `--averaged-epochs E` averages each run's last E epochs, and `--urgent-weight W`
//! multiplies urgent's class weight.
//!
//! Judging a change by its mean, not by one lucky order: `--seeds K` trains with K seeds (the
//! seed and the K - 1 after it), evaluates each, prints each seed's figures and per figure
//! the mean, least and most over the seeds, and writes nothing. `--folds K` (with or without
//! `--seeds`) evaluates by K-fold cross-validation on the train split instead of on the
//! held-out split: each fold (every K-th train row) is scored by a model trained on the
//! others, and the figures are those of all the train rows so scored.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use domain::classifier::corpus::{self, Split};
use domain::classifier::evaluate::{evaluate, Evaluation};
use domain::classifier::train::{train, Example, TrainOptions};
use domain::config::DomainConfig;
use domain::rules::routing::Router;
use domain::types::Priority;
use domain::Rules;

/// The thresholds the evaluation reports placements at.
const THRESHOLDS: [f64; 6] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn number<T: std::str::FromStr>(value: Option<String>, name: &str) -> Result<T, String> {
    value
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("{name} needs a number"))
}

/// What the command line asks for.
struct Arguments {
    corpus: PathBuf,
    out: PathBuf,
    check: bool,
    validate: bool,
    misses: bool,
    seeds: Option<u64>,
    folds: Option<usize>,
    options: TrainOptions,
}

fn arguments() -> Result<Arguments, String> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/classifier");
    let mut parsed = Arguments {
        corpus: data.join("corpus.csv"),
        out: data.join("model.bin"),
        check: false,
        validate: false,
        misses: false,
        seeds: None,
        folds: None,
        options: TrainOptions::default(),
    };
    let options = &mut parsed.options;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--corpus" => parsed.corpus = args.next().ok_or("--corpus needs a file")?.into(),
            "--out" => parsed.out = args.next().ok_or("--out needs a file")?.into(),
            "--check" => parsed.check = true,
            "--validate" => parsed.validate = true,
            "--misses" => parsed.misses = true,
            "--seeds" => parsed.seeds = Some(number(args.next(), "--seeds")?),
            "--folds" => parsed.folds = Some(number(args.next(), "--folds")?),
            "--seed" => options.seed = number(args.next(), "--seed")?,
            "--shuffles" => options.shuffles = number(args.next(), "--shuffles")?,
            "--averaged-epochs" => {
                options.averaged_epochs = number(args.next(), "--averaged-epochs")?
            }
            "--urgent-weight" => options.urgent_weight = number(args.next(), "--urgent-weight")?,
            "--epochs" => options.epochs = number(args.next(), "--epochs")?,
            "--rate" => options.learning_rate = number(args.next(), "--rate")?,
            "--l2" => options.l2 = number(args.next(), "--l2")?,
            "--bits" => options.bucket_bits = number(args.next(), "--bits")?,
            "--balance" => options.class_balance = number(args.next(), "--balance")?,
            "--sharpen" => options.sharpen = number(args.next(), "--sharpen")?,
            "--urgent-at" => options.urgent_at = number(args.next(), "--urgent-at")?,
            "--ngrams" => options.features.char_ngrams = number(args.next(), "--ngrams")?,
            "--bigrams" => options.features.word_bigrams = true,
            "--no-bigrams" => options.features.word_bigrams = false,
            "--segmented" => options.features.segmented_words = true,
            "--no-segmented" => options.features.segmented_words = false,
            "--keyword-copies" => {
                options.features.keyword_copies = number(args.next(), "--keyword-copies")?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.seeds == Some(0) || parsed.folds.is_some_and(|folds| folds < 2) {
        return Err("--seeds needs at least 1 and --folds at least 2".to_owned());
    }
    Ok(parsed)
}

fn run() -> Result<ExitCode, String> {
    let Arguments {
        corpus: corpus_path,
        out: out_path,
        check,
        validate,
        misses,
        seeds,
        folds,
        options,
    } = arguments()?;
    let config = DomainConfig::default();
    let rules = Rules::defaults();
    let text = std::fs::read_to_string(&corpus_path)
        .map_err(|error| format!("reading {}: {error}", corpus_path.display()))?;
    let rows = corpus::parse(&text, &config).map_err(|error| error.to_string())?;
    let mut training = corpus::examples(&rows, Split::Train);
    let mut heldout = corpus::examples(&rows, Split::Heldout);
    if validate {
        heldout = training.iter().skip(4).step_by(5).cloned().collect();
        training = training
            .into_iter()
            .enumerate()
            .filter(|(index, _)| index % 5 != 4)
            .map(|(_, example)| example)
            .collect();
    }
    if seeds.is_some() || folds.is_some() {
        let seeds: Vec<u64> = (0..seeds.unwrap_or(1))
            .map(|offset| options.seed.wrapping_add(offset))
            .collect();
        let sets = match folds {
            Some(folds) => cross_validation(&training, folds),
            None => vec![(training, heldout)],
        };
        print!("{}", spread(&sets, &seeds, &config, &rules, &options)?);
        if misses {
            // The misses of the first seed over every evaluated set: with --folds, those of
            // the train rows, each scored by the model that did not train on it.
            let mut confusions = std::collections::BTreeMap::new();
            for (training, evaluated) in &sets {
                let model =
                    train(training, &config, &options).map_err(|error| error.to_string())?;
                print_misses(&model, &rules, evaluated, &mut confusions);
            }
            print_confusions(&confusions);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "corpus {}: {} rows, {} train, {} held out",
        corpus_path.display(),
        rows.len(),
        training.len(),
        heldout.len()
    );
    let started = Instant::now();
    let model = train(&training, &config, &options).map_err(|error| error.to_string())?;
    let elapsed = started.elapsed();
    let bytes = model.to_bytes();
    println!(
        "trained in {:.2} s: model {} ({} weighted buckets, {} bytes = {:.2} MiB)",
        elapsed.as_secs_f64(),
        model.version(),
        model.rows(),
        bytes.len(),
        bytes.len() as f64 / (1024.0 * 1024.0)
    );
    println!(
        "\n{} evaluation",
        if validate {
            "validation (a fifth of the train split)"
        } else {
            "held-out"
        }
    );
    print!(
        "{}",
        evaluate(&model, &heldout, rules.classifier(), &THRESHOLDS).render()
    );
    print!("{}", rules_baseline(&rules, &heldout));
    let losses = log_loss(&model, &heldout);
    let parts: Vec<String> = domain::classifier::Field::ALL
        .iter()
        .zip(losses)
        .map(|(field, sum)| format!("{field} {:.3}", sum / heldout.len().max(1) as f64))
        .collect();
    println!(
        "log loss: {} (mean {:.3})",
        parts.join(", "),
        losses.iter().sum::<f64>() / (4.0 * heldout.len().max(1) as f64)
    );
    if misses {
        let mut confusions = std::collections::BTreeMap::new();
        print_misses(&model, &rules, &heldout, &mut confusions);
        print_confusions(&confusions);
    }
    if validate {
        return Ok(ExitCode::SUCCESS);
    }
    if check {
        let shipped = std::fs::read(&out_path)
            .map_err(|error| format!("reading {}: {error}", out_path.display()))?;
        if shipped == bytes {
            println!("\n{} is what training produces", out_path.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "\n{} differs from what training produces: run without --check to rewrite it",
            out_path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    std::fs::write(&out_path, &bytes)
        .map_err(|error| format!("writing {}: {error}", out_path.display()))?;
    println!("\nwrote {}", out_path.display());
    Ok(ExitCode::SUCCESS)
}

/// The keyword rules alone on the same examples, for comparison: fields right, and the
/// share they place without a person (confident and routed) with its department right.
fn rules_baseline(rules: &Rules, examples: &[Example]) -> String {
    let router = Router::new(&rules.config().routing);
    let (mut kind, mut content, mut priority, mut department) = (0, 0, 0, 0);
    let (mut placed, mut placed_right, mut urgent, mut urgent_found) = (0, 0, 0, 0);
    for example in examples {
        let classification = rules.classifier().classify(&example.text, None);
        let route = router.route(&classification, None);
        kind += usize::from(classification.kind == example.kind);
        content += usize::from(classification.content_type == example.content_type);
        priority += usize::from(classification.priority == example.priority);
        let right = route
            .as_ref()
            .is_some_and(|route| route.department == example.department);
        department += usize::from(right);
        if classification.confident && route.is_some() {
            placed += 1;
            placed_right += usize::from(right);
        }
        if example.priority == Priority::Urgent {
            urgent += 1;
            urgent_found += usize::from(classification.priority == Priority::Urgent);
        }
    }
    let percent = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
    let total = examples.len();
    format!(
        "\nthe keyword rules alone on the same examples: kind {:.1}%, content_type {:.1}%, \
         priority {:.1}%, department {:.1}%, urgent recall {:.1}% ({urgent_found}/{urgent}); \
         placed without a person {:.1}% ({placed}), department right in {:.1}% of those\n",
        percent(kind, total),
        percent(content, total),
        percent(priority, total),
        percent(department, total),
        percent(urgent_found, urgent),
        percent(placed, total),
        percent(placed_right, placed),
    )
}

/// The count of each (field, labelled, predicted) confusion that `--misses` saw.
type Confusions = std::collections::BTreeMap<(&'static str, String, String), usize>;

/// Prints the rows whose department or kind is wrong or whose urgency the model got wrong,
/// and counts the department and kind confusions into `confusions`.
fn print_misses(
    model: &domain::classifier::Model,
    rules: &Rules,
    examples: &[Example],
    confusions: &mut Confusions,
) {
    println!("\nmisses (labelled -> predicted: department, kind, priority)");
    for example in examples {
        let floor = domain::classifier::priority_floor(rules.classifier(), &example.text);
        let prediction = model.predict(&example.text, floor);
        let urgent_wrong =
            (example.priority == Priority::Urgent) != (prediction.priority == Priority::Urgent);
        let department_wrong = prediction.department != example.department;
        let kind_wrong = prediction.kind != example.kind;
        if department_wrong {
            *confusions
                .entry((
                    "department",
                    example.department.clone(),
                    prediction.department.clone(),
                ))
                .or_default() += 1;
        }
        if kind_wrong {
            *confusions
                .entry((
                    "kind",
                    example.kind.to_string(),
                    prediction.kind.to_string(),
                ))
                .or_default() += 1;
        }
        if department_wrong || kind_wrong || urgent_wrong {
            println!(
                "  {} -> {}, {} -> {}, {} -> {}: {}",
                example.department,
                prediction.department,
                example.kind,
                prediction.kind,
                example.priority,
                prediction.priority,
                example.text
            );
        }
    }
}

/// Prints the confusions counted by [`print_misses`], the most frequent first.
fn print_confusions(confusions: &Confusions) {
    let mut ranked: Vec<_> = confusions.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("\nconfusions (field: labelled -> predicted, rows)");
    for ((field, labelled, predicted), count) in ranked {
        println!("  {field}: {labelled} -> {predicted}, {count}");
    }
}

/// The sum over `examples` of the negative log probability of the labelled value, per field
/// (divided by the count, lower is better calibrated and more certain where right): the
/// figure `--sharpen` is chosen by.
fn log_loss(model: &domain::classifier::Model, examples: &[Example]) -> [f64; 4] {
    use domain::classifier::Field;
    let mut sums = [0f64; 4];
    for example in examples {
        let prediction = model.predict(&example.text, None);
        for (slot, field) in Field::ALL.iter().enumerate() {
            let probability = prediction
                .field(*field)
                .ranked
                .iter()
                .find(|(label, _)| label == example.label(*field))
                .map_or(1e-9, |(_, probability)| *probability);
            sums[slot] -= probability.max(1e-9).ln();
        }
    }
    sums
}

/// K folds of the train split: each fold's validation rows are every K-th row (from the
/// fold's index), its training rows the others.
fn cross_validation(training: &[Example], folds: usize) -> Vec<(Vec<Example>, Vec<Example>)> {
    (0..folds)
        .map(|fold| {
            let (validation, rest): (Vec<_>, Vec<_>) = training
                .iter()
                .enumerate()
                .partition(|(index, _)| index % folds == fold);
            let strip = |pairs: Vec<(usize, &Example)>| -> Vec<Example> {
                pairs
                    .into_iter()
                    .map(|(_, example)| example.clone())
                    .collect()
            };
            (strip(rest), strip(validation))
        })
        .collect()
}

/// The figures of one seed over every evaluated set (one set, or the folds).
#[derive(Default, Clone)]
struct Figures {
    examples: usize,
    correct: [usize; 4],
    urgent: usize,
    urgent_found: usize,
    not_urgent: usize,
    false_urgent: usize,
    placed: usize,
    placed_right: usize,
    loss: f64,
}

impl Figures {
    fn add(&mut self, evaluation: &Evaluation, loss: [f64; 4]) {
        self.examples += evaluation.examples;
        for (sum, value) in self.correct.iter_mut().zip(evaluation.correct) {
            *sum += value;
        }
        self.urgent += evaluation.urgent;
        self.urgent_found += evaluation.urgent_found;
        self.not_urgent += evaluation.not_urgent;
        self.false_urgent += evaluation.false_urgent;
        self.placed += evaluation.placements[0].placed;
        self.placed_right += evaluation.placements[0].department_right;
        self.loss += loss.iter().sum::<f64>();
    }

    /// The figures as percentages (log loss as the mean over the four fields), in the order
    /// of [`FIGURES`].
    fn values(&self) -> [f64; 9] {
        let percent = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
        [
            percent(self.correct[3], self.examples),
            percent(self.correct[0], self.examples),
            percent(self.correct[1], self.examples),
            percent(self.correct[2], self.examples),
            percent(self.urgent_found, self.urgent),
            percent(self.false_urgent, self.not_urgent),
            percent(self.placed, self.examples),
            percent(self.placed_right, self.placed),
            self.loss / (4.0 * self.examples.max(1) as f64),
        ]
    }
}

/// The names of [`Figures::values`].
const FIGURES: [&str; 9] = [
    "department",
    "kind",
    "content_type",
    "priority",
    "urgent recall",
    "false urgent",
    "placed at 0.5",
    "placed, dept right",
    "log loss",
];

/// Trains with each seed on each set's training rows, scores its evaluation rows, and
/// renders each seed's figures and per figure the mean, least and most over the seeds.
fn spread(
    sets: &[(Vec<Example>, Vec<Example>)],
    seeds: &[u64],
    config: &DomainConfig,
    rules: &Rules,
    options: &TrainOptions,
) -> Result<String, String> {
    let runs: Vec<Result<Figures, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .iter()
            .map(|seed| {
                scope.spawn(move || {
                    let options = TrainOptions {
                        seed: *seed,
                        ..options.clone()
                    };
                    let mut figures = Figures::default();
                    for (training, evaluated) in sets {
                        let model =
                            train(training, config, &options).map_err(|error| error.to_string())?;
                        let evaluation =
                            evaluate(&model, evaluated, rules.classifier(), &THRESHOLDS[2..3]);
                        figures.add(&evaluation, log_loss(&model, evaluated));
                    }
                    Ok(figures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("a training panicked".into()))
            })
            .collect()
    });
    let runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let evaluated: usize = sets.iter().map(|(_, evaluated)| evaluated.len()).sum();
    let mut out = format!(
        "{} seeds from {}, {} ({} rows evaluated per seed)\n{:<8}",
        seeds.len(),
        seeds[0],
        if sets.len() > 1 {
            format!("{}-fold cross-validation on the train split", sets.len())
        } else {
            "trained on the train split, evaluated on the held-out split".to_owned()
        },
        evaluated,
        "seed"
    );
    for name in FIGURES {
        out.push_str(&format!("{name:>14.14}"));
    }
    out.push('\n');
    let values: Vec<[f64; 9]> = runs.iter().map(Figures::values).collect();
    for (seed, row) in seeds.iter().zip(&values) {
        out.push_str(&format!("{seed:<8}"));
        for value in row {
            out.push_str(&format!("{value:>14.3}"));
        }
        out.push('\n');
    }
    let count = values.len() as f64;
    for (name, pick) in [("mean", 0), ("min", 1), ("max", 2)] {
        out.push_str(&format!("{name:<8}"));
        for column in 0..FIGURES.len() {
            let column_values = values.iter().map(|row| row[column]);
            let value = match pick {
                0 => column_values.sum::<f64>() / count,
                1 => column_values.fold(f64::INFINITY, f64::min),
                _ => column_values.fold(f64::NEG_INFINITY, f64::max),
            };
            out.push_str(&format!("{value:>14.3}"));
        }
        out.push('\n');
    }
    Ok(out)
}
