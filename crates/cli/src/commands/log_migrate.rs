//! `cloop log migrate --from sqlite:PATH --to postgres://...`: moves a log, possibly a running
//! service's, into PostgreSQL.
//!
//! 1. The source chain is verified (read-only; a bad row stops everything, nothing copied).
//! 2. The target's head is compared with the source's row at that position: an empty target
//!    or an earlier copy of the same log continues, a different log is refused naming the
//!    first position whose hash differs.
//! 3. Rows past the target's head are copied in position order, `--batch` per transaction,
//!    with `EventLog::import_blocking` (which checks each row continues the chain).
//! 4. The target is verified and both heads are compared.
//!
//! 5. The key store is copied (`vault::Vault::copy_into`): `--keys FILE` (default: `keys.db`
//!    next to the log, when there is one) into `--keys-to URL` (default: the `--to`
//!    database), keys and erasures unchanged, never overwriting a key. It is read after the
//!    log was copied, so every key a copied event was sealed with is in it (a key is
//!    committed before an event sealed with it is appended).
//!
//! Run again, it copies only what is new: an operator runs it live, stops the service, runs
//! it once more for the tail (and for the customers erased meanwhile), and starts the
//! service with `--store postgres://...`.

use super::Context;
use crate::error::CliError;
use crate::progress::{bar, rate_bar};
use audit::RowSource;
use eventlog::{EventLog, Head, StoreUrl, VerifyReport};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The flags of `cloop log migrate`.
pub struct MigrateOptions<'flags> {
    /// `--from`: the source log, `sqlite:PATH` or a bare path.
    pub from: &'flags str,
    /// `--to`: the target database, `postgres://...`.
    pub to: &'flags str,
    /// `--batch`: rows per transaction.
    pub batch: usize,
    /// `--keys`: the source key store file.
    pub keys: Option<&'flags Path>,
    /// `--keys-to`: where the key store goes.
    pub keys_to: Option<&'flags str>,
}

/// What one run did.
struct Summary {
    copied: u64,
    already_there: u64,
    source_head: Head,
    target_head: Head,
    seconds: f64,
    keys: KeysSummary,
}

/// What became of the key store.
enum KeysSummary {
    /// No key store at the default place (keys.db next to the log): none copied.
    NotFound { looked_at: PathBuf },
    /// The key store was copied.
    Copied {
        from: String,
        to: String,
        stats: vault::CopyStats,
    },
}

/// Where the key store is copied from and to.
struct KeysPlan {
    /// The source file, or where it was looked for in vain.
    source: Result<PathBuf, PathBuf>,
    /// The target.
    target: StoreUrl,
}

/// `cloop log migrate`.
pub fn migrate(context: &Context, options: &MigrateOptions<'_>) -> Result<(), CliError> {
    let started = Instant::now();
    let batch = options.batch;
    let source_path = source_path(options.from)?;
    let target_url = target_url(options.to)?;
    if batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".to_owned()));
    }
    if !source_path.is_file() {
        return Err(CliError::Usage(format!(
            "--from: no event log at {}",
            source_path.display()
        )));
    }
    let keys_plan = keys_plan(&source_path, &target_url, options.keys, options.keys_to)?;
    let source_name = format!("sqlite:{}", source_path.display());
    let target_name = eventlog::redact(&target_url);

    // 1. The source must verify before anything is copied.
    let progress = bar(0, "verifying the source", context.json);
    let report = eventlog::verify_path(&source_path, None, |checked, total| {
        progress.set_length(total);
        progress.set_position(checked);
    })
    .map_err(CliError::log(format!("verify the source {source_name}")))?;
    progress.finish_and_clear();
    refuse_unless_verified(&report, &source_name, "source", "nothing was copied")?;

    let source = audit::LogFile::open(&source_path)
        .map_err(|error| CliError::Other(format!("open the source {source_name}: {error}")))?;
    let target = EventLog::open_postgres(&target_url, eventlog::LogOptions::default(), None)
        .map_err(CliError::log(format!("open the target {target_name}")))?;

    // 2. Where the target stands: its exact head, read under the append lock.
    let start = target
        .import_blocking(&[])
        .map_err(CliError::log(format!("read the head of {target_name}")))?;
    check_same_log(&source, &target, start, &source_name, &target_name)?;

    // 3. Copy what is past the target's head.
    let source_head = source_head_position(&source, &source_name)?;
    let progress = rate_bar(
        source_head.saturating_sub(start.position),
        "copying",
        context.json,
    );
    let mut head = start;
    loop {
        let rows = source
            .read_rows(head.position + 1, batch)
            .map_err(|error| CliError::Other(format!("read {source_name}: {error}")))?;
        let Some(last) = rows.last() else {
            break;
        };
        let (first, last) = (rows[0].position, last.position);
        head = target
            .import_blocking(&rows)
            .map_err(|error| import_error(error, first, last, &source_name, &target_name))?;
        // The source may be growing (a live service): keep the bar's end ahead.
        let total = progress
            .length()
            .unwrap_or(0)
            .max(head.position - start.position);
        progress.set_length(total);
        progress.set_position(head.position - start.position);
    }
    progress.finish_and_clear();

    // 4. The target must verify, and end where the source ends.
    let progress = bar(0, "verifying the target", context.json);
    let report = eventlog::verify_store(
        &StoreUrl::Postgres(target_url.clone()),
        None,
        |checked, total| {
            progress.set_length(total);
            progress.set_position(checked);
        },
    )
    .map_err(CliError::log(format!("verify the target {target_name}")))?;
    progress.finish_and_clear();
    refuse_unless_verified(&report, &target_name, "target", "the copy is not usable")?;
    let target_head = Head {
        position: report.head_position,
        hash: report.head_hash,
    };
    let source_head = read_source_head(&source, &source_name)?;
    if target_head.position > 0 {
        let stored = source
            .hash_at(target_head.position)
            .map_err(|error| CliError::Other(format!("read {source_name}: {error}")))?;
        if stored.as_deref() != Some(&target_head.hash[..]) {
            return Err(CliError::Refused(format!(
                "after the copy, position {} of {target_name} does not have the hash of {source_name} \
                 (another process writes to one of them?)",
                target_head.position
            )));
        }
    }
    // 5. The key store, read now that the log is copied.
    let keys = copy_keys(&keys_plan)?;
    let summary = Summary {
        copied: head.position - start.position,
        already_there: start.position,
        source_head,
        target_head,
        seconds: started.elapsed().as_secs_f64(),
        keys,
    };
    context.print(
        &summary_text(&summary, &source_name, &target_name),
        &summary_json(&summary, &source_name, &target_name),
    )
}

/// Where the key store comes from (`--keys`, or keys.db next to the log) and goes
/// (`--keys-to`, or the `--to` database). A `--keys` file that is not there is a usage
/// error; a default one that is not there is said in the summary.
fn keys_plan(
    log: &Path,
    target_url: &str,
    keys: Option<&Path>,
    keys_to: Option<&str>,
) -> Result<KeysPlan, CliError> {
    let target = match keys_to {
        Some(keys_to) => StoreUrl::parse(keys_to)
            .map_err(|error| CliError::Usage(format!("--keys-to: {error}")))?,
        None => StoreUrl::Postgres(target_url.to_owned()),
    };
    let source = match keys {
        Some(keys) if keys.is_file() => Ok(keys.to_path_buf()),
        Some(keys) => {
            return Err(CliError::Usage(format!(
                "--keys: no key store at {}",
                keys.display()
            )))
        }
        None => {
            let beside = log
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(DEFAULT_KEYS_FILE);
            if beside.is_file() {
                Ok(beside)
            } else {
                Err(beside)
            }
        }
    };
    if let (Ok(source), StoreUrl::Sqlite(target)) = (&source, &target) {
        if source == target {
            return Err(CliError::Usage(format!(
                "--keys-to names the source key store {} itself",
                source.display()
            )));
        }
    }
    Ok(KeysPlan { source, target })
}

/// The key store file a service keeps next to its log.
const DEFAULT_KEYS_FILE: &str = "keys.db";

/// Copies the key store as planned. A key the target holds otherwise is refused (exit 5)
/// naming its key id; neither keys nor customers are ever printed.
fn copy_keys(plan: &KeysPlan) -> Result<KeysSummary, CliError> {
    let source_path = match &plan.source {
        Ok(path) => path,
        Err(looked_at) => {
            return Ok(KeysSummary::NotFound {
                looked_at: looked_at.clone(),
            })
        }
    };
    let from = format!("sqlite:{}", source_path.display());
    let source = vault::Vault::open_file(source_path)
        .map_err(|error| CliError::Other(format!("open the key store {from}: {error}")))?;
    let (target, to) = match &plan.target {
        StoreUrl::Postgres(url) => (vault::Vault::open_postgres(url), eventlog::redact(url)),
        StoreUrl::Sqlite(path) => (
            vault::Vault::open_file(path),
            format!("sqlite:{}", path.display()),
        ),
    };
    let target = target
        .map_err(|error| CliError::Other(format!("open the target key store {to}: {error}")))?;
    let stats = source.copy_into(&target).map_err(|error| match error {
        vault::VaultError::KeyConflict { .. } => CliError::Refused(format!(
            "copy the key store {from} into {to}: {error} (the target holds another key store?)"
        )),
        error => CliError::Other(format!("copy the key store {from} into {to}: {error}")),
    })?;
    Ok(KeysSummary::Copied { from, to, stats })
}

/// The SQLite file `--from` names; anything else is a usage error naming the flag.
fn source_path(from: &str) -> Result<PathBuf, CliError> {
    match StoreUrl::parse(from) {
        Ok(StoreUrl::Sqlite(path)) => Ok(path),
        Ok(StoreUrl::Postgres(url)) => Err(CliError::Usage(format!(
            "--from must be a SQLite log (sqlite:PATH), not {}",
            eventlog::redact(&url)
        ))),
        Err(error) => Err(CliError::Usage(format!("--from: {error}"))),
    }
}

/// The PostgreSQL connection string `--to` names; anything else is a usage error naming the
/// flag.
fn target_url(to: &str) -> Result<String, CliError> {
    match StoreUrl::parse(to) {
        Ok(StoreUrl::Postgres(url)) => Ok(url),
        Ok(StoreUrl::Sqlite(path)) => Err(CliError::Usage(format!(
            "--to must be a PostgreSQL database (postgres://...), not the file {}",
            path.display()
        ))),
        Err(error) => Err(CliError::Usage(format!("--to: {error}"))),
    }
}

/// A failed verification as the error of `log verify` (exit 8), naming the first bad row.
fn refuse_unless_verified(
    report: &VerifyReport,
    name: &str,
    which: &str,
    consequence: &str,
) -> Result<(), CliError> {
    if report.ok {
        return Ok(());
    }
    let (position, detail) = report
        .first_bad
        .as_ref()
        .map_or((0, "verification failed".to_owned()), |bad| {
            (bad.position, bad.detail.clone())
        });
    Err(CliError::VerifyFailed {
        position,
        detail: format!("{detail} in the {which} {name}; {consequence}"),
    })
}

/// The last position of the source.
fn source_head_position(source: &audit::LogFile, name: &str) -> Result<u64, CliError> {
    source
        .head_position()
        .map_err(|error| CliError::Other(format!("read the head of {name}: {error}")))
}

/// The last position of the source and its hash.
fn read_source_head(source: &audit::LogFile, name: &str) -> Result<Head, CliError> {
    let position = source_head_position(source, name)?;
    if position == 0 {
        return Ok(Head {
            position: 0,
            hash: eventlog::GENESIS_HASH,
        });
    }
    let hash = source_hash(source, position, name)?.ok_or_else(|| {
        CliError::Other(format!("{name} has no row at its head position {position}"))
    })?;
    Ok(Head { position, hash })
}

/// The hash of the source's row at `position`, if there is one.
fn source_hash(
    source: &audit::LogFile,
    position: u64,
    name: &str,
) -> Result<Option<[u8; 32]>, CliError> {
    let stored = source
        .hash_at(position)
        .map_err(|error| CliError::Other(format!("read {name}: {error}")))?;
    Ok(stored.and_then(|hash| hash.try_into().ok()))
}

/// The hash of the target's row at `position`, if there is one.
fn target_hash(target: &EventLog, position: u64, name: &str) -> Result<Option<[u8; 32]>, CliError> {
    Ok(target
        .read_all_blocking(position, 1)
        .map_err(CliError::log(format!("read {name}")))?
        .into_iter()
        .find(|row| row.position == position)
        .map(|row| row.hash))
}

/// Refuses a target that is not an earlier copy of the source: its head row must be the
/// source's row at that position. The hashes chain, so the first position where the two
/// differ is found by bisection and named.
fn check_same_log(
    source: &audit::LogFile,
    target: &EventLog,
    start: Head,
    source_name: &str,
    target_name: &str,
) -> Result<(), CliError> {
    if start.position == 0 {
        return Ok(());
    }
    let source_head = source_head_position(source, source_name)?;
    let checked = start.position.min(source_head);
    let same_at = |position: u64| -> Result<bool, CliError> {
        Ok(position == 0
            || source_hash(source, position, source_name)?
                == target_hash(target, position, target_name)?)
    };
    if checked > 0 && !same_at(checked)? {
        // Invariant: rows up to `good` are the same, the row at `bad` differs.
        let (mut good, mut bad) = (0, checked);
        while bad - good > 1 {
            let middle = good + (bad - good) / 2;
            if same_at(middle)? {
                good = middle;
            } else {
                bad = middle;
            }
        }
        return Err(CliError::Refused(format!(
            "{target_name} holds a different log: position {bad} has another hash there than in \
             {source_name}; nothing was copied (migrate into an empty database)"
        )));
    }
    if start.position > source_head {
        return Err(CliError::Refused(format!(
            "{target_name} holds {} rows, more than the {source_head} of {source_name} (it has \
             been written to since the last migration?); nothing was copied",
            start.position
        )));
    }
    Ok(())
}

/// An import error with the rows it was about; a row whose content or link does not hold
/// is a verification failure of the source (rows recorded after it was verified).
fn import_error(
    error: eventlog::LogError,
    first: u64,
    last: u64,
    source_name: &str,
    target_name: &str,
) -> CliError {
    match &error {
        eventlog::LogError::Corrupt { reason } if reason.contains("another hash") => {
            CliError::Refused(format!(
                "copy positions {first}..{last} into {target_name}: {reason}"
            ))
        }
        eventlog::LogError::Corrupt { reason } => CliError::VerifyFailed {
            position: first_number(reason).unwrap_or(first),
            detail: format!(
                "a row of {source_name} recorded after it was verified does not continue the \
                 chain ({reason}); rows before it were copied"
            ),
        },
        _ => CliError::Log {
            context: format!("copy positions {first}..{last} into {target_name}"),
            source: error,
        },
    }
}

/// The first number in a message ("position 12 ..." → 12).
fn first_number(text: &str) -> Option<u64> {
    text.split(|character: char| !character.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|part| part.parse().ok())
}

fn rate(summary: &Summary) -> f64 {
    if summary.seconds > 0.0 {
        summary.copied as f64 / summary.seconds
    } else {
        0.0
    }
}

fn summary_text(summary: &Summary, source_name: &str, target_name: &str) -> String {
    let mut text = format!(
        "migrated {source_name} into {target_name}\n  copied          {:>10} rows ({:.0} rows/s)\n  already there   {:>10} rows\n  source head     {:>10} {}\n  target head     {:>10} {}\n  time            {:>10.1} s\n",
        summary.copied,
        rate(summary),
        summary.already_there,
        summary.source_head.position,
        hex::encode(summary.source_head.hash),
        summary.target_head.position,
        hex::encode(summary.target_head.hash),
        summary.seconds,
    );
    if summary.source_head == summary.target_head {
        text.push_str("heads equal: the target holds the whole log\n");
    } else {
        text.push_str(&format!(
            "the source has {} rows more since the copy (the service is still writing): stop \
             it and run this again for the tail\n",
            summary
                .source_head
                .position
                .saturating_sub(summary.target_head.position)
        ));
    }
    match &summary.keys {
        KeysSummary::NotFound { looked_at } => text.push_str(&format!(
            "no key store at {}: none copied (name it with --keys FILE)\n",
            looked_at.display()
        )),
        KeysSummary::Copied { from, to, stats } => text.push_str(&format!(
            "copied the key store {from} into {to}\n  keys copied     {:>10}\n  keys there      {:>10}\n  erasures copied {:>10}\n  erasures there  {:>10}\n  keys deleted    {:>10} (erased in the source since an earlier copy)\n  kept erased     {:>10} (erased in the target)\n",
            stats.keys_copied,
            stats.keys_already_there,
            stats.erasures_copied,
            stats.erasures_already_there,
            stats.keys_deleted,
            stats.keys_erased_in_target,
        )),
    }
    text
}

fn keys_json(keys: &KeysSummary) -> serde_json::Value {
    match keys {
        KeysSummary::NotFound { looked_at } => json!({
            "found": false,
            "looked_at": looked_at.display().to_string(),
        }),
        KeysSummary::Copied { from, to, stats } => json!({
            "found": true,
            "from": from,
            "to": to,
            "keys_copied": stats.keys_copied,
            "keys_already_there": stats.keys_already_there,
            "keys_erased_in_target": stats.keys_erased_in_target,
            "erasures_copied": stats.erasures_copied,
            "erasures_already_there": stats.erasures_already_there,
            "keys_deleted": stats.keys_deleted,
        }),
    }
}

fn summary_json(summary: &Summary, source_name: &str, target_name: &str) -> serde_json::Value {
    json!({
        "from": source_name,
        "to": target_name,
        "rows_copied": summary.copied,
        "rows_already_there": summary.already_there,
        "source_head": {
            "position": summary.source_head.position,
            "hash": hex::encode(summary.source_head.hash),
        },
        "target_head": {
            "position": summary.target_head.position,
            "hash": hex::encode(summary.target_head.hash),
        },
        "heads_equal": summary.source_head == summary.target_head,
        "seconds": summary.seconds,
        "rows_per_second": rate(summary),
        "keys": keys_json(&summary.keys),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_name_themselves_when_wrong() {
        let error = source_path("postgres://cloop:s3cret@db/cloop").expect_err("postgres source");
        assert!(error.to_string().starts_with("--from"), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert_eq!(error.exit_code(), 2);
        let error = target_url("sqlite:/data/workflow.db").expect_err("sqlite target");
        assert!(error.to_string().starts_with("--to"), "{error}");
        assert!(source_path("")
            .expect_err("empty")
            .to_string()
            .starts_with("--from"));
        assert_eq!(
            source_path("/data/workflow.db").ok(),
            Some(std::path::PathBuf::from("/data/workflow.db"))
        );
    }

    #[test]
    fn the_position_is_read_from_an_import_error() {
        assert_eq!(
            first_number("the content of position 1500 does not match its hash"),
            Some(1500)
        );
        assert_eq!(first_number("no number"), None);
    }
}
