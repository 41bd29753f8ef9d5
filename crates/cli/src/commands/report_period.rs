//! `cloop report period|people`: the report over a quarter or any range of days
//! (Reports.Report) and each person's figures (Reports.PeopleReport), printed as tables,
//! JSON, CSV or one self-contained HTML page.

use super::{write_stdout, Context};
use crate::args::{PeopleArgs, PeriodArgs, PeriodChoice, ReportFormat};
use crate::error::CliError;
use crate::render::report_text;
use crate::rpc::{call_error, connect, Service};
use crate::table::Table;
use proto::v1;
use proto::v1::reports_client::ReportsClient;
use reports::proto_period::{people_from_proto, period_to_proto, report_from_proto};
use reports::{PeopleReport, Period, PeriodReport, PEOPLE_COLUMNS};

fn period_of(choice: &PeriodChoice) -> Result<Period, CliError> {
    Period::from_parts(
        choice.month.as_deref(),
        choice.quarter.as_deref(),
        choice.from.as_deref(),
        choice.to.as_deref(),
    )
    .map_err(|error| CliError::Usage(error.to_string()))
}

fn format_of(context: &Context, format: ReportFormat) -> ReportFormat {
    if context.json {
        ReportFormat::Json
    } else {
        format
    }
}

/// `cloop report period`.
pub async fn period(context: &Context, arguments: PeriodArgs) -> Result<(), CliError> {
    let period = period_of(&arguments.period)?;
    let connection = connect(&context.settings, Service::Workflow).await?;
    let mut client = ReportsClient::new(connection.channel.clone());
    let response = client
        .report(connection.request(v1::ReportRequest {
            period: Some(period_to_proto(period)),
            department: arguments.department.clone(),
            at_position: arguments.at_position,
        })?)
        .await
        .map_err(call_error)?
        .into_inner();
    let report = report_from_proto(&response, context.settings.offset)
        .map_err(|error| CliError::Other(error.to_string()))?;
    let lang = context.view.lang;
    match format_of(context, arguments.format) {
        ReportFormat::Json => write_stdout(&format!("{}\n", report.to_json_pretty())),
        ReportFormat::Csv => write_stdout(&report.to_csv()),
        ReportFormat::Html => write_stdout(&report.to_html_in(lang)),
        ReportFormat::Text => write_stdout(&period_text(&report, context)),
    }
}

/// The whole period's tables, then for a quarter its months side by side.
fn period_text(report: &PeriodReport, context: &Context) -> String {
    let lang = context.view.lang;
    let mut text = report_text(&report.report, &context.view);
    if report.months.is_empty() {
        return text;
    }
    let mut headers: Vec<String> = vec![lang.tr("figure").to_owned()];
    headers.extend(report.months.iter().map(|month| month.month.to_string()));
    headers.push(lang.pick("趋势", "trend").to_owned());
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let right: Vec<usize> = (1..headers.len()).collect();
    let mut table = Table::new(&header_refs).right(&right);
    for trend in &report.trend {
        let mut row = vec![lang.tr(&trend.name).to_owned()];
        row.extend(trend.values.iter().map(|value| format!("{value:.3}")));
        row.push(format!("{:+.3}", trend.change));
        table.row(row);
    }
    text.push('\n');
    text.push_str(lang.pick("各月对比与趋势\n", "Months side by side, and the trend\n"));
    text.push_str(&table.render());
    text
}

/// `cloop report people`.
pub async fn people(context: &Context, arguments: PeopleArgs) -> Result<(), CliError> {
    let period = period_of(&arguments.period)?;
    let connection = connect(&context.settings, Service::Workflow).await?;
    let mut client = ReportsClient::new(connection.channel.clone());
    let response = client
        .people_report(connection.request(v1::PeopleReportRequest {
            period: Some(period_to_proto(period)),
            department: arguments.department.clone(),
            person: arguments.person.clone(),
            at_position: arguments.at_position,
        })?)
        .await
        .map_err(call_error)?
        .into_inner();
    let message = response
        .report
        .ok_or_else(|| CliError::Other("the service answered without a report".to_owned()))?;
    let report = people_from_proto(&message).map_err(|error| CliError::Other(error.to_string()))?;
    let lang = context.view.lang;
    match format_of(context, arguments.format) {
        ReportFormat::Json => write_stdout(&format!("{}\n", report.to_json_pretty())),
        ReportFormat::Csv => write_stdout(&report.to_csv()),
        ReportFormat::Html => write_stdout(&report.to_html_in(lang)),
        ReportFormat::Text => write_stdout(&people_text(&report, context)),
    }
}

/// The people table in the terminal.
fn people_text(report: &PeopleReport, context: &Context) -> String {
    let lang = context.view.lang;
    let mut headers: Vec<&str> = vec![lang.pick("人员", "person"), lang.pick("部门", "department")];
    headers.extend(
        PEOPLE_COLUMNS
            .iter()
            .map(|(english, chinese, _)| lang.pick(*chinese, *english)),
    );
    let right: Vec<usize> = (2..headers.len()).collect();
    let mut table = Table::new(&headers).right(&right);
    for row in &report.people {
        let mut cells = vec![row.person.clone(), lang.tr(&row.department).to_owned()];
        cells.extend(PEOPLE_COLUMNS.iter().map(|(_, _, cell)| cell(row)));
        table.row(cells);
    }
    format!(
        "{} {} · {} {} · {} {}\n\n{}",
        lang.pick("人员报告", "People report"),
        report.period,
        lang.tr("log position"),
        report.log_position,
        lang.tr("configuration"),
        report.config_version,
        if report.people.is_empty() {
            format!(
                "{}\n",
                lang.pick(
                    "本期没有经手的工单。",
                    "Nobody handled tickets in this period."
                )
            )
        } else {
            table.render()
        }
    )
}
