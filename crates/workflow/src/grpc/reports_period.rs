//! `Reports.Report` (any period) and `Reports.PeopleReport` (each person's figures): the
//! same two sources as the monthly report (the projections as they are, or the log folded
//! up to a chosen position), and who may see whose figures.
//!
//! Visibility is settled before anything is read: a manager or an admin sees everyone, a
//! head the people of their own department (asking for another department is refused), an
//! agent only themself (asking for anybody else is refused).

use super::reports::{ReportsService, FOLD_BATCH};
use crate::commands::failure_from_read;
use crate::error::WorkflowError;
use crate::projections;
use crate::record;
use chrono::{DateTime, Utc};
use domain::types::{Actor, Role};
use domain::{DomainError, Rules};
use eventlog::EventLog;
use reports::{
    LogFold, PeopleBuilder, PeopleReport, PeopleScope, Period, PeriodBuilder, PeriodReport,
    ReportError, ReportOptions, RowMeta, TicketFold,
};
use rusqlite::{Connection, TransactionBehavior};
use service::{status_from, Failure};
use tonic::Status;

/// A request's period, or INVALID_ARGUMENT naming the field.
pub(crate) fn period_status(error: ReportError) -> Status {
    status_from(match error {
        ReportError::InvalidPeriod { field, reason } => DomainError::invalid(&field, reason),
        ReportError::InvalidMonth { .. } => DomainError::invalid("month", error.to_string()),
        other => DomainError::invalid("period", other.to_string()),
    })
}

fn trimmed(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

fn denied(reason: String) -> Status {
    status_from(DomainError::PermissionDenied { reason })
}

/// Whose figures `actor` may read, from what they asked for.
pub(crate) fn people_scope(
    actor: &Actor,
    rules: &Rules,
    department: Option<String>,
    person: Option<String>,
) -> Result<PeopleScope, Status> {
    let department = trimmed(department);
    let person = trimmed(person);
    if let Some(name) = &department {
        if !rules.config().departments.contains_key(name) {
            return Err(status_from(DomainError::invalid(
                "department",
                format!("{name:?} is not a configured department"),
            )));
        }
    }
    let own = actor.department.clone().unwrap_or_default();
    match actor.role {
        Role::Manager | Role::Admin | Role::System => Ok(PeopleScope { department, person }),
        Role::Head => {
            if department.as_ref().is_some_and(|asked| *asked != own) {
                return Err(denied(format!(
                    "{} (head of {own}) may read only the people of {own}",
                    actor.principal
                )));
            }
            Ok(PeopleScope {
                department: Some(own),
                person,
            })
        }
        Role::Agent => {
            if person
                .as_ref()
                .is_some_and(|asked| *asked != actor.principal)
            {
                return Err(denied(format!(
                    "{} (agent of {own}) may read only their own figures",
                    actor.principal
                )));
            }
            if department.as_ref().is_some_and(|asked| *asked != own) {
                return Err(denied(format!(
                    "{} (agent of {own}) may read only their own figures",
                    actor.principal
                )));
            }
            Ok(PeopleScope {
                department,
                person: Some(actor.principal.clone()),
            })
        }
        _ => Err(denied(format!(
            "{} ({}) may not read the people report",
            actor.principal, actor.role
        ))),
    }
}

/// Feeds `fold` every ticket state of the projections received in `window`, in one read
/// transaction (the tickets and the position are one snapshot); `make` builds the fold from
/// the projected position and its instant.
pub(crate) fn fold_projections<F: TicketFold>(
    connection: &Connection,
    log: &EventLog,
    window: (DateTime<Utc>, DateTime<Utc>),
    make: impl FnOnce(u64, DateTime<Utc>) -> F,
) -> Result<F, WorkflowError> {
    let transaction =
        rusqlite::Transaction::new_unchecked(connection, TransactionBehavior::Deferred)
            .map_err(WorkflowError::sqlite("begin the report's read"))?;
    let position = projections::projected_position(&transaction)
        .map_err(WorkflowError::sqlite("read the projected position"))?;
    let as_of = super::reports::recorded_at(log, position)?;
    let mut fold = make(position, as_of);
    // `created_at_ms` is the receipt time rounded down to the millisecond; the builders
    // check the exact instant. The compact report rows, not the whole states.
    let mut statement = transaction
        .prepare(projections::report_rows::PERIOD_QUERY)
        .map_err(WorkflowError::sqlite("prepare the report's ticket read"))?;
    let mut rows = statement
        .query([window.0.timestamp_millis(), window.1.timestamp_millis() + 1])
        .map_err(WorkflowError::sqlite("read tickets for the report"))?;
    let states = std::iter::from_fn(|| match rows.next() {
        Ok(Some(row)) => Some(row.get::<_, String>(0)),
        Ok(None) => None,
        Err(error) => Some(Err(error)),
    })
    .map(|state| state.map_err(WorkflowError::sqlite("read tickets for the report")));
    reports::fold_report_rows(&mut fold, states, |error| {
        WorkflowError::Corrupt(error.to_string())
    })?;
    Ok(fold)
}

/// The log folded up to `position`, keeping the tickets received in `window`.
fn fold_log_at(
    log: &EventLog,
    vault: &vault::Vault,
    window: (DateTime<Utc>, DateTime<Utc>),
    position: u64,
) -> Result<LogFold, Failure> {
    let mut fold = LogFold::for_window(window);
    fold.fold_log(
        position,
        |next| {
            // Each page is opened with one read of its keys, then decoded.
            let mut rows = log
                .read_all_blocking(next, FOLD_BATCH)
                .map_err(crate::commands::failure_from_log)?;
            record::open_rows(&mut rows, vault).map_err(Failure::Internal)?;
            Ok(rows)
        },
        |row| RowMeta {
            stream_id: &row.stream_id,
            position: row.position,
            recorded_at: row.recorded_at,
        },
        |row| record::decode(row).map_err(Failure::Internal),
    )?;
    Ok(fold)
}

/// The period report of the projections as they are.
pub fn period_from_projections(
    connection: &Connection,
    log: &EventLog,
    rules: &Rules,
    period: Period,
    department: Option<String>,
) -> Result<PeriodReport, WorkflowError> {
    let window = PeriodBuilder::new(
        rules,
        period,
        None,
        0,
        DateTime::<Utc>::UNIX_EPOCH,
        ReportOptions::default(),
    )
    .window();
    let builder = fold_projections(connection, log, window, |position, as_of| {
        PeriodBuilder::new(
            rules,
            period,
            department,
            position,
            as_of,
            ReportOptions::default(),
        )
    })?;
    Ok(builder.finish())
}

/// The people report of the projections as they are.
pub fn people_from_projections(
    connection: &Connection,
    log: &EventLog,
    rules: &Rules,
    period: Period,
    scope: PeopleScope,
) -> Result<PeopleReport, WorkflowError> {
    let offset = rules.calendar().offset();
    let window = (period.start(offset), period.end(offset));
    let builder = fold_projections(connection, log, window, |position, as_of| {
        PeopleBuilder::new(rules, period, scope, position, as_of)
    })?;
    Ok(builder.finish())
}

/// Which report of a period: the whole (with its months) or each person's figures.
#[derive(Debug, Clone)]
pub(crate) enum Wanted {
    Period(Option<String>),
    People(PeopleScope),
}

/// What [`ReportsService::period_report`] answers.
#[derive(Debug)]
pub(crate) enum Answer {
    Period(Box<PeriodReport>),
    People(PeopleReport),
}

impl ReportsService {
    /// The report of `period`, from the projections or at `at_position`.
    pub(crate) async fn period_report(
        &self,
        period: Period,
        wanted: Wanted,
        at_position: Option<u64>,
    ) -> Result<Answer, Status> {
        let rules = self.rules.clone();
        let log = self.log.clone();
        if let Some(position) = at_position {
            let head = log.head().position;
            if position == 0 || position > head {
                return Err(status_from(DomainError::invalid(
                    "at_position",
                    format!("must be between 1 and the log's head position {head}"),
                )));
            }
            let vault = self.vault.clone();
            return tokio::task::spawn_blocking(move || {
                answer_at_position(&log, &rules, &vault, period, wanted, position)
            })
            .await
            .map_err(|error| Status::internal(format!("report task failed: {error}")))?
            .map_err(status_from);
        }
        self.readers
            .with(move |connection| match wanted {
                Wanted::Period(department) => {
                    period_from_projections(connection, &log, &rules, period, department)
                        .map(|report| Answer::Period(Box::new(report)))
                }
                Wanted::People(scope) => {
                    people_from_projections(connection, &log, &rules, period, scope)
                        .map(Answer::People)
                }
            })
            .await
            .map_err(|error| status_from(failure_from_read(error)))
    }
}

/// The report of `period` from the log folded up to `position`.
fn answer_at_position(
    log: &EventLog,
    rules: &Rules,
    vault: &vault::Vault,
    period: Period,
    wanted: Wanted,
    position: u64,
) -> Result<Answer, Failure> {
    let offset = rules.calendar().offset();
    let window = match &wanted {
        Wanted::Period(_) => PeriodBuilder::new(
            rules,
            period,
            None,
            0,
            DateTime::<Utc>::UNIX_EPOCH,
            ReportOptions::default(),
        )
        .window(),
        Wanted::People(_) => (period.start(offset), period.end(offset)),
    };
    let fold = fold_log_at(log, vault, window, position)?;
    let as_of = fold
        .as_of()
        .ok_or_else(|| Failure::Internal("no log row was read for the report".to_owned()))?;
    Ok(match wanted {
        Wanted::Period(department) => {
            let mut builder = PeriodBuilder::new(
                rules,
                period,
                department,
                fold.position(),
                as_of,
                ReportOptions::default(),
            );
            fold.tickets().for_each(|ticket| builder.add(ticket));
            Answer::Period(Box::new(builder.finish()))
        }
        Wanted::People(scope) => {
            let mut builder = PeopleBuilder::new(rules, period, scope, fold.position(), as_of);
            fold.tickets().for_each(|ticket| builder.add(ticket));
            Answer::People(builder.finish())
        }
    })
}
