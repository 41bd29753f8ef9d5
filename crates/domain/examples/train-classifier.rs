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
//! `--misses` also lists the evaluated rows whose department is wrong or whose urgency was
//! missed or invented: where new labels help most.
//!
//! Tuning, never on the held-out split: `--validate` trains on four fifths of the train split
//! and evaluates on the other fifth (every fifth train row) and writes nothing; `--epochs N`,
//! `--rate R`, `--l2 L` and `--bits B`, `--balance P`, `--urgent-at P` and `--sharpen S` (calibration: every weight times S) change the training
//! options from their defaults; `--ngrams N` (character n-grams up to N), `--bigrams` /
//! `--no-bigrams` (pairs of neighbouring words), `--segmented` / `--no-segmented` (Chinese words as jieba
//! segments them) and `--keyword-copies K` the features.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use domain::classifier::corpus::{self, Split};
use domain::classifier::evaluate::evaluate;
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

fn run() -> Result<ExitCode, String> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/classifier");
    let mut corpus_path = data.join("corpus.csv");
    let mut out_path = data.join("model.bin");
    let mut check = false;
    let mut validate = false;
    let mut misses = false;
    let mut options = TrainOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--corpus" => corpus_path = args.next().ok_or("--corpus needs a file")?.into(),
            "--out" => out_path = args.next().ok_or("--out needs a file")?.into(),
            "--check" => check = true,
            "--validate" => validate = true,
            "--misses" => misses = true,
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
    println!("{}", log_loss(&model, &heldout));
    if misses {
        print_misses(&model, &rules, &heldout);
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

/// Prints the rows whose department is wrong or whose urgency the model got wrong.
fn print_misses(model: &domain::classifier::Model, rules: &Rules, examples: &[Example]) {
    println!("\nmisses (labelled -> predicted)");
    for example in examples {
        let floor = domain::classifier::priority_floor(rules.classifier(), &example.text);
        let prediction = model.predict(&example.text, floor);
        let urgent_wrong =
            (example.priority == Priority::Urgent) != (prediction.priority == Priority::Urgent);
        if prediction.department != example.department || urgent_wrong {
            println!(
                "  {} -> {}, {} -> {}: {}",
                example.department,
                prediction.department,
                example.priority,
                prediction.priority,
                example.text
            );
        }
    }
}

/// The mean negative log probability of the labelled value, per field (lower is better
/// calibrated and more certain where right): the figure `--sharpen` is chosen by.
fn log_loss(model: &domain::classifier::Model, examples: &[Example]) -> String {
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
    let count = examples.len().max(1) as f64;
    let parts: Vec<String> = Field::ALL
        .iter()
        .zip(sums)
        .map(|(field, sum)| format!("{field} {:.3}", sum / count))
        .collect();
    format!(
        "log loss: {} (mean {:.3})",
        parts.join(", "),
        sums.iter().sum::<f64>() / (4.0 * count)
    )
}
