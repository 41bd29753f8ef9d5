//! Why a ticket's deadlines are what they are (`ExplainSla`): the SLA row and allowances its
//! classification takes, when its clock started, its pauses, and the reasons in words. A pure
//! function of the ticket, its events and the rules; the caller passes `now` (its clock), used
//! only for a ticket whose clock never started.

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::rules::config::{Allowance, Clock, TimeUnit};
use crate::rules::sla::{format_duration, RowUsed};
use crate::rules::Rules;
use crate::ticket::Ticket;
use crate::types::{Classification, Deadline, Policy};

/// A pause of the SLA clock: from when, until when (`None` while it is still paused), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPause {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    pub reason: String,
}

/// The explanation of a ticket's deadlines.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaExplanation {
    /// The classification the deadlines come from (the ticket's own, or the provisional one).
    pub classification: Classification,
    /// The row of the SLA table: the priority's name, `complaint_or_complex`, or `vip` when
    /// the VIP row set a deadline.
    pub sla_row: String,
    pub respond_within_ms: i64,
    pub resolve_within_ms: i64,
    pub respond_around_the_clock: bool,
    pub resolve_around_the_clock: bool,
    /// The working days of the resolve allowance (0 when it is not counted in working days).
    pub resolve_working_days: u32,
    /// When the clock of the current round started.
    pub clock_started_at: Option<DateTime<Utc>>,
    pub pauses: Vec<SlaPause>,
    pub policy_version: String,
    pub calendar_version: String,
    pub reasons: Vec<String>,
}

/// The length of an allowance in milliseconds (a working hour or day counts as an hour or
/// day).
pub fn allowance_duration_ms(allowance: &Allowance) -> i64 {
    let amount = i64::from(allowance.amount);
    match allowance.unit {
        TimeUnit::Seconds => amount * 1_000,
        TimeUnit::Minutes => amount * 60_000,
        TimeUnit::Hours | TimeUnit::WorkingHours => amount * 3_600_000,
        TimeUnit::Days | TimeUnit::WorkingDays => amount * 86_400_000,
    }
}

/// The classification the deadlines of a ticket come from: its own, or for a ticket not yet
/// classified the rules' provisional one (which gave the first deadlines).
pub fn classification_of(ticket: &Ticket, rules: &Rules) -> Classification {
    match (
        ticket.kind,
        ticket.content_type,
        ticket.priority,
        ticket.scope,
    ) {
        (Some(kind), Some(content_type), Some(priority), Some(scope)) => Classification {
            kind,
            content_type,
            priority,
            scope,
            keywords: ticket.keywords.clone(),
            confidence: ticket.confidence.unwrap_or(1.0),
            confident: true,
            complex: ticket.complex,
            terms: ticket.terms.clone(),
        },
        // The deadlines need the values only: no word segmentation for the terms.
        _ => rules
            .classifier()
            .classify_keywords(&ticket.content, ticket.product.as_deref()),
    }
}

/// What the ticket's events say about its clock: when the current round's clock started, the
/// pauses, and the reasons (reopenings, resumptions) in the order they happened.
fn clock_history(
    ticket: &Ticket,
    events: &[Event],
) -> (Option<DateTime<Utc>>, Vec<SlaPause>, Vec<String>) {
    let mut clock_started_at = ticket.received_at;
    let mut pauses: Vec<SlaPause> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for event in events {
        match event {
            Event::Reopened(reopened) => {
                clock_started_at = Some(reopened.at);
                reasons.push(format!(
                    "round {} started at {} after an unsatisfied review: the clock started again",
                    reopened.round, reopened.at
                ));
            }
            Event::SlaRecomputed(recomputed) => reasons.push(format!(
                "the deadlines still open were computed again at {} {} the vip row: {}",
                recomputed.at,
                if recomputed.vip { "with" } else { "without" },
                recomputed.reason
            )),
            Event::SlaPaused(paused) => pauses.push(SlaPause {
                from: paused.at,
                to: None,
                reason: paused.reason.clone(),
            }),
            Event::SlaResumed(resumed) => {
                if let Some(open) = pauses.iter_mut().rev().find(|pause| pause.to.is_none()) {
                    open.to = Some(resumed.at);
                }
                reasons.push(format!(
                    "paused for {} in total until {}: the deadlines moved by that time",
                    format_duration(chrono::TimeDelta::milliseconds(resumed.paused_ms)),
                    resumed.at
                ));
            }
            _ => {}
        }
    }
    (clock_started_at, pauses, reasons)
}

/// Why `ticket`'s deadlines are what they are, from its `events` (in log order) and `rules`;
/// `now` stands in for the start of a clock that never started.
pub fn explain(
    ticket: &Ticket,
    events: &[Event],
    rules: &Rules,
    now: DateTime<Utc>,
) -> SlaExplanation {
    let classification = classification_of(ticket, rules);
    let (clock_started_at, pauses, mut reasons) = clock_history(ticket, events);
    let start = clock_started_at.unwrap_or(now);
    let mut explanation = rules.explain_deadlines(start, &classification, ticket.vip);
    explanation.append(&mut reasons);
    for pause in &pauses {
        if pause.to.is_none() {
            explanation.push(format!(
                "the clock is paused now, waiting for the customer: {}",
                pause.reason
            ));
        }
    }
    let policy_version = ticket.deadlines_policy_version.clone().unwrap_or_default();
    let calendar_version = ticket
        .deadlines_calendar_version
        .clone()
        .unwrap_or_default();
    if !policy_version.is_empty() && policy_version != rules.version() {
        explanation.push(format!(
            "the ticket keeps the deadlines it was given under policy version {policy_version}; \
             the current configuration is version {} and applies only if a person reclassifies it",
            rules.version()
        ));
    }
    let [respond, resolve] =
        rules
            .sla()
            .details(rules.calendar(), start, &classification, ticket.vip);
    debug_assert_eq!(respond.which, Deadline::Respond);
    let row_set = |row: RowUsed| respond.row == row || resolve.row == row;
    let sla_row = if row_set(RowUsed::Vip) {
        "vip".to_owned()
    } else if row_set(RowUsed::Complaint) {
        "complaint_or_complex".to_owned()
    } else {
        classification.priority.as_str().to_owned()
    };
    let resolve_working_days = match resolve.allowance.unit {
        TimeUnit::WorkingDays => resolve.allowance.amount,
        TimeUnit::Days if resolve.allowance.effective_clock() == Clock::Working => {
            resolve.allowance.amount
        }
        _ => 0,
    };
    SlaExplanation {
        sla_row,
        respond_within_ms: allowance_duration_ms(&respond.allowance),
        resolve_within_ms: allowance_duration_ms(&resolve.allowance),
        respond_around_the_clock: respond.allowance.effective_clock() == Clock::AroundTheClock,
        resolve_around_the_clock: resolve.allowance.effective_clock() == Clock::AroundTheClock,
        resolve_working_days,
        clock_started_at,
        pauses,
        policy_version,
        calendar_version,
        reasons: explanation,
        classification,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Reopened, SlaPaused, SlaResumed};
    use crate::types::{ContentType, Deadlines, Kind, Priority, Scope};
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, hour, 0, 0)
            .single()
            .expect("a valid instant")
    }

    fn deadlines() -> Deadlines {
        Deadlines {
            respond_by: at(20),
            resolve_by: at(21),
            warn_respond_at: at(19),
            warn_resolve_at: at(20),
            policy_version: String::new(),
            calendar_version: String::new(),
        }
    }

    fn classified(priority: Priority, complex: bool) -> Ticket {
        Ticket {
            version: 1,
            received_at: Some(at(9)),
            kind: Some(Kind::Inquiry),
            content_type: Some(ContentType::Product),
            priority: Some(priority),
            scope: Some(Scope::Local),
            complex,
            ..Ticket::default()
        }
    }

    #[test]
    fn allowances_count_in_milliseconds() {
        let hours = Allowance::new(4, TimeUnit::WorkingHours, Clock::Working);
        assert_eq!(allowance_duration_ms(&hours), 4 * 3_600_000);
        let seconds = Allowance::new(3, TimeUnit::Seconds, Clock::AroundTheClock);
        assert_eq!(allowance_duration_ms(&seconds), 3_000);
        let days = Allowance::new(2, TimeUnit::WorkingDays, Clock::Working);
        assert_eq!(allowance_duration_ms(&days), 2 * 86_400_000);
    }

    #[test]
    fn the_row_is_the_priority_or_the_complaint_row() {
        let rules = Rules::defaults();
        let plain = explain(&classified(Priority::High, false), &[], &rules, at(12));
        assert_eq!(plain.sla_row, "high");
        assert_eq!(plain.clock_started_at, Some(at(9)));
        assert!(plain.pauses.is_empty());
        assert!(!plain.reasons.is_empty());
        // A complex case takes the complaint row where it is stricter than its priority's.
        let complex = explain(&classified(Priority::Low, true), &[], &rules, at(12));
        assert_eq!(complex.sla_row, "complaint_or_complex");
        assert!(complex.classification.complex);
    }

    #[test]
    fn reopening_restarts_the_clock_and_pauses_are_listed() {
        let rules = Rules::defaults();
        let events = [
            Event::SlaPaused(SlaPaused {
                reason: "waiting for the invoice".to_owned(),
                at: at(10),
            }),
            Event::SlaResumed(SlaResumed {
                paused_ms: 3_600_000,
                deadlines: deadlines(),
                at: at(11),
            }),
            Event::Reopened(Reopened {
                round: 2,
                deadlines: deadlines(),
                at: at(13),
            }),
            Event::SlaPaused(SlaPaused {
                reason: "waiting for photos".to_owned(),
                at: at(14),
            }),
        ];
        let explained = explain(
            &classified(Priority::Medium, false),
            &events,
            &rules,
            at(15),
        );
        assert_eq!(explained.clock_started_at, Some(at(13)));
        assert_eq!(
            explained.pauses,
            vec![
                SlaPause {
                    from: at(10),
                    to: Some(at(11)),
                    reason: "waiting for the invoice".to_owned(),
                },
                SlaPause {
                    from: at(14),
                    to: None,
                    reason: "waiting for photos".to_owned(),
                },
            ]
        );
        assert!(explained
            .reasons
            .iter()
            .any(|reason| reason.starts_with("round 2 started at")));
        assert!(explained
            .reasons
            .iter()
            .any(|reason| reason.starts_with("paused for ")));
        assert_eq!(
            explained.reasons.last().map(String::as_str),
            Some("the clock is paused now, waiting for the customer: waiting for photos")
        );
    }

    #[test]
    fn a_clock_that_never_started_starts_at_the_given_now() {
        let rules = Rules::defaults();
        let ticket = Ticket {
            received_at: None,
            ..classified(Priority::Low, false)
        };
        let early = explain(&ticket, &[], &rules, at(8));
        let late = explain(&ticket, &[], &rules, at(16));
        assert_eq!(early.clock_started_at, None);
        assert_eq!(early, explain(&ticket, &[], &rules, at(8)));
        assert_ne!(early.reasons, late.reasons);
    }

    #[test]
    fn deadlines_of_an_older_policy_are_said_to_be_kept() {
        let rules = Rules::defaults();
        let ticket = Ticket {
            deadlines_policy_version: Some("older".to_owned()),
            deadlines_calendar_version: Some("cal".to_owned()),
            ..classified(Priority::Medium, false)
        };
        let explained = explain(&ticket, &[], &rules, at(12));
        assert_eq!(explained.policy_version, "older");
        assert_eq!(explained.calendar_version, "cal");
        assert!(explained
            .reasons
            .last()
            .is_some_and(|reason| reason.contains("under policy version older")));
    }
}
