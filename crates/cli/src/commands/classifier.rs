//! `cloop classifier train|evaluate`: the trained classifier, offline. `train` learns from
//! the labelled corpus plus what people decided about tickets in the workflow's event log (a
//! file opened read-only, or `--store URL`), evaluates the new model beside the current one
//! and writes it only when it is better; `evaluate` scores a model on any labelled CSV.
//! The labels come from `domain::classifier::labels`, the training and the figures from the
//! domain crate; this module reads and writes the files and shows the figures.

use super::Context;
use crate::args::{ClassifierCommand, ClassifierEvaluateArgs, ClassifierTrainArgs, LogSource};
use crate::error::CliError;
use crate::progress::bar;
use domain::classifier::corpus::{self, Split};
use domain::classifier::evaluate::{evaluate, Evaluation};
use domain::classifier::labels::{ticket_label, LabelWeights, LabelledTicket};
use domain::classifier::train::{train, Example, TrainOptions};
use domain::classifier::{shipped, Field, Model};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

/// Rows read from the log at a time.
const READ_CHUNK: usize = 10_000;
/// The thresholds of the placement table.
const THRESHOLDS: [f64; 4] = [0.3, 0.5, 0.7, 0.9];
/// Corrections newer than this many days are the "last month" evaluated on their own.
const RECENT_DAYS: i64 = 30;

/// Runs `cloop classifier ...` on tokio's blocking pool (reading the log and training block).
pub async fn run(context: &Context, command: ClassifierCommand) -> Result<(), CliError> {
    let context = context.clone();
    tokio::task::spawn_blocking(move || match command {
        ClassifierCommand::Train(arguments) => train_command(&context, &arguments),
        ClassifierCommand::Evaluate(arguments) => evaluate_command(&context, &arguments),
    })
    .await
    .map_err(|error| CliError::Other(format!("run the classifier command: {error}")))?
}

/// Reads a model file, naming it in the error.
fn read_model(path: &Path) -> Result<Model, CliError> {
    let bytes = std::fs::read(path).map_err(CliError::io(format!("read {}", path.display())))?;
    Model::from_bytes(&bytes)
        .map_err(|error| CliError::Usage(format!("{}: {error}", path.display())))
}

/// Reads and checks a labelled CSV file against the configuration.
fn read_corpus(
    path: Option<&Path>,
    config: &domain::DomainConfig,
) -> Result<Vec<corpus::CorpusRow>, CliError> {
    let (text, name) = match path {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(CliError::io(format!("read {}", path.display())))?,
            path.display().to_string(),
        ),
        None => (shipped::CORPUS.to_owned(), "the built-in corpus".to_owned()),
    };
    corpus::parse(&text, config).map_err(|error| CliError::Usage(format!("{name}: {error}")))
}

/// What the log taught: the labelled tickets, and what was left out and why.
struct LogLabels {
    events: u64,
    tickets: usize,
    labelled: Vec<LabelledTicket>,
    unreadable: usize,
    unconfigured: usize,
}

/// Reads every ticket's events from the log and folds each into its labels.
fn log_labels(
    context: &Context,
    source: LogSource,
    keys: Option<&vault::Vault>,
    config: &domain::DomainConfig,
) -> Result<LogLabels, CliError> {
    let store = super::log::log_store(source)?;
    let log = super::log::open_source(&store)?;
    let head = log
        .head_position()
        .map_err(|error| CliError::Other(format!("read the head of the event log: {error}")))?;
    let progress = bar(head, "reading the log", context.json);
    let mut streams: HashMap<String, Vec<domain::Event>> = HashMap::new();
    let (mut next, mut events, mut unreadable) = (1, 0u64, 0usize);
    while next <= head {
        let rows = log
            .read_rows(next, READ_CHUNK)
            .map_err(|error| CliError::Other(format!("read the event log: {error}")))?;
        if rows.is_empty() {
            break;
        }
        next = rows.last().map_or(next, |row| row.position + 1);
        events += rows.len() as u64;
        let tickets: Vec<eventlog::RecordedEvent> = rows
            .into_iter()
            .filter(|row| row.stream_id.starts_with(audit::TICKET_STREAM_PREFIX))
            .collect();
        // The customers' text is sealed: opened with the key store when one is given (the
        // keys of the whole chunk read at once), else it reads as empty. The decisions are
        // never sealed.
        match audit::decode_rows(&tickets, keys) {
            Ok(decoded) => {
                for event in decoded {
                    streams
                        .entry(event.stream_id)
                        .or_default()
                        .push(event.event);
                }
            }
            Err(_) => {
                for row in tickets {
                    match audit::decode_event(&row, keys) {
                        Ok(event) => streams.entry(row.stream_id).or_default().push(event),
                        Err(_) => unreadable += 1,
                    }
                }
            }
        }
        progress.set_position(events);
    }
    progress.finish_and_clear();
    let weights = LabelWeights::default();
    let mut labelled = Vec::new();
    let mut unconfigured = 0;
    let mut ids: Vec<&String> = streams.keys().collect();
    // Stream order by id, so that the same log gives the same examples in the same order.
    ids.sort();
    for id in ids {
        if let Some(label) = ticket_label(&streams[id], &weights) {
            if config.departments.contains_key(&label.example.department) {
                labelled.push(label);
            } else {
                unconfigured += 1;
            }
        }
    }
    Ok(LogLabels {
        events,
        tickets: streams.len(),
        labelled,
        unreadable,
        unconfigured,
    })
}

/// One model's figures on both evaluation sets.
struct Scores {
    heldout: Evaluation,
    recent: Evaluation,
}

impl Scores {
    fn of(model: &Model, heldout: &[Example], recent: &[Example], rules: &domain::Rules) -> Self {
        Self {
            heldout: evaluate(model, heldout, rules.classifier(), &THRESHOLDS),
            recent: evaluate(model, recent, rules.classifier(), &THRESHOLDS),
        }
    }

    /// Right answers over both sets: the figure two models are compared by.
    fn total(&self) -> usize {
        self.heldout.total_correct() + self.recent.total_correct()
    }
}

fn accuracies(evaluation: &Evaluation) -> Value {
    let mut fields = serde_json::Map::new();
    for field in Field::ALL {
        fields.insert(
            field.as_str().to_owned(),
            json!({
                "accuracy": evaluation.accuracy(*field),
                "scored": evaluation.scored[field_slot(*field)],
            }),
        );
    }
    json!({
        "examples": evaluation.examples,
        "fields": fields,
        "urgent_recall": evaluation.urgent_recall(),
        "false_urgent_rate": evaluation.false_urgent_rate(),
        "calibration": evaluation.bands.iter().map(|band| json!({
            "from": band.from, "to": band.to, "predictions": band.predictions,
            "right": band.right,
        })).collect::<Vec<_>>(),
    })
}

fn field_slot(field: Field) -> usize {
    Field::ALL
        .iter()
        .position(|known| *known == field)
        .unwrap_or(0)
}

/// One line per field: the current model's share right, then the new one's.
fn comparison(current: &Evaluation, new: &Evaluation) -> String {
    let mut text = format!("{:<13} {:>8} {:>8}\n", "", "current", "new");
    for field in Field::ALL {
        text.push_str(&format!(
            "{:<13} {:>7.1}% {:>7.1}%  ({} labelled)\n",
            field.as_str(),
            100.0 * current.accuracy(*field),
            100.0 * new.accuracy(*field),
            new.scored[field_slot(*field)],
        ));
    }
    text
}

fn train_command(context: &Context, arguments: &ClassifierTrainArgs) -> Result<(), CliError> {
    let rules = super::audit_rules::rules_from(arguments.config.as_deref())?;
    let config = rules.config();
    let rows = read_corpus(arguments.corpus.as_deref(), config)?;
    let mut training = corpus::examples(&rows, Split::Train);
    let heldout = corpus::examples(&rows, Split::Heldout);
    let source = LogSource {
        db: arguments.db.clone(),
        store: arguments.store.clone(),
    };
    let from_log = if source.db.is_some() || source.store.is_some() {
        let keys = super::log::key_store(arguments.keys.clone(), arguments.keys_store.as_deref())?;
        let vault = super::log::open_key_store(keys.as_ref())?;
        Some(log_labels(context, source, vault.as_ref(), config)?)
    } else {
        None
    };
    let since = chrono::Utc::now() - chrono::Duration::days(RECENT_DAYS);
    let recent: Vec<Example> = from_log
        .iter()
        .flat_map(|labels| &labels.labelled)
        .filter(|label| label.corrected_at.is_some_and(|at| at >= since))
        .map(|label| label.example.clone())
        .collect();
    let learned = from_log.as_ref().map_or(0, |labels| labels.labelled.len());
    training.extend(
        from_log
            .iter()
            .flat_map(|labels| &labels.labelled)
            .map(|label| label.example.clone()),
    );
    let current = if arguments.out.exists() {
        read_model(&arguments.out)?
    } else {
        Model::from_bytes(shipped::MODEL)
            .map_err(|error| CliError::Other(format!("the built-in model: {error}")))?
    };
    let spinner = bar(0, "training", context.json);
    spinner.set_message(format!("training on {} examples", training.len()));
    let started = std::time::Instant::now();
    let mut options = TrainOptions::default();
    if let Some(seed) = arguments.seed {
        options.seed = seed;
    }
    let model = train(&training, config, &options)
        .map_err(|error| CliError::Usage(format!("training: {error}")))?;
    let seconds = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let current_scores = Scores::of(&current, &heldout, &recent, &rules);
    let new_scores = Scores::of(&model, &heldout, &recent, &rules);
    let better = new_scores.total() > current_scores.total();
    let write = better || arguments.force;
    if write {
        write_model(&arguments.out, &model.to_bytes())?;
    }
    let verdict = match (better, write) {
        (true, _) => format!("the new model is better: wrote {}", arguments.out.display()),
        (false, true) => format!("not better, written anyway (--force): {}", arguments.out.display()),
        (false, false) => format!(
            "the new model is not better than the current one: {} left as it was (--force writes it)",
            arguments.out.display()
        ),
    };
    let mut human = format!(
        "trained {} on {} examples ({} corpus, {learned} from the log) in {seconds:.1} s\n",
        model.version(),
        training.len(),
        training.len() - learned,
    );
    if let Some(labels) = &from_log {
        human.push_str(&format!(
            "log: {} events, {} tickets, {} labelled, {} corrected in the last {RECENT_DAYS} days; \
             {} unreadable events, {} tickets of departments no longer configured left out\n",
            labels.events,
            labels.tickets,
            labels.labelled.len(),
            recent.len(),
            labels.unreadable,
            labels.unconfigured
        ));
    }
    human.push_str(&format!(
        "\ncurrent model {} against the new one\n\nheld-out split of the corpus ({} rows)\n{}",
        current.version(),
        heldout.len(),
        comparison(&current_scores.heldout, &new_scores.heldout)
    ));
    human.push_str(&format!(
        "\ntickets corrected in the last {RECENT_DAYS} days ({}; the new model was trained on them)\n{}",
        recent.len(),
        comparison(&current_scores.recent, &new_scores.recent)
    ));
    human.push_str(&format!(
        "\nthe new model on the held-out split\n{}\n{verdict}\n",
        new_scores.heldout.render()
    ));
    let json = json!({
        "model": model.version(),
        "current": current.version(),
        "examples": training.len(),
        "from_log": learned,
        "seconds": seconds,
        "heldout": {"current": accuracies(&current_scores.heldout), "new": accuracies(&new_scores.heldout)},
        "recent_corrections": {"current": accuracies(&current_scores.recent), "new": accuracies(&new_scores.recent)},
        "better": better,
        "written": write,
        "out": arguments.out.display().to_string(),
    });
    context.print(&human, &json)
}

/// Writes the model through a temporary file beside it, so that a reader never sees half.
fn write_model(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    std::fs::write(&temporary, bytes)
        .map_err(CliError::io(format!("write {}", temporary.display())))?;
    std::fs::rename(&temporary, path).map_err(CliError::io(format!("write {}", path.display())))
}

fn evaluate_command(context: &Context, arguments: &ClassifierEvaluateArgs) -> Result<(), CliError> {
    let rules = super::audit_rules::rules_from(arguments.config.as_deref())?;
    let model = match &arguments.model {
        Some(path) => read_model(path)?,
        None => Model::from_bytes(shipped::MODEL)
            .map_err(|error| CliError::Other(format!("the built-in model: {error}")))?,
    };
    model
        .check_config(rules.config())
        .map_err(|error| CliError::Usage(error.to_string()))?;
    let rows = read_corpus(Some(&arguments.file), rules.config())?;
    let examples: Vec<Example> = rows.into_iter().map(|row| row.example).collect();
    let evaluation = evaluate(&model, &examples, rules.classifier(), &THRESHOLDS);
    let human = format!(
        "model {} on {} ({} rows)\n{}",
        model.version(),
        arguments.file.display(),
        examples.len(),
        evaluation.render()
    );
    let mut json = accuracies(&evaluation);
    json["model"] = json!(model.version());
    context.print(&human, &json)
}
