//! `cloop log verify|replay|export`: offline work on the workflow's event log file, for
//! auditors and operators, with a progress bar on a terminal.

use super::{write_stdout, Context};
use crate::args::LogCommand;
use crate::error::CliError;
use crate::progress::bar;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// Runs `cloop log ...` on tokio's blocking pool (SQLite reads block).
pub async fn run(context: &Context, command: LogCommand) -> Result<(), CliError> {
    let context = context.clone();
    tokio::task::spawn_blocking(move || match command {
        LogCommand::Verify { db } => verify(&context, &db),
        LogCommand::Replay { db, to_position } => replay(&context, &db, to_position),
        LogCommand::Export {
            db,
            output,
            from_position,
        } => export(&context, &db, output.as_deref(), from_position),
    })
    .await
    .map_err(|error| CliError::Other(format!("run the log command: {error}")))?
}

fn require_file(path: &Path) -> Result<(), CliError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "no event log at {}",
            path.display()
        )))
    }
}

fn verify(context: &Context, path: &Path) -> Result<(), CliError> {
    require_file(path)?;
    let progress = bar(0, "verified", context.json);
    let report = eventlog::verify_path(path, None, |checked, total| {
        progress.set_length(total);
        progress.set_position(checked);
    })
    .map_err(CliError::log(format!("verify {}", path.display())))?;
    progress.finish_and_clear();
    let head_hash = hex::encode(report.head_hash);
    let json = json!({
        "ok": report.ok,
        "events_checked": report.checked,
        "head_position": report.head_position,
        "head_hash": head_hash,
        "first_bad_position": report.first_bad.as_ref().map(|bad| bad.position),
        "problem": report.first_bad.as_ref().map(|bad| format!("{:?}", bad.problem)),
        "detail": report.first_bad.as_ref().map(|bad| bad.detail.clone()),
    });
    match &report.first_bad {
        None if report.ok => {
            let human = format!(
                "ok: {} events checked, head {} ({head_hash})\n",
                report.checked, report.head_position
            );
            context.print(&human, &json)
        }
        bad => {
            let (position, detail) = bad
                .as_ref()
                .map_or((0, "verification failed".to_owned()), |bad| {
                    (bad.position, bad.detail.clone())
                });
            if context.json {
                context.print("", &json)?;
            }
            Err(CliError::VerifyFailed { position, detail })
        }
    }
}

/// How many rows are read at a time.
const READ_CHUNK: usize = 10_000;

fn replay(context: &Context, path: &Path, to_position: Option<u64>) -> Result<(), CliError> {
    require_file(path)?;
    let log = eventlog::EventLog::open(path, eventlog::LogOptions::default())
        .map_err(CliError::log(format!("open event log {}", path.display())))?;
    let head = log.head().position;
    let target = to_position.unwrap_or(head).min(head);
    let progress = bar(target, "replayed", context.json);
    let mut tickets: HashMap<String, domain::Ticket> = HashMap::new();
    let mut event_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut next = 1;
    let mut read = 0u64;
    'reading: while next <= target {
        let events = log
            .read_all_blocking(next, READ_CHUNK)
            .map_err(CliError::log("read the event log"))?;
        if events.is_empty() {
            break;
        }
        for event in events {
            if event.position > target {
                break 'reading;
            }
            next = event.position + 1;
            read += 1;
            progress.inc(1);
            *event_types.entry(event.event_type.clone()).or_default() += 1;
            if !event.stream_id.starts_with("ticket-") {
                continue;
            }
            let decoded = event.payload_value().ok().and_then(|payload| {
                domain::Event::from_parts(&event.event_type, event.schema_version, &payload).ok()
            });
            match decoded {
                Some(decoded) => {
                    let ticket = tickets.remove(&event.stream_id).unwrap_or_default();
                    tickets.insert(event.stream_id, domain::apply(ticket, &decoded));
                }
                None => unreadable.push(event.position),
            }
        }
    }
    progress.finish_and_clear();
    let mut steps: BTreeMap<&'static str, u64> = BTreeMap::new();
    for ticket in tickets.values() {
        *steps.entry(ticket.step.as_str()).or_default() += 1;
    }
    let json = json!({
        "events": read,
        "to_position": target,
        "tickets": tickets.len(),
        "by_step": steps,
        "by_event_type": event_types,
        "unreadable_positions": unreadable,
    });
    let mut human = format!(
        "replayed {read} events up to position {target}: {} tickets\n",
        tickets.len()
    );
    for (step, count) in &steps {
        human.push_str(&format!("  {step:<10} {count:>8}\n"));
    }
    if !unreadable.is_empty() {
        human.push_str(&format!(
            "{} events could not be read, first at position {}\n",
            unreadable.len(),
            unreadable[0]
        ));
    }
    context.print(&human, &json)?;
    if unreadable.is_empty() {
        Ok(())
    } else {
        Err(CliError::Other(format!(
            "{} events could not be read",
            unreadable.len()
        )))
    }
}

fn export(
    context: &Context,
    path: &Path,
    output: Option<&Path>,
    from_position: u64,
) -> Result<(), CliError> {
    require_file(path)?;
    let log = eventlog::EventLog::open(path, eventlog::LogOptions::default())
        .map_err(CliError::log(format!("open event log {}", path.display())))?;
    let head = log.head().position;
    let progress = bar(
        head.saturating_sub(from_position.max(1)) + 1,
        "exported",
        context.json || output.is_none(),
    );
    let mut file = match output {
        Some(output_path) => Some(std::io::BufWriter::new(
            std::fs::File::create(output_path)
                .map_err(CliError::io(format!("create {}", output_path.display())))?,
        )),
        None => None,
    };
    let mut next = from_position.max(1);
    let mut exported = 0u64;
    loop {
        let events = log
            .read_all_blocking(next, READ_CHUNK)
            .map_err(CliError::log("read the event log"))?;
        if events.is_empty() {
            break;
        }
        let mut chunk = String::new();
        for event in &events {
            chunk.push_str(&event.to_export_line());
            chunk.push('\n');
            next = event.position + 1;
        }
        exported += events.len() as u64;
        progress.inc(events.len() as u64);
        match file.as_mut() {
            Some(writer) => writer
                .write_all(chunk.as_bytes())
                .map_err(CliError::io("write the export"))?,
            None => write_stdout(&chunk)?,
        }
    }
    if let Some(mut writer) = file {
        writer.flush().map_err(CliError::io("write the export"))?;
    }
    progress.finish_and_clear();
    if let Some(output_path) = output {
        eprintln!("exported {exported} events to {}", output_path.display());
    }
    Ok(())
}
