//! The `feedback.v1.Reports` gRPC service: the monthly report (from the projections as they
//! are, or from the log folded up to a chosen position) and the public list of adopted
//! suggestions with the customers anonymised. Managers and admins only; the services may
//! read a period's report and record a scheduled report's delivery (`report_delivery`).
//!
//! The current report and the report at a position come from the same fold of the same
//! ticket states: the projections hold exactly the fold of the log up to their position, and
//! both are judged at the recorded time of the row at that position, so asking for
//! `at_position` equal to a served report's `log_position` gives the same report, byte for
//! byte.

use super::convert::instant_from;
use super::reports_period::{people_scope, period_status, Answer, Wanted};
use super::tickets::{actor_of, check_role};
use crate::commands::failure_from_read;
use crate::error::WorkflowError;
use crate::queries::Readers;
use crate::record;
use chrono::{DateTime, Utc};
use domain::authorize::Action;
use domain::ticket::Ticket;
use domain::{DomainError, Rules};
use eventlog::EventLog;
use proto::v1;
use reports::public::{Adoption, PublicSuggestion};
use reports::{proto_conv, proto_period};
use reports::{LogFold, MonthlyReport, ReportBuilder, ReportOptions, RowMeta, YearMonth};
use rusqlite::Connection;
use service::ratelimit::{RateLimit, RateLimiter};
use service::tokens::principal_of;
use service::{status_from, Failure};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Log rows read per batch when a report is folded from the log.
pub(crate) const FOLD_BATCH: usize = 10_000;
/// `AdoptedSuggestions` page size when none is asked, and the largest page.
const DEFAULT_ADOPTED_PAGE: u32 = 100;
const MAX_ADOPTED_PAGE: u32 = 500;

/// The gRPC face of the reports.
#[derive(Debug, Clone)]
pub struct ReportsService {
    pub log: EventLog,
    pub readers: Readers,
    pub rules: Arc<Rules>,
    /// Opens sealed customer data while folding the log for a report at a position, as the
    /// projector does, so that both reports name the same customers.
    pub vault: Arc<vault::Vault>,
    /// The buckets of anonymous callers of `AdoptedSuggestions` (by client address), shared
    /// with the self-service, and their limit.
    pub public_limiter: Arc<RateLimiter>,
    pub public_limit: RateLimit,
    /// The time of recorded deliveries (`RecordReportDelivery`).
    pub clock: Arc<dyn crate::clock::Clock>,
}

#[tonic::async_trait]
impl v1::reports_server::Reports for ReportsService {
    async fn monthly_report(
        &self,
        request: Request<v1::MonthlyReportRequest>,
    ) -> Result<Response<v1::MonthlyReportResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::MonthlyReport)?;
        let request = request.into_inner();
        let month: YearMonth = request.month.trim().parse().map_err(|_| {
            status_from(DomainError::invalid(
                "month",
                "must be YYYY-MM, e.g. 2026-11",
            ))
        })?;
        let department = self.checked_department(request.department)?;
        let report = match request.at_position {
            Some(position) => self.report_at(month, department, position).await?,
            None => self.report_now(month, department).await?,
        };
        Ok(Response::new(proto_conv::monthly_report_response(&report)))
    }

    async fn report(
        &self,
        request: Request<v1::ReportRequest>,
    ) -> Result<Response<v1::ReportResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::Report)?;
        let request = request.into_inner();
        let period =
            proto_period::period_from_proto(request.period.as_ref()).map_err(period_status)?;
        let department = self.checked_department(request.department)?;
        match self
            .period_report(period, Wanted::Period(department), request.at_position)
            .await?
        {
            Answer::Period(report) => Ok(Response::new(proto_period::report_response(&report))),
            Answer::People(_) => Err(Status::internal("the report of a period was expected")),
        }
    }

    async fn people_report(
        &self,
        request: Request<v1::PeopleReportRequest>,
    ) -> Result<Response<v1::PeopleReportResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::PeopleReport)?;
        let request = request.into_inner();
        let period =
            proto_period::period_from_proto(request.period.as_ref()).map_err(period_status)?;
        let scope = people_scope(&actor, &self.rules, request.department, request.person)?;
        match self
            .period_report(period, Wanted::People(scope), request.at_position)
            .await?
        {
            Answer::People(report) => Ok(Response::new(proto_period::people_response(&report))),
            Answer::Period(_) => Err(Status::internal("the people report was expected")),
        }
    }

    async fn record_report_delivery(
        &self,
        request: Request<v1::RecordReportDeliveryRequest>,
    ) -> Result<Response<v1::RecordReportDeliveryResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::RecordReportDelivery)?;
        let now = self.clock.now();
        super::report_delivery::record(&self.log, &actor, request.into_inner(), now)
            .await
            .map(Response::new)
    }

    async fn adopted_suggestions(
        &self,
        request: Request<v1::AdoptedSuggestionsRequest>,
    ) -> Result<Response<v1::AdoptedSuggestionsResponse>, Status> {
        // Without a token the public list: what the customers agreed to publish (the
        // console's /adopted asks SelfService.ListAdopted for the same). A token that is there
        // was checked by the interceptor and must be a role that may read the whole list.
        let audience = if principal_of(&request).is_ok() {
            check_role(&actor_of(&request)?, Action::AdoptedSuggestions)?;
            Audience::Staff
        } else {
            let caller = match request.remote_addr() {
                Some(address) => format!("public client {}", address.ip()),
                None => "public client".to_owned(),
            };
            self.public_limiter
                .check(&caller, self.public_limit)
                .map_err(|refusal| refusal.to_status())?;
            Audience::Public
        };
        let request = request.into_inner();
        if !request.award_month.trim().is_empty() {
            let month = request.award_month.trim().to_owned();
            domain::award::parse_month(&month).map_err(status_from)?;
            let suggestions = self
                .readers
                .with(move |connection| award_winners(connection, &month, audience))
                .await
                .map_err(|error| status_from(failure_from_read(error)))?;
            return Ok(Response::new(v1::AdoptedSuggestionsResponse {
                suggestions,
                next_page_token: String::new(),
            }));
        }
        let from = request
            .from
            .as_ref()
            .map(|from| instant_from("from", from))
            .transpose()
            .map_err(status_from)?;
        let to = request
            .to
            .as_ref()
            .map(|to| instant_from("to", to))
            .transpose()
            .map_err(status_from)?;
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                return Err(status_from(DomainError::invalid(
                    "to",
                    "must be after from",
                )));
            }
        }
        let after = parse_adopted_page_token(&request.page_token)?;
        let page_size = adopted_page_size(request.page_size);
        let (suggestions, next) = self
            .readers
            .with(move |connection| {
                adopted_page(connection, (from, to), after, page_size, audience)
            })
            .await
            .map_err(|error| status_from(failure_from_read(error)))?;
        Ok(Response::new(v1::AdoptedSuggestionsResponse {
            suggestions,
            next_page_token: next.map(|seq| seq.to_string()).unwrap_or_default(),
        }))
    }
}

impl ReportsService {
    /// A department asked for: trimmed, `None` when empty, refused when not configured.
    fn checked_department(&self, department: Option<String>) -> Result<Option<String>, Status> {
        let department = department
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty());
        if let Some(department) = &department {
            if !self.rules.config().departments.contains_key(department) {
                return Err(status_from(DomainError::invalid(
                    "department",
                    format!("{department:?} is not a configured department"),
                )));
            }
        }
        Ok(department)
    }

    /// The report from the projections as they are: the tickets received in the month and
    /// the month before, streamed from SQLite in one read transaction with the position they
    /// reflect.
    async fn report_now(
        &self,
        month: YearMonth,
        department: Option<String>,
    ) -> Result<MonthlyReport, Status> {
        let rules = self.rules.clone();
        let log = self.log.clone();
        self.readers
            .with(move |connection| {
                report_from_projections(connection, &log, &rules, month, department)
            })
            .await
            .map_err(|error| status_from(failure_from_read(error)))
    }

    /// The report from the log folded up to `position`, as `cloop report monthly --db
    /// --at-position` computes it offline.
    async fn report_at(
        &self,
        month: YearMonth,
        department: Option<String>,
        position: u64,
    ) -> Result<MonthlyReport, Status> {
        let head = self.log.head().position;
        if position == 0 || position > head {
            return Err(status_from(DomainError::invalid(
                "at_position",
                format!("must be between 1 and the log's head position {head}"),
            )));
        }
        let rules = self.rules.clone();
        let log = self.log.clone();
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || {
            report_at_position(&log, &rules, &vault, month, department, position)
        })
        .await
        .map_err(|error| Status::internal(format!("report task failed: {error}")))?
        .map_err(status_from)
    }
}

/// The monthly report of the tickets in the projections, at the position they reflect.
pub fn report_from_projections(
    connection: &Connection,
    log: &EventLog,
    rules: &Rules,
    month: YearMonth,
    department: Option<String>,
) -> Result<MonthlyReport, WorkflowError> {
    let offset = rules.calendar().offset();
    // The month and the one before it (the report compares them).
    let window = (month.previous().start(offset), month.end(offset));
    let builder =
        super::reports_period::fold_projections(connection, log, window, |position, as_of| {
            ReportBuilder::new(
                rules,
                month,
                department,
                position,
                as_of,
                ReportOptions::default(),
            )
        })?;
    Ok(builder.finish())
}

/// The recorded time of the row at `position`: the instant a report at that position is
/// judged at. The Unix epoch for an empty log.
pub(crate) fn recorded_at(log: &EventLog, position: u64) -> Result<DateTime<Utc>, WorkflowError> {
    if position == 0 {
        return Ok(DateTime::<Utc>::UNIX_EPOCH);
    }
    let rows = log.read_all_blocking(position, 1)?;
    rows.first()
        .filter(|row| row.position == position)
        .map(|row| row.recorded_at)
        .ok_or_else(|| {
            WorkflowError::Corrupt(format!(
                "the projections are at position {position}, which the log does not hold"
            ))
        })
}

/// The monthly report of the log folded up to `position`, with the same fold as the offline
/// `cloop report monthly --db FILE --at-position N` ([`reports::LogFold`]).
pub fn report_at_position(
    log: &EventLog,
    rules: &Rules,
    vault: &vault::Vault,
    month: YearMonth,
    department: Option<String>,
    position: u64,
) -> Result<MonthlyReport, Failure> {
    let mut fold = LogFold::for_month(rules, month);
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
    fold.report(rules, month, department, ReportOptions::default())
        .ok_or_else(|| Failure::Internal("no log row was read for the report".to_owned()))
}

/// The size of a page of adopted suggestions: the default for 0, at most the largest.
pub(crate) fn adopted_page_size(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_ADOPTED_PAGE,
        size => size.min(MAX_ADOPTED_PAGE),
    }
}

/// The position after which a page of adopted suggestions starts: 0 for none, else a token
/// this service gave out.
pub(crate) fn parse_adopted_page_token(token: &str) -> Result<i64, Status> {
    crate::queries::parse_receipt_token(token).map_err(status_from)
}

/// Who a page of adopted suggestions is for: managers see every one, the public (no token)
/// only those whose customer agreed to publish them (`reports::public::consented`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    Staff,
    Public,
}

/// The winners of `month`'s best-suggestion award, by rank, as the public list shows them
/// (at most `suggestions.award_count`, so one answer holds them all).
pub(crate) fn award_winners(
    connection: &Connection,
    month: &str,
    audience: Audience,
) -> Result<Vec<v1::AdoptedSuggestion>, WorkflowError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT state_json FROM tickets WHERE kind = 'suggestion' \
             AND seq NOT IN (SELECT seq FROM retention_expired) ORDER BY seq",
        )
        .map_err(WorkflowError::sqlite("prepare the award winners"))?;
    let mut rows = statement
        .query([])
        .map_err(WorkflowError::sqlite("read the award winners"))?;
    let mut winners = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(WorkflowError::sqlite("read the award winners"))?
    {
        let json: String = row
            .get(0)
            .map_err(WorkflowError::sqlite("read the award winners"))?;
        let ticket: Ticket = serde_json::from_str(&json)
            .map_err(|error| WorkflowError::Corrupt(format!("stored ticket: {error}")))?;
        let Some(rank) = ticket
            .award
            .as_ref()
            .filter(|award| award.month == month)
            .map(|award| award.rank)
        else {
            continue;
        };
        if audience == Audience::Public && !reports::public::consented(&ticket) {
            continue;
        }
        let Some(adoption) = Adoption::of(&ticket) else {
            continue;
        };
        winners.push((rank, PublicSuggestion::of(&ticket, &adoption)));
    }
    winners.sort_by_key(|(rank, _)| *rank);
    Ok(winners
        .iter()
        .map(|(_, public)| proto_conv::public_suggestion(public))
        .collect())
}

/// One page of adopted suggestions adopted in `[from, to)`, in receipt order after `after`,
/// and the token of the next page.
pub(crate) fn adopted_page(
    connection: &Connection,
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    after: i64,
    page_size: u32,
    audience: Audience,
) -> Result<(Vec<v1::AdoptedSuggestion>, Option<i64>), WorkflowError> {
    // A suggestion is adopted after it was received: nothing received at or after `to`
    // can count.
    let received_before = to.map_or(i64::MAX, |to| to.timestamp_millis() + 1);
    let mut statement = connection
        .prepare_cached(
            "SELECT seq, state_json FROM tickets WHERE kind = 'suggestion' AND seq > ?1 \
             AND created_at_ms < ?2 AND seq NOT IN (SELECT seq FROM retention_expired) \
             ORDER BY seq",
        )
        .map_err(WorkflowError::sqlite("prepare the adopted suggestions"))?;
    let mut rows = statement
        .query(rusqlite::params![after, received_before])
        .map_err(WorkflowError::sqlite("read the adopted suggestions"))?;
    let limit = usize::try_from(page_size).unwrap_or(usize::MAX);
    let mut page = Vec::new();
    let mut last_seq = after;
    while let Some(row) = rows
        .next()
        .map_err(WorkflowError::sqlite("read the adopted suggestions"))?
    {
        let seq: i64 = row
            .get(0)
            .map_err(WorkflowError::sqlite("read the adopted suggestions"))?;
        let json: String = row
            .get(1)
            .map_err(WorkflowError::sqlite("read the adopted suggestions"))?;
        let ticket: Ticket = serde_json::from_str(&json)
            .map_err(|error| WorkflowError::Corrupt(format!("stored ticket: {error}")))?;
        let Some(adoption) = Adoption::of(&ticket) else {
            continue;
        };
        if audience == Audience::Public && !reports::public::consented(&ticket) {
            continue;
        }
        let at = adoption.at;
        if from.is_some_and(|from| at < from) || to.is_some_and(|to| at >= to) {
            continue;
        }
        if page.len() == limit {
            // One more exists: the page is full and continues after its last ticket.
            return Ok((page, Some(last_seq)));
        }
        page.push(proto_conv::public_suggestion(&PublicSuggestion::of(
            &ticket, &adoption,
        )));
        last_seq = seq;
    }
    Ok((page, None))
}
