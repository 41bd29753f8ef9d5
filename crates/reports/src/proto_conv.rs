//! Conversion between [`MonthlyReport`] and the `feedback.v1` messages, so that the workflow
//! serves `Reports.MonthlyReport` in one line (`monthly_report_response(&report)`) and the
//! CLI renders what it received as tables, CSV or HTML.
//!
//! The protobuf message carries fewer fields than the report. Going back from protobuf,
//! counts the message lacks are recovered from the rates it carries (for example
//! `response_due = round(responded_on_time / response_on_time_rate)`); the rest keeps its
//! documented default (see `docs/reports.md`, "Over gRPC").

use crate::model::{
    AdoptedSuggestion, CategoryShare, DepartmentKpi, HeadlineChange, MonthlyReport, OnTimeRates,
    SatisfactionSummary, ScoreCount, TargetCheck, TopProblem,
};
use crate::public::PublicSuggestion;
use crate::{ReportError, YearMonth};
use chrono::{DateTime, FixedOffset, Utc};
use domain::types::Outcome;
use proto::v1;

use proto::time::timestamp;

/// A report's `field` as an instant: absent means the epoch (protobuf's default), a bad one
/// ([`proto::time::instant`]) is an invalid message naming the field.
pub(crate) fn instant(
    field: &str,
    timestamp: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, ReportError> {
    proto::time::instant(&timestamp.cloned().unwrap_or_default()).map_err(|error| {
        ReportError::InvalidMessage {
            reason: format!("{field} is not a valid timestamp: {error}"),
        }
    })
}

pub(crate) fn duration(milliseconds: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: milliseconds.div_euclid(1000),
        nanos: i32::try_from(milliseconds.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

pub(crate) fn milliseconds(duration: &prost_types::Duration) -> i64 {
    duration
        .seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(duration.nanos / 1_000_000))
}

/// An outcome read leniently: unspecified or unknown is `Adopted`.
fn outcome_from_proto(value: i32) -> Outcome {
    v1::Outcome::try_from(value)
        .ok()
        .and_then(v1::Outcome::to_domain)
        .unwrap_or(Outcome::Adopted)
}

/// The count a rate was computed from: `round(numerator / rate)`, or `fallback` when the rate
/// is 0 and says nothing.
fn denominator_from_rate(numerator: u64, rate: f64, fallback: u64) -> u64 {
    if rate > 0.0 && rate.is_finite() {
        (numerator as f64 / rate).round() as u64
    } else {
        fallback
    }
}

fn count_from_share(share: f64, whole: u64) -> u64 {
    if share.is_finite() && share > 0.0 {
        (share * whole as f64).round() as u64
    } else {
        0
    }
}

fn share_to_proto(share: &CategoryShare) -> v1::CategoryShare {
    v1::CategoryShare {
        key: share.key.clone(),
        count: share.count,
        share: share.share,
    }
}

fn share_from_proto(share: &v1::CategoryShare) -> CategoryShare {
    CategoryShare {
        key: share.key.clone(),
        count: share.count,
        share: share.share,
    }
}

fn on_time_to_proto(rates: &OnTimeRates) -> v1::OnTimeRates {
    v1::OnTimeRates {
        priority: rates
            .priority
            .map_or(v1::Priority::Unspecified, v1::Priority::from) as i32,
        responded: rates.responded,
        responded_on_time: rates.responded_on_time,
        response_on_time_rate: rates.response_on_time_rate,
        resolved: rates.resolved,
        resolved_on_time: rates.resolved_on_time,
        resolution_on_time_rate: rates.resolution_on_time_rate,
        received: rates.received,
        resolution_rate: rates.resolution_rate,
        response_due: Some(rates.response_due),
        resolution_due: Some(rates.resolution_due),
    }
}

fn on_time_from_proto(rates: &v1::OnTimeRates) -> OnTimeRates {
    OnTimeRates {
        priority: v1::Priority::try_from(rates.priority)
            .ok()
            .and_then(v1::Priority::to_domain),
        received: rates.received,
        response_due: rates.response_due.unwrap_or_else(|| {
            denominator_from_rate(
                rates.responded_on_time,
                rates.response_on_time_rate,
                rates.responded,
            )
        }),
        responded: rates.responded,
        responded_on_time: rates.responded_on_time,
        response_on_time_rate: rates.response_on_time_rate,
        resolution_due: rates.resolution_due.unwrap_or_else(|| {
            denominator_from_rate(
                rates.resolved_on_time,
                rates.resolution_on_time_rate,
                rates.resolved,
            )
        }),
        resolved: rates.resolved,
        resolved_on_time: rates.resolved_on_time,
        resolution_on_time_rate: rates.resolution_on_time_rate,
        resolution_rate: rates.resolution_rate,
    }
}

fn problem_to_proto(problem: &TopProblem) -> v1::TopProblem {
    v1::TopProblem {
        key: problem.key.clone(),
        count: problem.count,
        share: problem.share,
        complaint_share: problem.complaint_share,
        priority_flag: problem.priority_flag,
        complaints: Some(problem.complaints),
        reporters: problem.reporters,
    }
}

fn problem_from_proto(problem: &v1::TopProblem, complaints: u64) -> TopProblem {
    TopProblem {
        key: problem.key.clone(),
        count: problem.count,
        share: problem.share,
        complaints: problem
            .complaints
            .unwrap_or_else(|| count_from_share(problem.complaint_share, complaints)),
        complaint_share: problem.complaint_share,
        priority_flag: problem.priority_flag,
        reporters: problem.reporters,
    }
}

fn department_to_proto(kpi: &DepartmentKpi) -> v1::DepartmentKpi {
    v1::DepartmentKpi {
        department: kpi.department.clone(),
        volume: kpi.volume,
        median_first_response: kpi.median_first_response_ms.map(duration),
        p90_first_response: kpi.p90_first_response_ms.map(duration),
        resolution_rate: kpi.resolution_rate,
        on_time_rate: kpi.on_time_rate,
        response_on_time_rate: kpi.response_on_time_rate,
        resolution_on_time_rate: kpi.resolution_on_time_rate,
        satisfaction_mean: kpi.satisfaction_mean,
        share_satisfied: kpi.share_satisfied,
        reviews: kpi.reviews,
        response_due: Some(kpi.response_due),
        resolution_due: Some(kpi.resolution_due),
    }
}

fn department_from_proto(kpi: &v1::DepartmentKpi) -> DepartmentKpi {
    DepartmentKpi {
        department: kpi.department.clone(),
        volume: kpi.volume,
        responded: 0,
        median_first_response_ms: kpi.median_first_response.as_ref().map(milliseconds),
        p90_first_response_ms: kpi.p90_first_response.as_ref().map(milliseconds),
        median_first_response_working_ms: None,
        resolved: count_from_share(kpi.resolution_rate, kpi.volume),
        resolution_rate: kpi.resolution_rate,
        // Carried since the fields were added; from an older server every ticket is taken
        // as decided, so the rates show as given.
        response_due: kpi.response_due.unwrap_or(kpi.volume),
        resolution_due: kpi.resolution_due.unwrap_or(kpi.volume),
        on_time_rate: kpi.on_time_rate,
        response_on_time_rate: kpi.response_on_time_rate,
        resolution_on_time_rate: kpi.resolution_on_time_rate,
        reviews: kpi.reviews,
        satisfaction_mean: kpi.satisfaction_mean,
        share_satisfied: kpi.share_satisfied,
    }
}

fn adopted_to_proto(adopted: &AdoptedSuggestion) -> v1::AdoptedSuggestion {
    v1::AdoptedSuggestion {
        ticket_id: adopted.ticket_id.clone(),
        department: adopted.department.clone(),
        content: adopted.content.clone(),
        product: adopted.product.clone(),
        solution: adopted.solution.clone(),
        adopted_at: Some(timestamp(adopted.adopted_at)),
        customer_told: adopted.customer_told,
        customer_display_name: adopted.customer_display_name.clone(),
        outcome: v1::Outcome::from(adopted.outcome) as i32,
        // The monthly report lists suggestions without their rewards; `AdoptedSuggestions`
        // shows them.
        reward_kind: String::new(),
        reward_amount: 0,
        reward_valid_until: None,
        award_winner: false,
        award_month: String::new(),
        award_rank: 0,
        delivered_on: String::new(),
        evaluation_score: 0,
    }
}

/// The satisfaction summary read back: the satisfied count from its share, every score of
/// 1 to 5 in the distribution.
fn satisfaction_from_proto(satisfaction: &v1::SatisfactionSummary) -> SatisfactionSummary {
    SatisfactionSummary {
        reviews: satisfaction.reviews,
        mean: satisfaction.mean,
        satisfied: count_from_share(satisfaction.share_satisfied, satisfaction.reviews),
        share_satisfied: satisfaction.share_satisfied,
        distribution: (1..=5u8)
            .map(|score| ScoreCount {
                score,
                count: satisfaction
                    .distribution
                    .iter()
                    .find(|entry| entry.score == u32::from(score))
                    .map_or(0, |entry| entry.count),
            })
            .collect(),
    }
}

fn band_to_proto(band: &crate::model::ScoreBandRate) -> v1::ScoreBandRate {
    v1::ScoreBandRate {
        band: band.band.clone(),
        decided: band.decided,
        accepted: band.accepted,
        rate: band.rate,
    }
}

fn band_from_proto(band: &v1::ScoreBandRate) -> crate::model::ScoreBandRate {
    crate::model::ScoreBandRate {
        band: band.band.clone(),
        decided: band.decided,
        accepted: band.accepted,
        rate: band.rate,
    }
}

/// An adopted suggestion of the public list (`Reports.AdoptedSuggestions`), with its reward.
pub fn public_suggestion(public: &PublicSuggestion) -> v1::AdoptedSuggestion {
    let reward = public.reward.as_ref();
    v1::AdoptedSuggestion {
        reward_kind: reward
            .map(|reward| reward.kind.as_str().to_owned())
            .unwrap_or_default(),
        reward_amount: reward.map_or(0, |reward| reward.amount),
        reward_valid_until: reward.map(|reward| timestamp(reward.valid_until)),
        award_winner: public.award.is_some(),
        award_month: public
            .award
            .as_ref()
            .map(|award| award.month.clone())
            .unwrap_or_default(),
        award_rank: public.award.as_ref().map_or(0, |award| award.rank),
        delivered_on: public
            .delivered_on
            .map(|day| day.to_string())
            .unwrap_or_default(),
        evaluation_score: public.evaluation_score.map_or(0, u32::from),
        ..adopted_to_proto(&public.suggestion)
    }
}

fn adopted_from_proto(adopted: &v1::AdoptedSuggestion) -> Result<AdoptedSuggestion, ReportError> {
    Ok(AdoptedSuggestion {
        ticket_id: adopted.ticket_id.clone(),
        department: adopted.department.clone(),
        content: adopted.content.clone(),
        product: adopted.product.clone(),
        solution: adopted.solution.clone(),
        adopted_at: instant("adopted_at", adopted.adopted_at.as_ref())?,
        customer_told: adopted.customer_told,
        customer_display_name: adopted.customer_display_name.clone(),
        outcome: outcome_from_proto(adopted.outcome),
    })
}

/// The report as the protobuf message.
pub fn to_proto(report: &MonthlyReport) -> v1::MonthlyReport {
    v1::MonthlyReport {
        month: report.month.to_string(),
        period: report
            .period
            .map(|period| period.to_string())
            .unwrap_or_default(),
        department: report.department.clone().unwrap_or_default(),
        tickets: report.tickets,
        distinct_problems: report.distinct_problems,
        reporters: report.reporters,
        by_kind: report.by_kind.iter().map(share_to_proto).collect(),
        by_content_type: report.by_content_type.iter().map(share_to_proto).collect(),
        by_channel: report.by_channel.iter().map(share_to_proto).collect(),
        by_priority: report.by_priority.iter().map(share_to_proto).collect(),
        on_time: Some(on_time_to_proto(&report.on_time)),
        on_time_by_priority: report
            .on_time_by_priority
            .iter()
            .map(on_time_to_proto)
            .collect(),
        satisfaction: Some(v1::SatisfactionSummary {
            reviews: report.satisfaction.reviews,
            mean: report.satisfaction.mean,
            share_satisfied: report.satisfaction.share_satisfied,
            distribution: report
                .satisfaction
                .distribution
                .iter()
                .map(|score| v1::ScoreCount {
                    score: u32::from(score.score),
                    count: score.count,
                })
                .collect(),
        }),
        reopened: report.reopened,
        reopen_rate: report.reopen_rate,
        top_keywords: report.top_keywords.iter().map(problem_to_proto).collect(),
        top_products: report.top_products.iter().map(problem_to_proto).collect(),
        top_terms: report.top_terms.iter().map(problem_to_proto).collect(),
        departments: report.departments.iter().map(department_to_proto).collect(),
        suggestions_evaluated: report.suggestions_evaluated,
        adoption_by_score: report.adoption_by_score.iter().map(band_to_proto).collect(),
        adopted_suggestions: report
            .adopted_suggestions
            .iter()
            .map(adopted_to_proto)
            .collect(),
        adopted_count: report.adopted_count,
        adopted_customers_told: report.adopted_customers_told,
        targets: report
            .targets
            .iter()
            .map(|target| v1::TargetCheck {
                name: target.name.clone(),
                target: target.target,
                actual: target.actual,
                met: target.met,
                detail: target.detail.clone(),
            })
            .collect(),
        month_on_month: report
            .month_on_month
            .iter()
            .map(|change| v1::HeadlineChange {
                name: change.name.clone(),
                current: change.current,
                previous: change.previous,
                change: change.change,
                relative_change: change.relative_change,
            })
            .collect(),
        closed_loop_rate: report.closed_loop_rate,
        archived: report.archived,
        log_position: report.log_position,
        config_version: report.config_version.clone(),
        computed_at: Some(timestamp(report.as_of)),
        calendar_version: report.calendar_version.clone(),
        satisfied_threshold: Some(u32::from(report.satisfied_threshold)),
    }
}

/// The response of `Reports.MonthlyReport`.
pub fn monthly_report_response(report: &MonthlyReport) -> v1::MonthlyReportResponse {
    v1::MonthlyReportResponse {
        report: Some(to_proto(report)),
    }
}

/// The month of a report message, the period it names (none for a month) and its bounds
/// at `offset`.
type PeriodBounds = (
    YearMonth,
    Option<crate::Period>,
    (DateTime<Utc>, DateTime<Utc>),
);

fn period_of(
    message: &v1::MonthlyReport,
    offset: FixedOffset,
) -> Result<PeriodBounds, ReportError> {
    let month: YearMonth = message.month.parse()?;
    let period = Some(message.period.trim())
        .filter(|period| !period.is_empty())
        .map(str::parse::<crate::Period>)
        .transpose()?;
    let bounds = period.map_or((month.start(offset), month.end(offset)), |period| {
        (period.start(offset), period.end(offset))
    });
    Ok((month, period, bounds))
}

/// Reads a report back from the protobuf message. `offset` is the business calendar's UTC
/// offset, used for the month's bounds (the message does not carry them).
pub fn from_proto(
    message: &v1::MonthlyReport,
    offset: FixedOffset,
) -> Result<MonthlyReport, ReportError> {
    let (month, period, bounds) = period_of(message, offset)?;
    let department = Some(message.department.trim().to_owned()).filter(|name| !name.is_empty());
    let complaints = message
        .by_kind
        .iter()
        .find(|share| share.key == "complaint")
        .map_or(0, |share| share.count);
    let problems = |list: &[v1::TopProblem]| -> Vec<TopProblem> {
        list.iter()
            .map(|problem| problem_from_proto(problem, complaints))
            .collect()
    };
    let satisfaction = message.satisfaction.clone().unwrap_or_default();
    let departments: Vec<DepartmentKpi> = message
        .departments
        .iter()
        .map(department_from_proto)
        .collect();
    let assigned: u64 = departments.iter().map(|kpi| kpi.volume).sum();
    let defaults = domain::rules::config::ReviewConfig::default();
    Ok(MonthlyReport {
        month,
        period,
        unassigned: if department.is_none() {
            message.tickets.saturating_sub(assigned)
        } else {
            0
        },
        department,
        log_position: message.log_position,
        config_version: message.config_version.clone(),
        calendar_version: message.calendar_version.clone(),
        as_of: instant("computed_at", message.computed_at.as_ref())?,
        satisfied_threshold: message
            .satisfied_threshold
            .and_then(|threshold| u8::try_from(threshold).ok())
            .unwrap_or(defaults.satisfied_threshold),
        priority_share_threshold: 0.30,
        month_start: bounds.0,
        month_end: bounds.1,
        tickets: message.tickets,
        distinct_problems: message.distinct_problems,
        reporters: message.reporters,
        complaints,
        by_kind: message.by_kind.iter().map(share_from_proto).collect(),
        by_content_type: message
            .by_content_type
            .iter()
            .map(share_from_proto)
            .collect(),
        by_channel: message.by_channel.iter().map(share_from_proto).collect(),
        by_priority: message.by_priority.iter().map(share_from_proto).collect(),
        on_time: on_time_from_proto(&message.on_time.unwrap_or_default()),
        on_time_by_priority: message
            .on_time_by_priority
            .iter()
            .map(on_time_from_proto)
            .collect(),
        satisfaction: satisfaction_from_proto(&satisfaction),
        reopened: message.reopened,
        reopen_rate: message.reopen_rate,
        top_keywords: problems(&message.top_keywords),
        top_products: problems(&message.top_products),
        top_terms: problems(&message.top_terms),
        departments,
        adopted_count: message.adopted_count,
        adopted_customers_told: message.adopted_customers_told,
        suggestions_evaluated: message.suggestions_evaluated,
        adoption_by_score: message
            .adoption_by_score
            .iter()
            .map(band_from_proto)
            .collect(),
        adopted_suggestions: message
            .adopted_suggestions
            .iter()
            .map(adopted_from_proto)
            .collect::<Result<_, _>>()?,
        archived: message.archived,
        closed_loop: count_from_share(message.closed_loop_rate, message.tickets),
        closed_loop_rate: message.closed_loop_rate,
        targets: message
            .targets
            .iter()
            .map(|target| TargetCheck {
                name: target.name.clone(),
                target: target.target,
                actual: target.actual,
                met: target.met,
                detail: target.detail.clone(),
            })
            .collect(),
        month_on_month: message
            .month_on_month
            .iter()
            .map(|change| HeadlineChange {
                name: change.name.clone(),
                current: change.current,
                previous: change.previous,
                change: change.change,
                relative_change: change.relative_change,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{monthly_report, ReportInput, ReportOptions};

    fn report_with_counts() -> MonthlyReport {
        let rules = domain::Rules::defaults();
        let month: YearMonth = "2026-11".parse().expect("month");
        let as_of = month.end(rules.calendar().offset());
        let mut report = monthly_report(ReportInput {
            tickets: Vec::<domain::Ticket>::new(),
            rules: &rules,
            month,
            department: None,
            log_position: 7,
            as_of,
            options: ReportOptions {
                satisfied_threshold: Some(3),
                ..ReportOptions::default()
            },
        });
        // Counts that the rates alone cannot recover: nothing met, something due.
        report.on_time.response_due = 4;
        report.on_time.resolution_due = 2;
        report.departments[0].response_due = 3;
        report.departments[0].resolution_due = 1;
        report.complaints = 5;
        report.top_keywords.push(TopProblem {
            key: "退款".to_owned(),
            count: 4,
            share: 0.5,
            complaints: 3,
            complaint_share: 0.6,
            priority_flag: true,
            reporters: 5,
        });
        report
    }

    #[test]
    fn the_added_fields_travel_exactly() {
        let report = report_with_counts();
        let message = to_proto(&report);
        assert_eq!(message.calendar_version, report.calendar_version);
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        let back = from_proto(&message, offset).expect("read back");
        assert_eq!(back.on_time.response_due, 4);
        assert_eq!(back.on_time.resolution_due, 2);
        assert_eq!(back.departments[0].response_due, 3);
        assert_eq!(back.departments[0].resolution_due, 1);
        assert_eq!(back.top_keywords[0].complaints, 3);
        assert_eq!(back.calendar_version, report.calendar_version);
        assert_eq!(back.satisfied_threshold, 3);
    }

    #[test]
    fn a_message_without_them_falls_back_to_the_documented_defaults() {
        let report = report_with_counts();
        let mut message = to_proto(&report);
        if let Some(on_time) = message.on_time.as_mut() {
            on_time.response_due = None;
            on_time.resolution_due = None;
        }
        message.departments[0].response_due = None;
        message.departments[0].resolution_due = None;
        message.top_keywords[0].complaints = None;
        message.satisfied_threshold = None;
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        let back = from_proto(&message, offset).expect("read back");
        // Nothing was met, so the rates are 0 and the responded count stands in.
        assert_eq!(back.on_time.response_due, back.on_time.responded);
        assert_eq!(back.departments[0].response_due, back.departments[0].volume);
        assert_eq!(
            back.top_keywords[0].complaints, 0,
            "no complaints in by_kind"
        );
        assert_eq!(
            back.satisfied_threshold,
            domain::rules::config::ReviewConfig::default().satisfied_threshold
        );
    }

    #[test]
    fn a_bad_computed_at_names_the_field_and_an_absent_one_is_the_epoch() {
        let report = report_with_counts();
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        let mut message = to_proto(&report);
        message.computed_at = Some(prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        });
        let error = from_proto(&message, offset).expect_err("negative nanos");
        assert!(
            matches!(&error, ReportError::InvalidMessage { reason }
                if reason.contains("computed_at") && reason.contains("nanos -1")),
            "{error}"
        );
        message.computed_at = None;
        let back = from_proto(&message, offset).expect("absent is the epoch");
        assert_eq!(back.as_of, DateTime::<Utc>::UNIX_EPOCH);
    }
}
