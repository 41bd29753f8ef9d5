//! Running a parsed command line: settings, then the subcommand. Each submodule talks to one
//! service (or to a log file) and hands what it got to `render` for people or JSON.

mod audit;
mod audit_rules;
mod classifier;
mod customer;
mod log;
mod log_migrate;
mod report;
mod report_period;
mod submit;
mod tickets;
mod token;

use crate::args::{AuditCommand, Cli, Command};
use crate::config::{read_profile, settings, Settings};
use crate::error::CliError;
use crate::render::View;
use crate::style::Style;
use serde_json::Value;
use std::io::Write;

/// What every command needs: settings, output mode and how to show things.
#[derive(Debug, Clone)]
pub struct Context {
    pub settings: Settings,
    pub json: bool,
    pub view: View,
}

impl Context {
    /// Prints the human text, or the JSON value (pretty) with `--json`.
    pub fn print(&self, human: &str, json: &Value) -> Result<(), CliError> {
        if self.json {
            let text = serde_json::to_string_pretty(json)
                .map_err(|error| CliError::Other(format!("render json: {error}")))?;
            write_stdout(&format!("{text}\n"))
        } else {
            write_stdout(human)
        }
    }
}

/// Writes to standard output; a closed pipe (`cloop ... | head`) ends quietly.
pub fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(CliError::io("write to standard output")(error)),
    }
}

/// A fresh command id (UUID v4) for a command without `--command-id`.
pub fn new_command_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let profile = read_profile(cli.profile.as_deref())?;
    let mut settings = settings(
        cli.intake,
        cli.workflow,
        cli.token,
        cli.utc_offset,
        cli.timeout,
        &profile,
    )?;
    settings.tls = crate::config::client_tls(cli.ca, cli.cert, cli.key, &profile)?;
    let locale = std::env::var("LANG").ok();
    let lang = crate::config::language(cli.lang.as_deref(), &profile, locale.as_deref())?;
    let context = Context {
        view: View {
            offset: settings.offset,
            style: Style::detect(cli.json),
            lang,
        },
        settings,
        json: cli.json,
    };
    match cli.command {
        Command::Submit(arguments) => submit::run(&context, arguments).await,
        Command::Tickets(command) => tickets::run_query(&context, command).await,
        Command::Classify(arguments) => tickets::classify(&context, arguments).await,
        Command::Dispatch(arguments) => tickets::dispatch(&context, arguments).await,
        Command::Ack(arguments) => tickets::acknowledge(&context, arguments).await,
        Command::Note(arguments) => tickets::note(&context, arguments).await,
        Command::Evaluate(arguments) => tickets::evaluate(&context, arguments).await,
        Command::Solve(arguments) => tickets::solve(&context, arguments).await,
        Command::Deliver(arguments) => tickets::deliver(&context, arguments).await,
        Command::Approve(arguments) => tickets::approve(&context, arguments).await,
        Command::Review(arguments) => tickets::review(&context, arguments).await,
        Command::Archive(arguments) => tickets::archive(&context, arguments).await,
        Command::Escalate(arguments) => tickets::escalate(&context, arguments).await,
        Command::Pause(arguments) => tickets::pause(&context, arguments).await,
        Command::Resume(arguments) => tickets::resume(&context, arguments).await,
        Command::Report(command) => report::run(&context, command).await,
        Command::Audit(AuditCommand::Rules(arguments)) => {
            audit_rules::run(&context, arguments).await
        }
        Command::Audit(command) => audit::run(&context, command).await,
        Command::Log(command) => log::run(&context, command).await,
        Command::Classifier(command) => classifier::run(&context, command).await,
        Command::Customer(command) => customer::run(&context, command).await,
        Command::Token(command) => token::run(&context, command),
        Command::People(command) => tickets::people(&context, command).await,
    }
}

/// Parses an instant given as RFC 3339, or as a date `YYYY-MM-DD` meaning local midnight at
/// the view's offset.
/// Every item of a paged list: `page(token)` fetches one page (its items and the next page's
/// token, empty after the last page), from the empty token on, until the last page or until
/// `limit` items are there.
pub(crate) async fn all_pages<T, Page>(
    limit: usize,
    mut page: impl FnMut(String) -> Page,
) -> Result<Vec<T>, CliError>
where
    Page: std::future::Future<Output = Result<(Vec<T>, String), CliError>>,
{
    let mut items = Vec::new();
    let mut page_token = String::new();
    loop {
        let (found, next_page_token) = page(page_token).await?;
        items.extend(found);
        if next_page_token.is_empty() || items.len() >= limit {
            break;
        }
        page_token = next_page_token;
    }
    Ok(items)
}

pub fn parse_instant(
    field: &str,
    text: &str,
    offset: chrono::FixedOffset,
) -> Result<prost_types::Timestamp, CliError> {
    use chrono::TimeZone;
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        let instant = offset
            .from_local_datetime(&midnight)
            .single()
            .ok_or_else(|| CliError::Usage(format!("invalid {field} {text:?}")))?;
        return Ok(proto::time::timestamp(instant.to_utc()));
    }
    crate::csv_import::parse_timestamp(field, text)
}
