//! The rule audit (`cloop audit rules --month YYYY-MM`): tickets whose handling broke the
//! rules, each finding with the events that show it.
//!
//! The rules checked, per ticket, from its events alone (times are the instants the events
//! say things happened, the `at` of each event):
//!
//! - **classified late**: the first classification came more than the classify limit
//!   (default 1 hour, `domain.md`) after receipt, or has not come by the audit instant.
//! - **response late**: in a round, the department's first response (`acknowledged`) came
//!   after the response deadline in force at that moment, or has not come by the audit
//!   instant though the deadline has passed.
//! - **resolution late**: likewise for the resolution (a solution that needs no approval,
//!   or the head's approval of one that does) and the resolution deadline.
//! - **archived without a review**: the ticket was archived with no customer rating in the
//!   round it was archived in.
//! - **solution without approval**: a solution the policy says needs the head's approval
//!   was recorded as not needing it, or the ticket went on to review or archive while its
//!   solution still waited for approval.
//!
//! A paused SLA clock moves the deadlines (the `sla_resumed` event records the new ones), and
//! so does a change of the customer's VIP flag (`sla_recomputed`);
//! a ticket paused at the audit instant has its open deadlines moved by the pause so far.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, TimeZone, Utc};
use domain::rules::sla::format_duration;
use domain::rules::Rules;
use domain::ticket::Approval;
use domain::types::{Classification, Deadline, Policy};
use domain::{Event, Ticket};
use serde::{Deserialize, Serialize};

use crate::decode::{decode_row, is_ticket_stream, TicketEvent};
use crate::error::AuditError;
use crate::source::{for_each_row, RowSource};

/// The rules an audit checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Classified later than the classify limit after receipt.
    ClassifiedLate,
    /// First response after the response deadline.
    ResponseLate,
    /// Resolution after the resolution deadline.
    ResolutionLate,
    /// Archived without the customer's rating.
    ArchivedWithoutReview,
    /// A solution that needed the head's approval went ahead without it.
    SolutionWithoutApproval,
}

impl Rule {
    /// Every rule, in the order findings are listed.
    pub const ALL: &'static [Rule] = &[
        Rule::ClassifiedLate,
        Rule::ResponseLate,
        Rule::ResolutionLate,
        Rule::ArchivedWithoutReview,
        Rule::SolutionWithoutApproval,
    ];

    /// The stable snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::ClassifiedLate => "classified_late",
            Rule::ResponseLate => "response_late",
            Rule::ResolutionLate => "resolution_late",
            Rule::ArchivedWithoutReview => "archived_without_review",
            Rule::SolutionWithoutApproval => "solution_without_approval",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One event cited as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Global position of the row.
    pub position: u64,
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// When the event says it happened.
    pub at: DateTime<Utc>,
}

impl Evidence {
    fn of(event: &TicketEvent) -> Evidence {
        Evidence {
            position: event.position,
            event_id: event.event_id.hyphenated().to_string(),
            event_type: event.event.event_type().to_string(),
            at: event.event.at(),
        }
    }
}

/// One broken rule of one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The ticket.
    pub ticket_id: String,
    /// The rule it broke.
    pub rule: Rule,
    /// The round of handling (1, then 2 after a reopen).
    pub round: u32,
    /// When the thing was due, where the rule has a deadline.
    pub due: Option<DateTime<Utc>>,
    /// When it happened; `None` when it had not happened by the audit instant.
    pub happened_at: Option<DateTime<Utc>>,
    /// A sentence for people.
    pub detail: String,
    /// The events that show it, in log order.
    pub evidence: Vec<Evidence>,
}

/// Settings of a rule audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleOptions {
    /// How soon after receipt a ticket must be classified. Default 1 hour (`domain.md`).
    pub classify_within: TimeDelta,
    /// The instant the audit looks from: deadlines passed by then with nothing done count
    /// as missed.
    pub as_of: DateTime<Utc>,
}

impl RuleOptions {
    /// The defaults, looking from `as_of`.
    pub fn new(as_of: DateTime<Utc>) -> RuleOptions {
        RuleOptions {
            classify_within: TimeDelta::hours(1),
            as_of,
        }
    }
}

/// The classification a ticket has, as the policy's questions take it.
fn classification_of(ticket: &Ticket) -> Option<Classification> {
    Some(Classification {
        kind: ticket.kind?,
        content_type: ticket.content_type?,
        priority: ticket.priority?,
        scope: ticket.scope?,
        keywords: ticket.keywords.clone(),
        confidence: ticket.confidence.unwrap_or(1.0),
        confident: true,
        complex: ticket.complex,
        terms: ticket.terms.clone(),
    })
}

/// Collects evidence without repeats, in log order.
fn evidence(events: &[Option<&TicketEvent>]) -> Vec<Evidence> {
    let mut cited: Vec<Evidence> = Vec::new();
    for event in events.iter().flatten() {
        if !cited.iter().any(|known| known.position == event.position) {
            cited.push(Evidence::of(event));
        }
    }
    cited.sort_by_key(|known| known.position);
    cited
}

/// What the check remembers while it folds a ticket's events.
#[derive(Default)]
struct Watch<'a> {
    received: Option<&'a TicketEvent>,
    first_classified: Option<&'a TicketEvent>,
    last_classified: Option<&'a TicketEvent>,
    /// The last event that set the deadlines in force.
    deadline_source: Option<&'a TicketEvent>,
    /// The breach marks of the current round.
    respond_breach: Option<&'a TicketEvent>,
    resolve_breach: Option<&'a TicketEvent>,
    /// The proposal waiting for approval, if any.
    pending_proposal: Option<&'a TicketEvent>,
    last_reopened: Option<&'a TicketEvent>,
}

/// Checks one ticket's events (one stream, in order) against the rules. `policy` answers
/// which solutions need approval; `options` sets the classify limit and the audit instant.
pub fn rules_check(
    events: &[TicketEvent],
    policy: &dyn Policy,
    options: &RuleOptions,
) -> Vec<Violation> {
    let mut check = StreamCheck {
        policy,
        options,
        state: Ticket::default(),
        watch: Watch::default(),
        violations: Vec::new(),
    };
    for current in events {
        check.event(current);
        check.state = domain::apply(std::mem::take(&mut check.state), &current.event);
    }
    let mut violations = check.violations;
    violations.extend(open_violations(&check.state, &check.watch, options));
    violations
}

/// [`rules_check`] between events: the ticket as folded so far and the events to cite.
struct StreamCheck<'a, 'p> {
    policy: &'p dyn Policy,
    options: &'p RuleOptions,
    state: Ticket,
    watch: Watch<'a>,
    violations: Vec<Violation>,
}

impl<'a> StreamCheck<'a, '_> {
    /// Records a violation of the ticket as it was before the current event.
    fn found(
        &mut self,
        rule: Rule,
        due: Option<DateTime<Utc>>,
        happened_at: Option<DateTime<Utc>>,
        detail: String,
        cited: &[Option<&TicketEvent>],
    ) {
        self.violations.push(Violation {
            ticket_id: self.state.id_text(),
            rule,
            round: self.state.round,
            due,
            happened_at,
            detail,
            evidence: evidence(cited),
        });
    }

    /// Checks one event against the state before it and notes what later checks cite.
    fn event(&mut self, current: &'a TicketEvent) {
        let watch = &mut self.watch;
        match &current.event {
            Event::Received(_) => {
                watch.received = Some(current);
                watch.deadline_source = Some(current);
            }
            Event::Classified(classified) => self.classified(current, classified.at),
            Event::Acknowledged(acknowledged) if self.state.responded_at.is_none() => {
                self.acknowledged(current, acknowledged.at);
            }
            Event::SolutionProposed(proposed) => self.proposed(current, proposed),
            Event::SolutionApproved(approved) => self.approved(current, approved.at),
            Event::SolutionRejected(_) => watch.pending_proposal = None,
            Event::Dispatched(dispatched) if dispatched.solution_withdrawn => {
                watch.pending_proposal = None;
            }
            Event::ReviewRecorded(_) | Event::Archived(_)
                if self.state.approval == Approval::Pending =>
            {
                self.found(
                    Rule::SolutionWithoutApproval,
                    None,
                    Some(current.event.at()),
                    format!(
                        "the ticket went on to {} while its solution still waited for the head's approval",
                        current.event.event_type()
                    ),
                    &[self.watch.pending_proposal, Some(current)],
                );
                self.watch.pending_proposal = None;
            }
            Event::Reopened(_) => {
                watch.deadline_source = Some(current);
                watch.respond_breach = None;
                watch.resolve_breach = None;
                watch.pending_proposal = None;
                watch.last_reopened = Some(current);
            }
            Event::SlaResumed(_) | Event::SlaRecomputed(_) => {
                watch.deadline_source = Some(current);
            }
            Event::SlaBreached(mark) => match mark.deadline {
                Deadline::Respond => watch.respond_breach = Some(current),
                Deadline::Resolve => watch.resolve_breach = Some(current),
            },
            _ => {}
        }
        if let Event::Archived(archived) = &current.event {
            self.archived(current, archived.at);
        }
    }

    /// The first classification must come within the classify limit of receipt.
    fn classified(&mut self, current: &'a TicketEvent, at: DateTime<Utc>) {
        if self.watch.first_classified.is_none() {
            self.watch.first_classified = Some(current);
            if let Some(received_at) = self.state.received_at {
                let limit = received_at + self.options.classify_within;
                if at > limit {
                    self.found(
                        Rule::ClassifiedLate,
                        Some(limit),
                        Some(at),
                        format!(
                            "classified {} after receipt; the limit is {}",
                            format_duration(at - received_at),
                            format_duration(self.options.classify_within)
                        ),
                        &[self.watch.received, Some(current)],
                    );
                }
            }
        }
        self.watch.last_classified = Some(current);
        self.watch.deadline_source = Some(current);
    }

    /// A round's first response must come by the response deadline.
    fn acknowledged(&mut self, current: &'a TicketEvent, at: DateTime<Utc>) {
        if let Some(due) = self.state.respond_by.filter(|due| at > *due) {
            self.found(
                Rule::ResponseLate,
                Some(due),
                Some(at),
                format!(
                    "first response of round {} came {} after the response deadline",
                    self.state.round,
                    format_duration(at - due)
                ),
                &[
                    self.watch.deadline_source,
                    self.watch.respond_breach,
                    Some(current),
                ],
            );
        }
    }

    /// A solution needing approval must say so; one that does not resolves the round, by
    /// the resolution deadline.
    fn proposed(&mut self, current: &'a TicketEvent, proposed: &domain::event::SolutionProposed) {
        let required = classification_of(&self.state).is_some_and(|classification| {
            self.policy
                .requires_approval(&classification, proposed.outcome)
        });
        if proposed.approval_required {
            self.watch.pending_proposal = Some(current);
            return;
        }
        if required {
            self.found(
                Rule::SolutionWithoutApproval,
                None,
                Some(proposed.at),
                format!(
                    "solution with outcome {} for a {} ticket needs the head's approval under policy {}, but was recorded as not needing it (policy {})",
                    proposed.outcome,
                    self.state
                        .priority
                        .map_or("unclassified".to_string(), |priority| format!("{priority} priority")),
                    self.policy.version(),
                    proposed.policy_version
                ),
                &[self.watch.last_classified, Some(current)],
            );
        }
        if let Some(due) = self.state.resolve_by.filter(|due| proposed.at > *due) {
            self.found(
                Rule::ResolutionLate,
                Some(due),
                Some(proposed.at),
                format!(
                    "round {} was resolved {} after the resolution deadline",
                    self.state.round,
                    format_duration(proposed.at - due)
                ),
                &[
                    self.watch.deadline_source,
                    self.watch.resolve_breach,
                    Some(current),
                ],
            );
        }
    }

    /// An approval resolves the round: by the resolution deadline.
    fn approved(&mut self, current: &'a TicketEvent, at: DateTime<Utc>) {
        if let Some(due) = self.state.resolve_by.filter(|due| at > *due) {
            self.found(
                Rule::ResolutionLate,
                Some(due),
                Some(at),
                format!(
                    "round {} was resolved (solution approved) {} after the resolution deadline",
                    self.state.round,
                    format_duration(at - due)
                ),
                &[
                    self.watch.deadline_source,
                    self.watch.resolve_breach,
                    self.watch.pending_proposal,
                    Some(current),
                ],
            );
        }
        self.watch.pending_proposal = None;
    }

    /// A ticket is archived only with the customer's rating.
    fn archived(&mut self, current: &'a TicketEvent, at: DateTime<Utc>) {
        if self.state.satisfaction.is_none() {
            self.found(
                Rule::ArchivedWithoutReview,
                None,
                Some(at),
                format!(
                    "archived in round {} without the customer's rating",
                    self.state.round
                ),
                &[self.watch.last_reopened, Some(current)],
            );
        }
    }
}

/// What had not happened by the audit instant though it was due.
fn open_violations(state: &Ticket, watch: &Watch<'_>, options: &RuleOptions) -> Vec<Violation> {
    let mut violations = Vec::new();
    if !state.exists() || state.is_archived() {
        return violations;
    }
    let as_of = options.as_of;
    // A clock paused at the audit instant will move the deadlines by the pause so far.
    let paused_so_far = state.paused_since.map_or(TimeDelta::zero(), |since| {
        (as_of - since).max(TimeDelta::zero())
    });
    let violation = |rule, due, detail, cited: &[Option<&TicketEvent>]| Violation {
        ticket_id: state.id_text(),
        rule,
        round: state.round,
        due: Some(due),
        happened_at: None,
        detail,
        evidence: evidence(cited),
    };
    if watch.first_classified.is_none() {
        if let Some(received_at) = state.received_at {
            let limit = received_at + options.classify_within;
            if as_of > limit {
                violations.push(violation(
                    Rule::ClassifiedLate,
                    limit,
                    format!(
                        "not classified {} after receipt; the limit is {}",
                        format_duration(as_of - received_at),
                        format_duration(options.classify_within)
                    ),
                    &[watch.received],
                ));
            }
        }
    }
    // The round's deadlines with nothing done by the audit instant: what was due, when, the
    // breach mark that cites it, and the sentence (from the round and how late).
    let deadlines = [
        RoundDeadline {
            rule: Rule::ResponseLate,
            done_at: state.responded_at,
            due: state.respond_by,
            breach: watch.respond_breach,
            detail: |round, late| {
                format!("no first response in round {round}, {late} past the response deadline")
            },
        },
        RoundDeadline {
            rule: Rule::ResolutionLate,
            done_at: state.resolved_at,
            due: state.resolve_by,
            breach: watch.resolve_breach,
            detail: |round, late| {
                format!("round {round} not resolved, {late} past the resolution deadline")
            },
        },
    ];
    for deadline in deadlines {
        let Some(due) = deadline.due.map(|due| due + paused_so_far) else {
            continue;
        };
        if deadline.done_at.is_none() && as_of > due {
            violations.push(violation(
                deadline.rule,
                due,
                (deadline.detail)(state.round, format_duration(as_of - due)),
                &[watch.deadline_source, deadline.breach],
            ));
        }
    }
    violations
}

/// A deadline of a round, as the audit of open tickets checks it.
struct RoundDeadline<'a> {
    rule: Rule,
    /// When it was met, if it was.
    done_at: Option<DateTime<Utc>>,
    due: Option<DateTime<Utc>>,
    /// The breach mark that cites it.
    breach: Option<&'a TicketEvent>,
    /// The sentence of a miss, from the round and how late.
    detail: fn(u32, String) -> String,
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Result<Month, AuditError> {
        let invalid = || AuditError::invalid("month", format!("{text:?} is not YYYY-MM"));
        let (year, month) = text.trim().split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        if !(1..=12).contains(&month) {
            return Err(invalid());
        }
        Ok(Month { year, month })
    }

    /// The first instant of the month and the first instant after it, in the business's
    /// UTC offset.
    pub fn bounds(
        &self,
        offset: FixedOffset,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), AuditError> {
        let (next_year, next_month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        let start_of = |year: i32, month: u32| {
            NaiveDate::from_ymd_opt(year, month, 1)
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .and_then(|local| offset.from_local_datetime(&local).single())
                .map(|instant| instant.with_timezone(&Utc))
                .ok_or_else(|| AuditError::invalid("month", format!("{self} is out of range")))
        };
        Ok((
            start_of(self.year, self.month)?,
            start_of(next_year, next_month)?,
        ))
    }

    /// Whether `instant` falls in the month in the business's offset.
    pub fn contains(&self, instant: DateTime<Utc>, offset: FixedOffset) -> bool {
        let local = instant.with_timezone(&offset);
        local.year() == self.year && local.month() == self.month
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:04}-{:02}", self.year, self.month)
    }
}

/// The result of auditing one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthAudit {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The month's bounds (tickets received in `[from, to)` are audited).
    pub from: DateTime<Utc>,
    /// See `from`.
    pub to: DateTime<Utc>,
    /// The audit instant.
    pub as_of: DateTime<Utc>,
    /// The classify limit used, in seconds.
    pub classify_within_seconds: i64,
    /// The configuration version the approval rule was checked with.
    pub policy_version: String,
    /// The last log position read.
    pub head_position: u64,
    /// Tickets received in the month.
    pub tickets_checked: u64,
    /// Tickets with at least one violation.
    pub tickets_with_violations: u64,
    /// Every violation, by ticket id, then rule.
    pub violations: Vec<Violation>,
}

/// Audits every ticket received in `month` (in the business calendar's offset) against the
/// rules, reading the whole log of `source` once. Personal data is not needed and not
/// opened.
pub fn audit_month(
    source: &dyn RowSource,
    rules: &Rules,
    month: Month,
    options: &RuleOptions,
) -> Result<MonthAudit, AuditError> {
    let offset = rules.calendar().offset();
    let (from, to) = month.bounds(offset)?;
    let mut tickets: HashMap<String, Vec<TicketEvent>> = HashMap::new();
    let mut head_position = 0;
    for_each_row(source, 1, |row| {
        head_position = row.position;
        if !is_ticket_stream(&row.stream_id) {
            return Ok(());
        }
        if row.stream_version == 1 {
            let event = decode_row(row, None)?;
            let received_in_month = match &event.event {
                Event::Received(received) => {
                    received.received_at >= from && received.received_at < to
                }
                _ => false,
            };
            if received_in_month {
                tickets.insert(row.stream_id.clone(), vec![event]);
            }
        } else if let Some(events) = tickets.get_mut(&row.stream_id) {
            events.push(decode_row(row, None)?);
        }
        Ok(())
    })?;
    let mut violations: Vec<Violation> = Vec::new();
    let mut tickets_with_violations = 0;
    for events in tickets.values() {
        let found = rules_check(events, rules, options);
        if !found.is_empty() {
            tickets_with_violations += 1;
        }
        violations.extend(found);
    }
    violations.sort_by(|left, right| {
        (&left.ticket_id, left.rule, left.round).cmp(&(&right.ticket_id, right.rule, right.round))
    });
    Ok(MonthAudit {
        month: month.to_string(),
        from,
        to,
        as_of: options.as_of,
        classify_within_seconds: options.classify_within.num_seconds(),
        policy_version: rules.version(),
        head_position,
        tickets_checked: tickets.len() as u64,
        tickets_with_violations,
        violations,
    })
}
