//! Ticket states folded from log rows up to one position: the input of a report "at a
//! position". `cloop report monthly --db FILE --at-position N` and the workflow's
//! `Reports.MonthlyReport` with `at_position` both feed the rows they read into a
//! [`LogFold`], so the two give the same report for the same rows and configuration.
//!
//! The fold stays pure: the caller reads the rows and decodes each ticket event (the
//! workflow opens sealed customer data with its key store, the offline CLI reads the rows as
//! stored); the fold only applies them, remembers the position and the recorded time of the
//! last row (the report's *as of*), and keeps only the tickets a report for the month needs.

use crate::compute::{monthly_report, ReportInput, ReportOptions};
use crate::model::MonthlyReport;
use crate::YearMonth;
use chrono::{DateTime, Utc};
use domain::{Event, Rules, Ticket};
use std::collections::{HashMap, HashSet};

/// The stream id prefix of ticket streams; rows of other streams (the configuration's) only
/// advance the position.
const TICKET_STREAM_PREFIX: &str = "ticket-";

/// What [`LogFold::fold_log`] needs to know of a log row besides its event.
#[derive(Debug, Clone, Copy)]
pub struct RowMeta<'r> {
    pub stream_id: &'r str,
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
}

/// Ticket states folded from the log's rows, in position order, up to the last row added.
#[derive(Debug, Clone)]
pub struct LogFold {
    /// Tickets received at or after `window.0` and before `window.1` are kept.
    window: (DateTime<Utc>, DateTime<Utc>),
    tickets: HashMap<String, Ticket>,
    /// Ticket streams received outside the window: their later rows are skipped undecoded.
    skipped: HashSet<String>,
    position: u64,
    as_of: Option<DateTime<Utc>>,
}

impl LogFold {
    /// A fold that keeps the tickets a report for `month` needs: those received in the month
    /// or in the month before (for the month-on-month figures), in the calendar's offset.
    pub fn for_month(rules: &Rules, month: YearMonth) -> Self {
        let offset = rules.calendar().offset();
        Self {
            window: (month.previous().start(offset), month.end(offset)),
            tickets: HashMap::new(),
            skipped: HashSet::new(),
            position: 0,
            as_of: None,
        }
    }

    /// A fold that keeps the tickets received at or after `window.0` and before `window.1`
    /// (the window of a [`crate::PeriodBuilder`] or the bounds of a [`crate::PeopleBuilder`]).
    pub fn for_window(window: (DateTime<Utc>, DateTime<Utc>)) -> Self {
        Self {
            window,
            tickets: HashMap::new(),
            skipped: HashSet::new(),
            position: 0,
            as_of: None,
        }
    }

    /// The tickets the fold keeps, in no particular order.
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    /// Whether the row of `stream_id` must be decoded and passed to [`LogFold::add`] with its
    /// event: false for streams that are not tickets and for tickets outside the window.
    pub fn wants(&self, stream_id: &str) -> bool {
        stream_id.starts_with(TICKET_STREAM_PREFIX) && !self.skipped.contains(stream_id)
    }

    /// Folds one row. Rows come in position order; `event` is the decoded event of a row
    /// [`LogFold::wants`], and `None` for every other row (which only advances the position
    /// and the instant).
    pub fn add(
        &mut self,
        stream_id: &str,
        position: u64,
        recorded_at: DateTime<Utc>,
        event: Option<&Event>,
    ) {
        self.position = position;
        self.as_of = Some(recorded_at);
        let Some(event) = event else {
            return;
        };
        if !self.wants(stream_id) {
            return;
        }
        let ticket = self.tickets.remove(stream_id).unwrap_or_default();
        let ticket = domain::apply(ticket, event);
        let received_at = ticket.received_at.or(ticket.created_at);
        let inside =
            received_at.is_some_and(|instant| self.window.0 <= instant && instant < self.window.1);
        if inside {
            self.tickets.insert(stream_id.to_owned(), ticket);
        } else if received_at.is_some() {
            // A ticket's receipt is its first event and never changes: nothing later can
            // bring it into the window.
            self.skipped.insert(stream_id.to_owned());
        }
    }

    /// Folds the log's rows from position 1 up to `until`: `read(next)` gives the rows from
    /// position `next` on (none at the end of the log), `meta` names a row's stream, position
    /// and recorded time, and `decode` reads the event of each row the fold
    /// [`wants`](LogFold::wants). The first error of `read` or `decode` stops the fold.
    pub fn fold_log<R, E>(
        &mut self,
        until: u64,
        mut read: impl FnMut(u64) -> Result<Vec<R>, E>,
        meta: impl Fn(&R) -> RowMeta<'_>,
        mut decode: impl FnMut(&R) -> Result<Event, E>,
    ) -> Result<(), E> {
        let mut next = 1;
        while next <= until {
            let rows = read(next)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let RowMeta {
                    stream_id,
                    position,
                    recorded_at,
                } = meta(row);
                if position > until {
                    return Ok(());
                }
                next = position + 1;
                if self.wants(stream_id) {
                    let event = decode(row)?;
                    self.add(stream_id, position, recorded_at, Some(&event));
                } else {
                    self.add(stream_id, position, recorded_at, None);
                }
            }
        }
        Ok(())
    }

    /// The position of the last row folded in (0 before any).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The recorded time of the last row folded in: the instant the report is judged at.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// How many tickets the fold keeps.
    pub fn ticket_count(&self) -> usize {
        self.tickets.len()
    }

    /// The monthly report at the fold's position, judged at the recorded time of its last
    /// row; `None` when no row was folded in. `month` must be the month the fold was made
    /// for.
    pub fn report(
        &self,
        rules: &Rules,
        month: YearMonth,
        department: Option<String>,
        options: ReportOptions,
    ) -> Option<MonthlyReport> {
        let as_of = self.as_of?;
        Some(monthly_report(ReportInput {
            tickets: self.tickets.values(),
            rules,
            month,
            department,
            log_position: self.position,
            as_of,
            options,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The `received` event of a ticket received at `at`, as the domain decides it.
    fn received(
        rules: &Rules,
        generator: &mut domain::TicketIdGenerator,
        at: DateTime<Utc>,
    ) -> Event {
        let submission = domain::Submission {
            feedback_id: domain::FeedbackId::new(at, [7; 10]),
            ticket_id: generator.next(at),
            channel: "web".to_owned(),
            external_id: None,
            customer: domain::Customer {
                phone: Some("+8613800138000".to_owned()),
                ..domain::Customer::default()
            },
            content: "APP卡顿".to_owned(),
            occurred_at: None,
            received_at: at,
            product: None,
            order_id: None,
            attributes: Default::default(),
            language: None,
        };
        let events = domain::decide(
            &Ticket::default(),
            &domain::Command::Receive(Box::new(submission)),
            at,
            rules,
        )
        .expect("a valid submission is received");
        events
            .into_iter()
            .next()
            .expect("at least the received event")
    }

    #[test]
    fn keeps_only_the_month_and_the_month_before_and_tracks_position_and_instant() {
        let rules = Rules::defaults();
        let month: YearMonth = "2026-11".parse().expect("month");
        let mut fold = LogFold::for_month(&rules, month);
        let november = Utc.with_ymd_and_hms(2026, 11, 10, 2, 0, 0).unwrap();
        let october = Utc.with_ymd_and_hms(2026, 10, 10, 2, 0, 0).unwrap();
        let august = Utc.with_ymd_and_hms(2026, 8, 10, 2, 0, 0).unwrap();
        let mut generator = domain::TicketIdGenerator::new(1);
        let streams = [
            ("ticket-a", received(&rules, &mut generator, november)),
            ("ticket-b", received(&rules, &mut generator, october)),
            ("ticket-c", received(&rules, &mut generator, august)),
        ];
        fold.add("config-workflow", 1, august, None);
        for (index, (stream, event)) in streams.iter().enumerate() {
            assert!(fold.wants(stream));
            fold.add(stream, index as u64 + 2, november, Some(event));
        }
        assert_eq!(fold.ticket_count(), 2, "august is outside the window");
        assert!(!fold.wants("ticket-c"), "an old ticket's rows are skipped");
        assert!(!fold.wants("config-workflow"));
        assert_eq!(fold.position(), 4);
        let report = fold
            .report(&rules, month, None, ReportOptions::default())
            .expect("rows were folded");
        assert_eq!(report.tickets, 1);
        assert_eq!(report.log_position, 4);
        assert_eq!(report.as_of, november);
        let previous = report
            .month_on_month
            .iter()
            .find(|change| change.name == "tickets")
            .expect("tickets headline");
        assert_eq!(previous.previous, 1.0);
    }

    #[test]
    fn an_empty_fold_has_no_report() {
        let rules = Rules::defaults();
        let month: YearMonth = "2026-11".parse().expect("month");
        let fold = LogFold::for_month(&rules, month);
        assert!(fold
            .report(&rules, month, None, ReportOptions::default())
            .is_none());
    }
}
