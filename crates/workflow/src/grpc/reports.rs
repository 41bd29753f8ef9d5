//! The `feedback.v1.Reports` gRPC service: the monthly report (from the projections as they
//! are, or from the log folded up to a chosen position) and the public list of adopted
//! suggestions with the customers anonymised. Managers and admins only.
//!
//! The current report and the report at a position come from the same fold of the same
//! ticket states: the projections hold exactly the fold of the log up to their position, and
//! both are judged at the recorded time of the row at that position, so asking for
//! `at_position` equal to a served report's `log_position` gives the same report, byte for
//! byte.

use super::convert::{instant_from, timestamp};
use super::tickets::{actor_of, check_role};
use crate::commands::failure_from_read;
use crate::error::WorkflowError;
use crate::projections;
use crate::queries::Readers;
use crate::record;
use chrono::{DateTime, Utc};
use domain::authorize::Action;
use domain::ticket::Ticket;
use domain::types::Outcome;
use domain::{DomainError, Rules};
use eventlog::EventLog;
use proto::v1;
use reports::{LogFold, MonthlyReport, ReportBuilder, ReportOptions, YearMonth};
use rusqlite::{Connection, TransactionBehavior};
use service::{status_from, Failure};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Log rows read per batch when a report is folded from the log.
const FOLD_BATCH: usize = 10_000;
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
        let department = request
            .department
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
        let report = match request.at_position {
            Some(position) => self.report_at(month, department, position).await?,
            None => self.report_now(month, department).await?,
        };
        Ok(Response::new(reports::proto_conv::monthly_report_response(
            &report,
        )))
    }

    async fn adopted_suggestions(
        &self,
        request: Request<v1::AdoptedSuggestionsRequest>,
    ) -> Result<Response<v1::AdoptedSuggestionsResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::AdoptedSuggestions)?;
        let request = request.into_inner();
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
        let after = if request.page_token.is_empty() {
            0
        } else {
            request
                .page_token
                .parse::<i64>()
                .ok()
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| {
                    status_from(DomainError::invalid(
                        "page_token",
                        "is not a token this service gave out",
                    ))
                })?
        };
        let page_size = match request.page_size {
            0 => DEFAULT_ADOPTED_PAGE,
            size => size.min(MAX_ADOPTED_PAGE),
        };
        let (suggestions, next) = self
            .readers
            .with(move |connection| adopted_page(connection, from, to, after, page_size))
            .await
            .map_err(|error| status_from(failure_from_read(error)))?;
        Ok(Response::new(v1::AdoptedSuggestionsResponse {
            suggestions,
            next_page_token: next.map(|seq| seq.to_string()).unwrap_or_default(),
        }))
    }
}

impl ReportsService {
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
    // One read transaction: the tickets and the position are one snapshot.
    let transaction =
        rusqlite::Transaction::new_unchecked(connection, TransactionBehavior::Deferred)
            .map_err(WorkflowError::sqlite("begin the report's read"))?;
    let position = projections::projected_position(&transaction)
        .map_err(WorkflowError::sqlite("read the projected position"))?;
    let as_of = recorded_at(log, position)?;
    let mut builder = ReportBuilder::new(
        rules,
        month,
        department,
        position,
        as_of,
        ReportOptions::default(),
    );
    let offset = rules.calendar().offset();
    let from = month.previous().start(offset).timestamp_millis();
    // `created_at_ms` is the receipt time rounded down to the millisecond; the builder
    // checks the exact instant.
    let to = month.end(offset).timestamp_millis() + 1;
    let mut statement = transaction
        .prepare("SELECT state_json FROM tickets WHERE created_at_ms >= ?1 AND created_at_ms < ?2")
        .map_err(WorkflowError::sqlite("prepare the report's ticket read"))?;
    let mut rows = statement
        .query([from, to])
        .map_err(WorkflowError::sqlite("read tickets for the report"))?;
    fold_rows(&mut rows, &mut builder)?;
    Ok(builder.finish())
}

/// Stored ticket states handed to a parser thread at a time.
const PARSE_BATCH: usize = 1_000;

/// Folds the `state_json` of every row into `builder`. Reading SQLite, parsing the JSON and
/// folding overlap: this thread reads, parser threads (one per core, at most 4) turn batches
/// of rows into tickets, and one thread folds them. The report does not depend on the order
/// the tickets come in, so the parsers need not keep it.
fn fold_rows(
    rows: &mut rusqlite::Rows<'_>,
    builder: &mut ReportBuilder<'_>,
) -> Result<(), WorkflowError> {
    let parsers = std::thread::available_parallelism().map_or(1, |count| count.get().min(4));
    let corrupt =
        |error: serde_json::Error| WorkflowError::Corrupt(format!("stored ticket: {error}"));
    std::thread::scope(|scope| {
        let (batches, batch_inbox) = std::sync::mpsc::sync_channel::<Vec<String>>(2 * parsers);
        // Shared by the parsers only: when they have all stopped, sending fails.
        let batch_inbox = Arc::new(std::sync::Mutex::new(batch_inbox));
        let (parsed, parsed_inbox) =
            std::sync::mpsc::sync_channel::<Result<Vec<Ticket>, WorkflowError>>(2 * parsers);
        for _ in 0..parsers {
            let parsed = parsed.clone();
            let batch_inbox = Arc::clone(&batch_inbox);
            scope.spawn(move || loop {
                let next = batch_inbox
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .recv();
                let Ok(batch) = next else { break };
                let tickets = batch
                    .iter()
                    .map(|json| serde_json::from_str::<Ticket>(json).map_err(corrupt))
                    .collect();
                if parsed.send(tickets).is_err() {
                    break;
                }
            });
        }
        drop(parsed);
        drop(batch_inbox);
        let folder = scope.spawn(move || {
            let mut failure = None;
            for tickets in parsed_inbox {
                match tickets {
                    Ok(tickets) => tickets.iter().for_each(|ticket| builder.add(ticket)),
                    Err(error) => {
                        failure.get_or_insert(error);
                    }
                }
            }
            failure
        });
        let mut failure = None;
        let mut batch = Vec::with_capacity(PARSE_BATCH);
        loop {
            let json = match rows.next() {
                Ok(Some(row)) => row.get::<_, String>(0),
                Ok(None) => break,
                Err(error) => Err(error),
            };
            match json {
                Ok(json) => batch.push(json),
                Err(error) => {
                    failure = Some(WorkflowError::sqlite("read tickets for the report")(error));
                    break;
                }
            }
            if batch.len() == PARSE_BATCH
                && batches
                    .send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(PARSE_BATCH),
                    ))
                    .is_err()
            {
                break;
            }
        }
        if !batch.is_empty() {
            let _ = batches.send(batch);
        }
        drop(batches);
        let folded = folder
            .join()
            .unwrap_or_else(|_| Some(WorkflowError::Corrupt("the report's fold failed".into())));
        match failure.or(folded) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    })
}

/// The recorded time of the row at `position`: the instant a report at that position is
/// judged at. The Unix epoch for an empty log.
fn recorded_at(log: &EventLog, position: u64) -> Result<DateTime<Utc>, WorkflowError> {
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
    let mut next = 1;
    'read: while next <= position {
        let rows = log
            .read_all_blocking(next, FOLD_BATCH)
            .map_err(crate::commands::failure_from_log)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            if row.position > position {
                break 'read;
            }
            next = row.position + 1;
            if fold.wants(&row.stream_id) {
                let event = record::decode_opened(&row, vault).map_err(Failure::Internal)?;
                fold.add(&row.stream_id, row.position, row.recorded_at, Some(&event));
            } else {
                fold.add(&row.stream_id, row.position, row.recorded_at, None);
            }
        }
    }
    fold.report(rules, month, department, ReportOptions::default())
        .ok_or_else(|| Failure::Internal("no log row was read for the report".to_owned()))
}

/// The customer's name for the public list: the first character, then one star for each
/// other character ("张三" → "张*", "John" → "J***"); "***" without a name.
pub fn masked_name(name: Option<&str>) -> String {
    let mut characters = name.map(str::trim).unwrap_or_default().chars();
    match characters.next() {
        Some(first) => {
            let rest = characters.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => "***".to_owned(),
    }
}

/// A text for public display: e-mail addresses and runs of seven or more digits (phone,
/// account or order numbers, possibly with spaces or dashes inside) become "***".
pub fn without_contact_data(text: &str) -> String {
    mask_digit_runs(&mask_emails(text))
}

/// Replaces every `local@domain.tld` with "***".
fn mask_emails(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let local = |character: char| character.is_ascii_alphanumeric() || "._%+-".contains(character);
    let domain = |character: char| character.is_ascii_alphanumeric() || ".-".contains(character);
    let mut output = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, character) in characters.iter().enumerate() {
        if *character != '@' || at < copied {
            continue;
        }
        let mut start = at;
        while start > copied && local(characters[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < characters.len() && domain(characters[end]) {
            end += 1;
        }
        let domain_part: String = characters[at + 1..end].iter().collect();
        let domain_part = domain_part.trim_end_matches(['.', '-']);
        if start == at || !domain_part.contains('.') {
            continue;
        }
        let end = at + 1 + domain_part.chars().count();
        output.extend(&characters[copied..start]);
        output.push_str("***");
        copied = end;
    }
    output.extend(&characters[copied..]);
    output
}

/// Replaces every run of at least seven digits (spaces, dashes, dots and a leading plus
/// allowed inside) with "***".
fn mask_digit_runs(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let mut output = String::with_capacity(text.len());
    let mut index = 0;
    while index < characters.len() {
        let starts_number = characters[index].is_ascii_digit()
            || (characters[index] == '+'
                && characters.get(index + 1).is_some_and(char::is_ascii_digit));
        if !starts_number {
            output.push(characters[index]);
            index += 1;
            continue;
        }
        let mut end = index;
        let mut digits = 0;
        let mut last_digit = index;
        while end < characters.len() {
            let character = characters[end];
            if character.is_ascii_digit() {
                digits += 1;
                last_digit = end;
            } else if !(matches!(character, ' ' | '-' | '.') || (character == '+' && end == index))
            {
                break;
            }
            end += 1;
        }
        if digits >= 7 {
            output.push_str("***");
        } else {
            output.extend(&characters[index..=last_digit]);
        }
        index = last_digit + 1;
    }
    output
}

/// Whether a ticket is an adopted (or planned) suggestion whose solution is accepted, and
/// when it was adopted.
fn adopted_at(ticket: &Ticket) -> Option<(DateTime<Utc>, Outcome)> {
    match ticket.outcome {
        Some(outcome @ (Outcome::Adopted | Outcome::Planned)) => {
            ticket.resolved_at.map(|at| (at, outcome))
        }
        _ => None,
    }
}

/// One page of adopted suggestions adopted in `[from, to)`, in receipt order after `after`,
/// and the token of the next page.
fn adopted_page(
    connection: &Connection,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: i64,
    page_size: u32,
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
        let Some((at, outcome)) = adopted_at(&ticket) else {
            continue;
        };
        if from.is_some_and(|from| at < from) || to.is_some_and(|to| at >= to) {
            continue;
        }
        if page.len() == limit {
            // One more exists: the page is full and continues after its last ticket.
            return Ok((page, Some(last_seq)));
        }
        page.push(public_suggestion(&ticket, at, outcome));
        last_seq = seq;
    }
    Ok((page, None))
}

/// An adopted suggestion as the public list shows it: no contact data, the name masked.
fn public_suggestion(
    ticket: &Ticket,
    at: DateTime<Utc>,
    outcome: Outcome,
) -> v1::AdoptedSuggestion {
    let proposed_at = ticket
        .solution
        .as_ref()
        .map_or(at, |solution| solution.proposed_at);
    let customer_told = ticket.satisfaction.is_some()
        || ticket
            .notes
            .iter()
            .any(|note| note.to_customer && note.round == ticket.round && note.at >= proposed_at);
    v1::AdoptedSuggestion {
        ticket_id: ticket.id_text(),
        department: ticket.department.clone().unwrap_or_default(),
        content: without_contact_data(&ticket.content),
        product: ticket.product.clone().unwrap_or_default(),
        solution: ticket
            .solution
            .as_ref()
            .map(|solution| without_contact_data(&solution.text))
            .unwrap_or_default(),
        adopted_at: Some(timestamp(at)),
        customer_told,
        customer_display_name: masked_name(ticket.customer.name.as_deref()),
        outcome: v1::Outcome::from(outcome) as i32,
        reward_kind: ticket
            .reward
            .as_ref()
            .map(|reward| reward.kind.as_str().to_owned())
            .unwrap_or_default(),
        reward_amount: ticket.reward.as_ref().map_or(0, |reward| reward.amount),
        reward_valid_until: ticket
            .reward
            .as_ref()
            .map(|reward| timestamp(reward.valid_until)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_to_their_first_character() {
        assert_eq!(masked_name(Some("张三")), "张*");
        assert_eq!(masked_name(Some("John")), "J***");
        assert_eq!(masked_name(Some(" 欧阳娜娜 ")), "欧***");
        assert_eq!(masked_name(Some("李")), "李*");
        assert_eq!(masked_name(Some("  ")), "***");
        assert_eq!(masked_name(None), "***");
    }

    #[test]
    fn contact_data_leaves_public_text() {
        assert_eq!(
            without_contact_data("请联系我 13800138000 或 li.si@example.com 谢谢"),
            "请联系我 *** 或 *** 谢谢"
        );
        assert_eq!(
            without_contact_data("电话+86 138-0013-8000，建议增加夜间模式"),
            "电话***，建议增加夜间模式"
        );
        assert_eq!(
            without_contact_data("版本 2.3.1 的第 12 页"),
            "版本 2.3.1 的第 12 页",
            "short numbers stay"
        );
    }
}
