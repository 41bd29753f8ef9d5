//! `cloop log verify|replay|export|verify-export|migrate`: offline work on the workflow's
//! event log, for auditors and operators, with a progress bar on a terminal. The log is a
//! SQLite file (`--db FILE`, opened read-only with `audit::LogFile`, so it may be a running
//! service's file) or any store `--store URL` names (`sqlite:PATH` or `postgres://...`).
//! `migrate` lives in `log_migrate`.

use super::Context;
use crate::args::{LogCommand, LogSource};
use crate::error::CliError;
use crate::progress::bar;
use crate::render_audit::{
    checkpoint_report_json, checkpoint_report_text, export_summary_json, export_summary_text,
    export_verify_json, export_verify_text,
};
use audit::RowSource;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Runs `cloop log ...` on tokio's blocking pool (SQLite and PostgreSQL reads block).
pub async fn run(context: &Context, command: LogCommand) -> Result<(), CliError> {
    let context = context.clone();
    tokio::task::spawn_blocking(move || match command {
        LogCommand::Verify {
            source,
            checkpoints: None,
        } => verify(&context, &log_store(source)?),
        LogCommand::Verify {
            source,
            checkpoints: Some(checkpoints),
        } => verify_with_checkpoints(&context, &log_store(source)?, &checkpoints),
        LogCommand::Replay {
            source,
            to_position,
            keys,
            keys_store,
            ticket,
            out,
            config,
        } => {
            let store = log_store(source)?;
            let keys = key_store(keys, keys_store.as_deref())?;
            match out {
                Some(out) => replay_into(
                    &context,
                    &store,
                    to_position,
                    keys.as_ref(),
                    &out,
                    config.as_deref(),
                ),
                None => replay(
                    &context,
                    &store,
                    to_position,
                    keys.as_ref(),
                    ticket.as_deref(),
                ),
            }
        }
        LogCommand::Export {
            source,
            output,
            from_position,
            to_position,
        } => export(
            &context,
            &log_store(source)?,
            output.as_deref(),
            audit::PositionRange {
                from: from_position,
                to: to_position,
            },
        ),
        LogCommand::Migrate {
            from,
            to,
            batch,
            keys,
            keys_to,
        } => super::log_migrate::migrate(
            &context,
            &super::log_migrate::MigrateOptions {
                from: &from,
                to: &to,
                batch,
                keys: keys.as_deref(),
                keys_to: keys_to.as_deref(),
            },
        ),
        LogCommand::VerifyExport { file, checkpoints } => {
            verify_export(&context, &file, checkpoints.as_deref())
        }
    })
    .await
    .map_err(|error| CliError::Other(format!("run the log command: {error}")))?
}

/// The store `--db FILE` or `--store URL` names (`--store` wins when both are given).
pub(crate) fn log_store(source: LogSource) -> Result<eventlog::StoreUrl, CliError> {
    match (source.store.as_deref(), source.db) {
        (Some(store), _) => eventlog::StoreUrl::parse(store)
            .map_err(|error| CliError::Usage(format!("--store: {error}"))),
        (None, Some(db)) => Ok(eventlog::StoreUrl::Sqlite(db)),
        (None, None) => Err(CliError::Usage(
            "name the log with --db FILE or --store URL".to_owned(),
        )),
    }
}

/// Opens a PostgreSQL log for reading (its tables are created in an empty database).
pub(crate) fn open_postgres(url: &str) -> Result<eventlog::EventLog, CliError> {
    eventlog::EventLog::open_postgres(url, eventlog::LogOptions::default(), None)
        .map_err(CliError::log(format!("open {}", eventlog::redact(url))))
}

/// Opens the log a store names for reading rows: a SQLite file read-only, a PostgreSQL
/// database through an `EventLog` handle.
pub(crate) fn open_source(store: &eventlog::StoreUrl) -> Result<Box<dyn RowSource>, CliError> {
    match store {
        eventlog::StoreUrl::Sqlite(path) => Ok(Box::new(open_log_file(path)?)),
        eventlog::StoreUrl::Postgres(url) => Ok(Box::new(open_postgres(url)?)),
    }
}

/// An audit error with what was being done.
fn audit_error(context: impl Into<String>) -> impl FnOnce(audit::AuditError) -> CliError {
    let context = context.into();
    move |error| CliError::Other(format!("{context}: {error}"))
}

/// Opens a log file read-only.
fn open_log_file(path: &Path) -> Result<audit::LogFile, CliError> {
    require_file(path)?;
    audit::LogFile::open(path).map_err(audit_error(format!("open event log {}", path.display())))
}

/// Reads a kept checkpoint file.
fn read_checkpoints(path: &Path) -> Result<Vec<audit::Checkpoint>, CliError> {
    if !path.is_file() {
        return Err(CliError::Usage(format!(
            "no checkpoint file at {}",
            path.display()
        )));
    }
    audit::read_checkpoints(path).map_err(audit_error(format!("read {}", path.display())))
}

fn verify_with_checkpoints(
    context: &Context,
    store: &eventlog::StoreUrl,
    checkpoints_path: &Path,
) -> Result<(), CliError> {
    require_store(store)?;
    let checkpoints = read_checkpoints(checkpoints_path)?;
    let progress = bar(0, "verified", context.json);
    let report = audit::verify_store_against(store, &checkpoints, |checked, total| {
        progress.set_length(total);
        progress.set_position(checked);
    })
    .map_err(audit_error(format!("verify {store}")))?;
    progress.finish_and_clear();
    if report.ok {
        return context.print(
            &checkpoint_report_text(&report),
            &checkpoint_report_json(&report),
        );
    }
    if context.json {
        context.print("", &checkpoint_report_json(&report))?;
    } else {
        eprint!("{}", checkpoint_report_text(&report));
    }
    let (position, detail) = report
        .first_bad()
        .map_or((0, "verification failed".to_owned()), |bad| {
            (bad.position, bad.detail.clone())
        });
    Err(CliError::VerifyFailed { position, detail })
}

fn verify_export(
    context: &Context,
    path: &Path,
    checkpoints_path: Option<&Path>,
) -> Result<(), CliError> {
    let file = std::fs::File::open(path)
        .map_err(CliError::io(format!("open export {}", path.display())))?;
    let checkpoints = match checkpoints_path {
        Some(checkpoints_path) => read_checkpoints(checkpoints_path)?,
        None => Vec::new(),
    };
    let report = audit::verify_jsonl(std::io::BufReader::new(file), &checkpoints)
        .map_err(audit_error(format!("check {}", path.display())))?;
    if report.chain.ok {
        return context.print(&export_verify_text(&report), &export_verify_json(&report));
    }
    if context.json {
        context.print("", &export_verify_json(&report))?;
    } else {
        eprint!("{}", export_verify_text(&report));
    }
    let (position, detail) = report
        .chain
        .first_bad
        .as_ref()
        .map_or((0, "verification failed".to_owned()), |bad| {
            (bad.position, bad.detail.clone())
        });
    Err(CliError::VerifyFailed { position, detail })
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

/// A SQLite store must name an existing file (a PostgreSQL one is checked by connecting).
fn require_store(store: &eventlog::StoreUrl) -> Result<(), CliError> {
    match store {
        eventlog::StoreUrl::Sqlite(path) => require_file(path),
        eventlog::StoreUrl::Postgres(_) => Ok(()),
    }
}

fn verify(context: &Context, store: &eventlog::StoreUrl) -> Result<(), CliError> {
    require_store(store)?;
    let progress = bar(0, "verified", context.json);
    let report = eventlog::verify_store(store, None, |checked, total| {
        progress.set_length(total);
        progress.set_position(checked);
    })
    .map_err(CliError::log(format!("verify {store}")))?;
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

/// The key store `--keys FILE` or `--keys-store URL` names, if any.
pub(crate) fn key_store(
    keys: Option<PathBuf>,
    keys_store: Option<&str>,
) -> Result<Option<eventlog::StoreUrl>, CliError> {
    match (keys_store, keys) {
        (Some(url), _) => eventlog::StoreUrl::parse(url)
            .map(Some)
            .map_err(|error| CliError::Usage(format!("--keys-store: {error}"))),
        (None, Some(file)) => Ok(Some(eventlog::StoreUrl::Sqlite(file))),
        (None, None) => Ok(None),
    }
}

/// Opens the key store `--keys` or `--keys-store` names, if any; naming a missing file is a
/// usage error.
pub(crate) fn open_key_store(
    keys: Option<&eventlog::StoreUrl>,
) -> Result<Option<vault::Vault>, CliError> {
    match keys {
        Some(eventlog::StoreUrl::Sqlite(keys)) if keys.is_file() => vault::Vault::open_file(keys)
            .map(Some)
            .map_err(|error| CliError::Other(format!("open {}: {error}", keys.display()))),
        Some(eventlog::StoreUrl::Sqlite(keys)) => Err(CliError::Usage(format!(
            "no key store at {}",
            keys.display()
        ))),
        // The error names the store without its password.
        Some(eventlog::StoreUrl::Postgres(url)) => vault::Vault::open_postgres(url)
            .map(Some)
            .map_err(|error| CliError::Other(format!("open the key store: {error}"))),
        None => Ok(None),
    }
}

/// The projection database `cloop log replay --out DIR` writes, named as in a workflow data
/// folder.
const REPLAY_DATABASE: &str = "workflow.db";

/// `cloop log replay --out DIR`: rebuilds every projection from the whole log into a fresh
/// database with the workflow's own rebuild (the code `cloop-workflow --check` runs) and
/// prints the projections' digest.
fn replay_into(
    context: &Context,
    store: &eventlog::StoreUrl,
    to_position: Option<u64>,
    keys: Option<&eventlog::StoreUrl>,
    out: &Path,
    config: Option<&Path>,
) -> Result<(), CliError> {
    if to_position.is_some() {
        return Err(CliError::Usage(
            "--out rebuilds from the whole log: leave out --to-position".to_owned(),
        ));
    }
    let rules = super::audit_rules::rules_from(config)?;
    require_store(store)?;
    let log = match store {
        eventlog::StoreUrl::Sqlite(path) => {
            eventlog::EventLog::open(path, eventlog::LogOptions::default())
                .map_err(|error| CliError::Other(format!("open {}: {error}", path.display())))?
        }
        eventlog::StoreUrl::Postgres(url) => open_postgres(url)?,
    };
    // The projections hold the customers opened, as the service builds them: a rebuild
    // without the key store could not build them (nor compare their digest).
    let vault = open_key_store(keys)?.ok_or_else(|| {
        CliError::Usage(
            "--out rebuilds the projections with the customers opened: give the key store \
             (--keys keys.db or --keys-store URL)"
                .to_owned(),
        )
    })?;
    std::fs::create_dir_all(out)
        .map_err(|error| CliError::Other(format!("create {}: {error}", out.display())))?;
    let target = out.join(REPLAY_DATABASE);
    if target.exists() {
        return Err(CliError::Usage(format!(
            "{} exists: replay writes a fresh database",
            target.display()
        )));
    }
    let mut connection = rusqlite::Connection::open(&target)
        .map_err(|error| CliError::Other(format!("create {}: {error}", target.display())))?;
    let spinner = bar(0, "rebuilding projections", context.json);
    let replayed = projections::rebuild(
        &mut connection,
        &log,
        std::sync::Arc::new(rules),
        std::sync::Arc::new(vault),
    )
    .map_err(|error| CliError::Other(format!("rebuild the projections: {error}")))?;
    spinner.finish_and_clear();
    let digest = projections::digest(&connection)
        .map_err(|error| CliError::Other(format!("digest of the projections: {error}")))?;
    let tickets: i64 = connection
        .query_row("SELECT count(*) FROM tickets", [], |row| row.get(0))
        .map_err(|error| CliError::Other(format!("count the tickets: {error}")))?;
    let json = json!({
        "events": replayed,
        "tickets": tickets,
        "out": target.display().to_string(),
        "digest": digest,
        "customers_opened": keys.is_some(),
    });
    let human = format!(
        "rebuilt the projections of {replayed} events ({tickets} tickets) into {}\ndigest {digest}\n",
        target.display()
    );
    context.print(&human, &json)?;
    Ok(())
}

fn replay(
    context: &Context,
    store: &eventlog::StoreUrl,
    to_position: Option<u64>,
    keys: Option<&eventlog::StoreUrl>,
    show_ticket: Option<&str>,
) -> Result<(), CliError> {
    let log = open_source(store)?;
    let vault = open_key_store(keys)?;
    let head = log
        .head_position()
        .map_err(audit_error("read the head of the event log"))?;
    let target = to_position.unwrap_or(head).min(head);
    let progress = bar(target, "replayed", context.json);
    let mut tickets: HashMap<String, domain::Ticket> = HashMap::new();
    let mut event_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut next = 1;
    let mut read = 0u64;
    'reading: while next <= target {
        let events = log
            .read_rows(next, READ_CHUNK)
            .map_err(audit_error("read the event log"))?;
        if events.is_empty() {
            break;
        }
        for event in events {
            if event.position > target {
                break 'reading;
            }
            next = event.position + 1;
            read += 1;
            match event_types.get_mut(event.event_type.as_str()) {
                Some(count) => *count += 1,
                None => {
                    event_types.insert(event.event_type.clone(), 1);
                }
            }
            if !event.stream_id.starts_with("ticket-") {
                continue;
            }
            // Sealed personal data is opened with the key store when one is given (an erased
            // customer reads as empty); without one it stays sealed and reads as empty too.
            match audit::decode_event(&event, vault.as_ref()) {
                Ok(decoded) => {
                    let ticket = tickets.entry(event.stream_id).or_default();
                    *ticket = domain::apply(std::mem::take(ticket), &decoded);
                }
                Err(_) => unreadable.push(event.position),
            }
        }
        progress.set_position(read);
    }
    progress.finish_and_clear();
    let mut steps: BTreeMap<&'static str, u64> = BTreeMap::new();
    for ticket in tickets.values() {
        *steps.entry(ticket.step.as_str()).or_default() += 1;
    }
    let shown = show_ticket.map(|ticket_id| {
        tickets
            .get(&format!("{}{ticket_id}", audit::TICKET_STREAM_PREFIX))
            .map_or(serde_json::Value::Null, |ticket| {
                serde_json::to_value(ticket).unwrap_or(serde_json::Value::Null)
            })
    });
    let mut json = json!({
        "events": read,
        "to_position": target,
        "tickets": tickets.len(),
        "by_step": steps,
        "by_event_type": event_types,
        "unreadable_positions": unreadable,
        "customers_opened": vault.is_some(),
    });
    if let Some(shown) = &shown {
        json["ticket"] = shown.clone();
    }
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
    if let (Some(ticket_id), Some(shown)) = (show_ticket, &shown) {
        let text = if shown.is_null() {
            format!("no ticket {ticket_id} in the replayed range\n")
        } else {
            format!(
                "\nticket {ticket_id} as replayed{}:\n{}\n",
                if vault.is_some() {
                    ", customer opened with the key store"
                } else {
                    ", customer left sealed"
                },
                serde_json::to_string_pretty(shown).unwrap_or_default()
            )
        };
        human.push_str(&text);
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
    store: &eventlog::StoreUrl,
    output: Option<&Path>,
    range: audit::PositionRange,
) -> Result<(), CliError> {
    let source = open_source(store)?;
    let log = source.as_ref();
    let progress = bar(0, "exported", context.json || output.is_none());
    let write_progress = |written: u64, total: u64| {
        progress.set_length(total);
        progress.set_position(written);
    };
    let summary = match output {
        Some(output_path) => {
            let mut writer = std::io::BufWriter::new(
                std::fs::File::create(output_path)
                    .map_err(CliError::io(format!("create {}", output_path.display())))?,
            );
            let summary = audit::export_jsonl(log, range, &mut writer, write_progress)
                .map_err(audit_error("export the event log"))?;
            writer
                .into_inner()
                .map_err(|error| CliError::Other(format!("write the export: {error}")))?
                .sync_all()
                .map_err(CliError::io("write the export"))?;
            summary
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = std::io::BufWriter::new(stdout.lock());
            match audit::export_jsonl(log, range, &mut writer, write_progress) {
                Ok(summary) => summary,
                // `cloop log export | head` closes the pipe: stop quietly.
                Err(audit::AuditError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    return Ok(());
                }
                Err(error) => return Err(audit_error("export the event log")(error)),
            }
        }
    };
    progress.finish_and_clear();
    if let Some(output_path) = output {
        let destination = output_path.display().to_string();
        if context.json {
            context.print("", &export_summary_json(&summary))?;
        } else {
            eprint!("{}", export_summary_text(&summary, &destination));
        }
    }
    Ok(())
}
