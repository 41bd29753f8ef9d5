//! `cloop report monthly|adopted`: the monthly report from the workflow (Reports.MonthlyReport)
//! or recomputed offline from an event log file at a chosen position, printed as tables or
//! JSON and written as HTML or CSV; and the public list of adopted suggestions.

use super::{parse_instant, write_stdout, Context};
use crate::args::{MonthlyArgs, ReportCommand};
use crate::error::CliError;
use crate::progress::bar;
use crate::render::{adopted_json, adopted_table, awards_table, report_text};
use crate::rpc::{call_error, connect, Service};
use proto::v1;
use proto::v1::reports_client::ReportsClient;
use reports::{MonthlyReport, ReportOptions, YearMonth};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Runs `cloop report ...`.
pub async fn run(context: &Context, command: ReportCommand) -> Result<(), CliError> {
    match command {
        ReportCommand::Monthly(arguments) => monthly(context, arguments).await,
        ReportCommand::Period(arguments) => super::report_period::period(context, arguments).await,
        ReportCommand::People(arguments) => super::report_period::people(context, arguments).await,
        ReportCommand::Adopted {
            from,
            to,
            page_size,
        } => adopted(context, &from, &to, page_size).await,
        ReportCommand::Awards { month } => awards(context, &month).await,
    }
}

/// `cloop report awards --month`: the month's award winners, by rank.
async fn awards(context: &Context, month: &str) -> Result<(), CliError> {
    let month: YearMonth = month
        .parse()
        .map_err(|error: reports::ReportError| CliError::Usage(error.to_string()))?;
    let winners = all_adopted(
        context,
        v1::AdoptedSuggestionsRequest {
            award_month: month.to_string(),
            page_size: 100,
            ..v1::AdoptedSuggestionsRequest::default()
        },
    )
    .await?;
    let json = Value::Array(winners.iter().map(adopted_json).collect());
    context.print(&awards_table(&winners, &context.view), &json)
}

async fn monthly(context: &Context, arguments: MonthlyArgs) -> Result<(), CliError> {
    let month: YearMonth = arguments
        .month
        .parse()
        .map_err(|error: reports::ReportError| CliError::Usage(error.to_string()))?;
    let store = match (&arguments.store, &arguments.db) {
        (Some(url), _) => Some(
            eventlog::StoreUrl::parse(url)
                .map_err(|error| CliError::Usage(format!("--store: {error}")))?,
        ),
        (None, Some(path)) => Some(eventlog::StoreUrl::Sqlite(path.clone())),
        (None, None) => None,
    };
    let report = match store {
        Some(store) => {
            let config = arguments.config.clone();
            let department = arguments.department.clone();
            let at_position = arguments.at_position;
            let quiet = context.json;
            let keys =
                super::log::key_store(arguments.keys.clone(), arguments.keys_store.as_deref())?;
            tokio::task::spawn_blocking(move || {
                let keys = super::log::open_key_store(keys.as_ref())?;
                offline_report(
                    &store,
                    config.as_deref(),
                    (month, department),
                    at_position,
                    keys.as_ref(),
                    quiet,
                )
            })
            .await
            .map_err(|error| CliError::Other(format!("compute the report: {error}")))??
        }
        None => {
            let connection = connect(&context.settings, Service::Workflow).await?;
            let mut client = ReportsClient::new(connection.channel.clone());
            let response = client
                .monthly_report(connection.request(v1::MonthlyReportRequest {
                    month: month.to_string(),
                    department: arguments.department.clone(),
                    at_position: arguments.at_position,
                })?)
                .await
                .map_err(call_error)?
                .into_inner();
            let message = response.report.ok_or_else(|| {
                CliError::Other("the service answered without a report".to_owned())
            })?;
            reports::proto_conv::from_proto(&message, context.settings.offset)
                .map_err(|error| CliError::Other(error.to_string()))?
        }
    };
    write_outputs(
        &report,
        arguments.html.as_ref(),
        arguments.csv.as_ref(),
        context.view.lang,
    )?;
    if context.json {
        write_stdout(&format!("{}\n", report.to_json_pretty()))
    } else {
        write_stdout(&report_text(&report, &context.view))
    }
}

fn write_outputs(
    report: &MonthlyReport,
    html: Option<&PathBuf>,
    csv: Option<&PathBuf>,
    lang: reports::Lang,
) -> Result<(), CliError> {
    if let Some(path) = html {
        std::fs::write(path, report.to_html_in(lang))
            .map_err(CliError::io(format!("write {}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = csv {
        std::fs::write(path, report.to_csv())
            .map_err(CliError::io(format!("write {}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// How many log rows are read at a time.
const READ_CHUNK: usize = 10_000;

/// Folds every ticket of the log in `store` up to `at_position` (the head when `None`) and
/// computes the report as of the recorded time of the event at that position: the same
/// report the workflow served at that position, given the same configuration (and, for the
/// customers' sealed terms, the same key store: each chunk of rows is opened with `keys`,
/// its keys read at once; without it sealed text reads as empty).
pub fn offline_report(
    store: &eventlog::StoreUrl,
    config: Option<&Path>,
    (month, department): (YearMonth, Option<String>),
    at_position: Option<u64>,
    keys: Option<&vault::Vault>,
    quiet: bool,
) -> Result<MonthlyReport, CliError> {
    if let eventlog::StoreUrl::Sqlite(path) = store {
        if !path.exists() {
            return Err(CliError::Usage(format!(
                "no event log at {}",
                path.display()
            )));
        }
    }
    let rules = super::audit_rules::rules_from(config)?;
    let log = match store {
        eventlog::StoreUrl::Sqlite(path) => {
            eventlog::EventLog::open(path, eventlog::LogOptions::default())
                .map_err(CliError::log(format!("open event log {}", path.display())))?
        }
        eventlog::StoreUrl::Postgres(url) => super::log::open_postgres(url)?,
    };
    let head = log.head().position;
    let target = at_position.unwrap_or(head);
    if target > head {
        return Err(CliError::Usage(format!(
            "position {target} is past the end of the log (head {head})"
        )));
    }
    if target == 0 {
        return Err(CliError::Usage(
            "the log is empty: no position to report at".into(),
        ));
    }
    let progress = bar(target, "folded", quiet);
    // The same fold as the workflow's `Reports.MonthlyReport` with `at_position`.
    let mut fold = reports::LogFold::for_month(&rules, month);
    fold.fold_log(
        target,
        |next| {
            let mut events = log
                .read_all_blocking(next, READ_CHUNK)
                .map_err(CliError::log("read the event log"))?;
            if let Some(keys) = keys {
                projections::record::open_rows(&mut events, keys).map_err(CliError::Other)?;
            }
            let folded = events.iter().filter(|event| event.position <= target);
            progress.inc(folded.count() as u64);
            Ok(events)
        },
        |event| reports::RowMeta {
            stream_id: &event.stream_id,
            position: event.position,
            recorded_at: event.recorded_at,
        },
        |event| {
            let payload = event
                .payload_value()
                .map_err(CliError::log("read the event log"))?;
            domain::Event::from_parts(&event.event_type, event.schema_version, &payload).map_err(
                |error| {
                    CliError::Other(format!(
                        "event at position {} cannot be read: {error}",
                        event.position
                    ))
                },
            )
        },
    )?;
    progress.finish_and_clear();
    fold.report(&rules, month, department, ReportOptions::default())
        .ok_or_else(|| CliError::Other("no event was read".to_owned()))
}

async fn adopted(context: &Context, from: &str, to: &str, page_size: u32) -> Result<(), CliError> {
    let offset = context.settings.offset;
    let from = parse_instant("from", from, offset)?;
    let to = parse_instant("to", to, offset)?;
    let suggestions = all_adopted(
        context,
        v1::AdoptedSuggestionsRequest {
            from: Some(from),
            to: Some(to),
            page_size: page_size.max(1),
            page_token: String::new(),
            award_month: String::new(),
        },
    )
    .await?;
    let json = Value::Array(suggestions.iter().map(adopted_json).collect());
    context.print(&adopted_table(&suggestions, &context.view), &json)
}

/// Every adopted suggestion `request` selects, page after page (Reports.AdoptedSuggestions).
async fn all_adopted(
    context: &Context,
    request: v1::AdoptedSuggestionsRequest,
) -> Result<Vec<v1::AdoptedSuggestion>, CliError> {
    let connection = connect(&context.settings, Service::Workflow).await?;
    let client = ReportsClient::new(connection.channel.clone());
    super::all_pages(usize::MAX, |page_token| {
        let mut client = client.clone();
        let request = connection.request(v1::AdoptedSuggestionsRequest {
            page_token,
            ..request.clone()
        });
        async move {
            let response = client
                .adopted_suggestions(request?)
                .await
                .map_err(call_error)?
                .into_inner();
            Ok((response.suggestions, response.next_page_token))
        }
    })
    .await
}
