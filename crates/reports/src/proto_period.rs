//! Conversion of the period and people reports to and from the `feedback.v1` messages
//! (`Reports.Report`, `Reports.PeopleReport`), and of a request's period.

use crate::people::{PeopleReport, PersonFigures};
use crate::period_report::{HeadlineTrend, PeriodReport};
use crate::proto_conv::{duration, from_proto, instant, milliseconds, to_proto};
use crate::{Period, ReportError};
use chrono::FixedOffset;
use proto::time::timestamp;
use proto::v1;

/// The period of a request; a missing one is refused like an empty one.
pub fn period_from_proto(period: Option<&v1::ReportPeriod>) -> Result<Period, ReportError> {
    let period = period.cloned().unwrap_or_default();
    Period::from_parts(
        Some(&period.month),
        Some(&period.quarter),
        Some(&period.from),
        Some(&period.to),
    )
}

/// A period as a request carries it.
pub fn period_to_proto(period: Period) -> v1::ReportPeriod {
    match period {
        Period::Month(month) => v1::ReportPeriod {
            month: month.to_string(),
            ..Default::default()
        },
        Period::Quarter { .. } => v1::ReportPeriod {
            quarter: period.to_string(),
            ..Default::default()
        },
        Period::Range { from, to } => v1::ReportPeriod {
            from: from.to_string(),
            to: to.to_string(),
            ..Default::default()
        },
    }
}

/// The response of `Reports.Report`.
pub fn report_response(report: &PeriodReport) -> v1::ReportResponse {
    v1::ReportResponse {
        report: Some(to_proto(&report.report)),
        months: report.months.iter().map(to_proto).collect(),
        trend: report
            .trend
            .iter()
            .map(|trend| v1::HeadlineTrend {
                name: trend.name.clone(),
                values: trend.values.clone(),
                change: trend.change,
            })
            .collect(),
    }
}

/// Reads a period report back (`offset`: the business calendar's, for the bounds).
pub fn report_from_proto(
    message: &v1::ReportResponse,
    offset: FixedOffset,
) -> Result<PeriodReport, ReportError> {
    let report = message
        .report
        .as_ref()
        .ok_or_else(|| ReportError::InvalidMessage {
            reason: "the answer carries no report".to_owned(),
        })?;
    let report = from_proto(report, offset)?;
    let months = message
        .months
        .iter()
        .map(|month| from_proto(month, offset))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PeriodReport {
        period: report.period.unwrap_or(Period::Month(report.month)),
        report,
        months,
        trend: message
            .trend
            .iter()
            .map(|trend| HeadlineTrend {
                name: trend.name.clone(),
                values: trend.values.clone(),
                change: trend.change,
            })
            .collect(),
    })
}

fn person_to_proto(row: &PersonFigures) -> v1::PersonFigures {
    v1::PersonFigures {
        person: row.person.clone(),
        department: row.department.clone(),
        tickets_assigned: row.tickets_assigned,
        response_due: row.response_due,
        responded: row.responded,
        responded_on_time: row.responded_on_time,
        response_on_time_rate: row.response_on_time_rate,
        median_first_response_working: row.median_first_response_working_ms.map(duration),
        p90_first_response_working: row.p90_first_response_working_ms.map(duration),
        resolved: row.resolved,
        resolution_rate: row.resolution_rate,
        resolution_due: row.resolution_due,
        resolved_on_time: row.resolved_on_time,
        resolution_on_time_rate: row.resolution_on_time_rate,
        reviews: row.reviews,
        satisfaction_mean: row.satisfaction_mean,
        satisfied: row.satisfied,
        share_satisfied: row.share_satisfied,
        reopened: row.reopened,
        transfers_away: row.transfers_away,
    }
}

fn person_from_proto(row: &v1::PersonFigures) -> PersonFigures {
    PersonFigures {
        person: row.person.clone(),
        department: row.department.clone(),
        tickets_assigned: row.tickets_assigned,
        response_due: row.response_due,
        responded: row.responded,
        responded_on_time: row.responded_on_time,
        response_on_time_rate: row.response_on_time_rate,
        median_first_response_working_ms: row
            .median_first_response_working
            .as_ref()
            .map(milliseconds),
        p90_first_response_working_ms: row.p90_first_response_working.as_ref().map(milliseconds),
        resolved: row.resolved,
        resolution_rate: row.resolution_rate,
        resolution_due: row.resolution_due,
        resolved_on_time: row.resolved_on_time,
        resolution_on_time_rate: row.resolution_on_time_rate,
        reviews: row.reviews,
        satisfaction_mean: row.satisfaction_mean,
        satisfied: row.satisfied,
        share_satisfied: row.share_satisfied,
        reopened: row.reopened,
        transfers_away: row.transfers_away,
    }
}

/// The response of `Reports.PeopleReport`.
pub fn people_response(report: &PeopleReport) -> v1::PeopleReportResponse {
    v1::PeopleReportResponse {
        report: Some(v1::PeopleReport {
            period: report.period.to_string(),
            period_start: Some(timestamp(report.period_start)),
            period_end: Some(timestamp(report.period_end)),
            department: report.department.clone().unwrap_or_default(),
            person: report.person.clone().unwrap_or_default(),
            log_position: report.log_position,
            config_version: report.config_version.clone(),
            calendar_version: report.calendar_version.clone(),
            computed_at: Some(timestamp(report.as_of)),
            satisfied_threshold: u32::from(report.satisfied_threshold),
            people: report.people.iter().map(person_to_proto).collect(),
        }),
    }
}

/// Reads a people report back from its message.
pub fn people_from_proto(message: &v1::PeopleReport) -> Result<PeopleReport, ReportError> {
    let optional = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    Ok(PeopleReport {
        period: message.period.parse()?,
        department: optional(&message.department),
        person: optional(&message.person),
        log_position: message.log_position,
        config_version: message.config_version.clone(),
        calendar_version: message.calendar_version.clone(),
        as_of: instant("computed_at", message.computed_at.as_ref())?,
        satisfied_threshold: u8::try_from(message.satisfied_threshold).unwrap_or(4),
        period_start: instant("period_start", message.period_start.as_ref())?,
        period_end: instant("period_end", message.period_end.as_ref())?,
        people: message.people.iter().map(person_from_proto).collect(),
    })
}
