//! Each person's figures over a period: the tickets they handle, how fast they first
//! responded (in working time), how many they resolved and on time, what the customers
//! thought, how many came back and how many a transfer took away from them. One pass over the
//! ticket states, like the monthly report; the definitions are in `docs/reports.md`
//! ("People").

use crate::compute::{
    median, percentile_90, ratio, review_scores, OnTimeCounts, ScoreCounts, TicketFacts,
};
use crate::period::Period;
use chrono::{DateTime, Utc};
use domain::types::Policy;
use domain::{Rules, Ticket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One person's figures in one department over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonFigures {
    /// The person's principal name.
    pub person: String,
    /// The department the person handled these tickets in.
    pub department: String,
    /// Tickets of the period the person holds at the report's position.
    pub tickets_assigned: u64,
    /// First-round response deadlines decided (responded, or past due), and met.
    pub response_due: u64,
    pub responded: u64,
    pub responded_on_time: u64,
    /// `responded_on_time / response_due`.
    pub response_on_time_rate: f64,
    /// Median and 90th percentile (nearest rank) of the first response, in working time.
    pub median_first_response_working_ms: Option<i64>,
    pub p90_first_response_working_ms: Option<i64>,
    /// Tickets resolved (solution accepted in the current round, or archived).
    pub resolved: u64,
    /// `resolved / tickets_assigned`.
    pub resolution_rate: f64,
    /// Resolution deadlines decided (resolved, or past the first-round resolve-by), and met.
    pub resolution_due: u64,
    pub resolved_on_time: u64,
    /// `resolved_on_time / resolution_due`.
    pub resolution_on_time_rate: f64,
    /// Every round's review of the person's tickets.
    pub reviews: u64,
    pub satisfaction_mean: f64,
    pub satisfied: u64,
    pub share_satisfied: f64,
    /// The person's tickets reopened at least once.
    pub reopened: u64,
    /// Tickets of the period a transfer to another department took from the person.
    pub transfers_away: u64,
}

/// The people report: one row per person and department, in department then name order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeopleReport {
    pub period: Period,
    /// Only this department's people, when set.
    pub department: Option<String>,
    /// Only this person, when set.
    pub person: Option<String>,
    pub log_position: u64,
    pub config_version: String,
    pub calendar_version: String,
    pub as_of: DateTime<Utc>,
    pub satisfied_threshold: u8,
    /// The period's bounds: tickets received at or after `period_start` and before
    /// `period_end` count.
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub people: Vec<PersonFigures>,
}

impl PeopleReport {
    /// The report as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Who a people report is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleScope {
    /// Only tickets this department handles (and took away from its people), when set.
    pub department: Option<String>,
    /// Only this person's rows, when set.
    pub person: Option<String>,
}

/// One person's share of the fold.
#[derive(Debug, Default)]
struct PersonAccumulator {
    on_time: OnTimeCounts,
    scores: ScoreCounts,
    first_response_working_ms: Vec<i64>,
    reopened: u64,
    transfers_away: u64,
}

/// The streaming fold of a [`PeopleReport`]: [`PeopleBuilder::add`] each ticket, then
/// [`PeopleBuilder::finish`].
#[derive(Debug)]
pub struct PeopleBuilder<'a> {
    rules: &'a Rules,
    period: Period,
    scope: PeopleScope,
    log_position: u64,
    as_of: DateTime<Utc>,
    satisfied_threshold: u8,
    bounds: (DateTime<Utc>, DateTime<Utc>),
    people: BTreeMap<(String, String), PersonAccumulator>,
}

impl<'a> PeopleBuilder<'a> {
    /// A builder for `period`, restricted to `scope`.
    pub fn new(
        rules: &'a Rules,
        period: Period,
        scope: PeopleScope,
        log_position: u64,
        as_of: DateTime<Utc>,
    ) -> Self {
        let offset = rules.calendar().offset();
        let trimmed = |text: Option<String>| {
            text.map(|text| text.trim().to_owned())
                .filter(|text| !text.is_empty())
        };
        Self {
            rules,
            period,
            scope: PeopleScope {
                department: trimmed(scope.department),
                person: trimmed(scope.person),
            },
            log_position,
            as_of,
            satisfied_threshold: rules.config().review.satisfied_threshold,
            bounds: (period.start(offset), period.end(offset)),
            people: BTreeMap::new(),
        }
    }

    /// The instants tickets must be received in to count.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        self.bounds
    }

    fn in_scope(&self, person: &str, department: &str) -> bool {
        self.scope
            .department
            .as_deref()
            .is_none_or(|wanted| wanted == department)
            && self
                .scope
                .person
                .as_deref()
                .is_none_or(|wanted| wanted == person)
    }

    fn entry(&mut self, person: &str, department: &str) -> &mut PersonAccumulator {
        self.people
            .entry((department.to_owned(), person.to_owned()))
            .or_default()
    }

    /// Folds one ticket in: it counts for its assignee, and as a transfer away for everybody
    /// a transfer took it from. Tickets received outside the period change nothing.
    pub fn add(&mut self, ticket: &Ticket) {
        let Some(received_at) = ticket.received_at.or(ticket.created_at) else {
            return;
        };
        if !ticket.exists() || received_at < self.bounds.0 || received_at >= self.bounds.1 {
            return;
        }
        for away in &ticket.transferred_away {
            let department = away.department.as_deref().unwrap_or("");
            if self.in_scope(&away.person, department) {
                self.entry(&away.person, department).transfers_away += 1;
            }
        }
        let (Some(person), Some(department)) =
            (ticket.assignee.as_deref(), ticket.department.as_deref())
        else {
            return;
        };
        if !self.in_scope(person, department) {
            return;
        }
        let facts = TicketFacts::of(ticket, received_at, self.as_of);
        let first_response_at = ticket
            .previous_rounds
            .first()
            .map_or(ticket.responded_at, |round| round.responded_at);
        let working = first_response_at.map(|responded_at| {
            self.rules
                .calendar()
                .working_time_between(received_at, responded_at)
                .num_milliseconds()
                .max(0)
        });
        let entry = self.entry(person, department);
        entry.on_time.add(&facts);
        for score in review_scores(ticket) {
            entry.scores.add(score);
        }
        entry.first_response_working_ms.extend(working);
        entry.reopened += u64::from(facts.reopened);
    }

    /// The report.
    pub fn finish(self) -> PeopleReport {
        let threshold = self.satisfied_threshold;
        let people = self
            .people
            .into_iter()
            .map(|((department, person), accumulator)| {
                accumulator.figures(person, department, threshold)
            })
            .collect();
        PeopleReport {
            period: self.period,
            department: self.scope.department,
            person: self.scope.person,
            log_position: self.log_position,
            config_version: self.rules.version(),
            calendar_version: self.rules.calendar().version().to_owned(),
            as_of: self.as_of,
            satisfied_threshold: threshold,
            period_start: self.bounds.0,
            period_end: self.bounds.1,
            people,
        }
    }
}

impl PersonAccumulator {
    fn figures(mut self, person: String, department: String, threshold: u8) -> PersonFigures {
        self.first_response_working_ms.sort_unstable();
        let counts = self.on_time;
        let scores = self.scores.summary(threshold);
        PersonFigures {
            person,
            department,
            tickets_assigned: counts.received,
            response_due: counts.response_due,
            responded: counts.responded,
            responded_on_time: counts.responded_on_time,
            response_on_time_rate: ratio(counts.responded_on_time, counts.response_due),
            median_first_response_working_ms: median(&self.first_response_working_ms),
            p90_first_response_working_ms: percentile_90(&self.first_response_working_ms),
            resolved: counts.resolved,
            resolution_rate: ratio(counts.resolved, counts.received),
            resolution_due: counts.resolution_due,
            resolved_on_time: counts.resolved_on_time,
            resolution_on_time_rate: ratio(counts.resolved_on_time, counts.resolution_due),
            reviews: scores.reviews,
            satisfaction_mean: scores.mean,
            satisfied: scores.satisfied,
            share_satisfied: scores.share_satisfied,
            reopened: self.reopened,
            transfers_away: self.transfers_away,
        }
    }
}
