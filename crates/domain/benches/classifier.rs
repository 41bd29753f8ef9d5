//! The classifier's costs: reading the shipped model, classifying one submission (p50, p99,
//! against the keyword rules on the same texts as the ceiling measured in the same run), the
//! keyword rules with and without term extraction (and the segmentation dictionary's load time
//! and memory), and training on 100,000 labelled rows.
//!
//! The 100,000 rows are the corpus's train split repeated with variation: each copy gets one
//! of a few openings and closings customers write ("你好，", "急！", "Hi, ", "thanks") and
//! an order number, so that no two rows are the same text. Run with
//! `cargo bench -p domain --bench classifier`; `CLOOP_BENCH_ROWS` changes the count.

use std::time::{Duration, Instant};

use domain::classifier::corpus::{self, Split};
use domain::classifier::train::{train, Example, TrainOptions};
use domain::classifier::{priority_floor, Model};
use domain::config::DomainConfig;
use domain::Rules;

const CORPUS: &str = include_str!("../data/classifier/corpus.csv");
const MODEL: &[u8] = include_bytes!("../data/classifier/model.bin");

const OPENINGS: [&str; 6] = ["", "你好，", "急！", "Hi, ", "客服你好 ", "hello "];
const CLOSINGS: [&str; 6] = ["", " 谢谢", "！！", " thanks", " 麻烦尽快处理", " pls help"];

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index]
}

/// The CPU time this process has used so far (Linux `/proc/self/stat`, user and system, in
/// clock ticks of 10 ms): on a shared machine it says what the work cost, whatever the wait.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// This process's resident memory in KiB (Linux `/proc/self/status`, `VmRSS`).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The machine's load average over the last minute.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() {
    let rows_wanted: usize = std::env::var("CLOOP_BENCH_ROWS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100_000);
    let config = DomainConfig::default();
    let rules = Rules::defaults();
    let mut without_terms_config = DomainConfig::default();
    without_terms_config.classification.max_terms = 0;
    let rules_without_terms = Rules::new(without_terms_config).expect("a valid configuration");

    // The segmentation dictionary and IDF table, read once per process.
    let memory_before = resident_kib();
    let started = Instant::now();
    domain::rules::terms::warm_up();
    let dictionary_load = started.elapsed();
    let dictionary_memory = resident_kib()
        .zip(memory_before)
        .map(|(after, before)| format!("{:.1} MiB", after.saturating_sub(before) as f64 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    let rows = corpus::parse(CORPUS, &config).expect("the corpus parses");
    let texts: Vec<&str> = rows.iter().map(|row| row.example.text.as_str()).collect();

    let started = Instant::now();
    let model = Model::from_bytes(MODEL).expect("the shipped model reads");
    let load = started.elapsed();

    // Classification: the model with its priority floor, and the keyword rules alone.
    let rounds = 20;
    let mut model_times = Vec::with_capacity(texts.len() * rounds);
    let mut rules_times = Vec::with_capacity(texts.len() * rounds);
    let mut no_terms_times = Vec::with_capacity(texts.len() * rounds);
    let mut checksum = 0usize;
    for _ in 0..rounds {
        for text in &texts {
            let started = Instant::now();
            let prediction = model.predict(text, priority_floor(rules.classifier(), text));
            model_times.push(started.elapsed());
            checksum += prediction.department.len();
            let started = Instant::now();
            let classification = rules.classifier().classify(text, None);
            rules_times.push(started.elapsed());
            checksum += classification.keywords.len() + classification.terms.len();
            let started = Instant::now();
            let classification = rules_without_terms.classifier().classify(text, None);
            no_terms_times.push(started.elapsed());
            checksum += classification.keywords.len();
        }
    }
    // Each text's fastest round: its cost without the waits a shared machine adds.
    let mut fastest: Vec<Duration> = (0..texts.len())
        .map(|text| {
            (0..rounds)
                .map(|round| model_times[round * texts.len() + text])
                .min()
                .unwrap_or_default()
        })
        .collect();
    fastest.sort_unstable();
    model_times.sort_unstable();
    rules_times.sort_unstable();
    no_terms_times.sort_unstable();

    // Training on many rows.
    let base = corpus::examples(&rows, Split::Train);
    let many: Vec<Example> = (0..rows_wanted)
        .map(|index| {
            let example = &base[index % base.len()];
            let copy = index / base.len();
            Example {
                text: format!(
                    "{}{}{} #{}",
                    OPENINGS[copy % OPENINGS.len()],
                    example.text,
                    CLOSINGS[(copy / OPENINGS.len()) % CLOSINGS.len()],
                    copy
                ),
                ..example.clone()
            }
        })
        .collect();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let big = train(&many, &config, &TrainOptions::default()).expect("training succeeds");
    let training = started.elapsed();
    let training_cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| format!("{:.2} s", (after - before).as_secs_f64()))
        .unwrap_or_else(|| "unknown".to_owned());

    println!(
        "classifier benchmark ({} texts x {rounds} rounds, checksum {checksum}, load average {})",
        texts.len(),
        load_average()
    );
    println!(
        "  read the shipped model:  {:>9.2} ms ({} bytes, {} weighted buckets)",
        load.as_secs_f64() * 1e3,
        MODEL.len(),
        model.rows()
    );
    println!(
        "  classify (model+floor):  p50 {:>7.1} us  p99 {:>7.1} us  max {:>8.1} us",
        micros(percentile(&model_times, 0.5)),
        micros(percentile(&model_times, 0.99)),
        micros(model_times[model_times.len() - 1])
    );
    println!(
        "  each text's fastest:     p50 {:>7.1} us  p99 {:>7.1} us  max {:>8.1} us",
        micros(percentile(&fastest, 0.5)),
        micros(percentile(&fastest, 0.99)),
        micros(fastest[fastest.len() - 1])
    );
    println!(
        "  rules (with terms):      p50 {:>7.1} us  p99 {:>7.1} us  (ratio of p50s {:.1})",
        micros(percentile(&rules_times, 0.5)),
        micros(percentile(&rules_times, 0.99)),
        micros(percentile(&model_times, 0.5)) / micros(percentile(&rules_times, 0.5))
    );
    println!(
        "  rules without terms:     p50 {:>7.1} us  p99 {:>7.1} us  (max_terms = 0)",
        micros(percentile(&no_terms_times, 0.5)),
        micros(percentile(&no_terms_times, 0.99)),
    );
    println!(
        "  segmentation dictionary: {:>9.2} ms to load, {dictionary_memory} resident",
        dictionary_load.as_secs_f64() * 1e3,
    );
    let bytes = big.to_bytes().len();
    let options = TrainOptions::default();
    println!(
        "  train on {} rows:   {:>9.2} s wall, {training_cpu} CPU ({} runs x {} epochs, the last {} averaged; model {} bytes = {:.2} MiB)",
        many.len(),
        training.as_secs_f64(),
        options.shuffles,
        options.epochs,
        options.averaged_epochs,
        bytes,
        bytes as f64 / (1024.0 * 1024.0)
    );
}
