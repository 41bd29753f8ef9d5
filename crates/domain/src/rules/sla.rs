//! The SLA policy: respond and resolve deadlines per priority, the complaint and complex-case
//! row, warning instants, escalation levels and pauses.
//!
//! How a complaint combines with its priority: both rows apply and each deadline is the
//! stricter (earlier) of the two. An urgent complaint is therefore due within 1 hour and 24
//! hours, a low one within 48 hours and 5 working days. Complex cases take the complaint row
//! the same way, whatever their kind.
//!
//! The VIP row combines the same way: for the tickets of a VIP customer (the staff tag `vip`,
//! carried on the ticket as [`crate::ticket::Ticket::vip`]) each deadline is the stricter of
//! the VIP row and what applies otherwise (the priority row, and the complaint row where it
//! applies). A VIP's medium problem is due within 12 hours and 36 hours by default; an urgent
//! one keeps the urgent row's 1 hour and 24 hours.

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{Allowance, Clock, SlaConfig, SlaRow, TimeUnit};
use crate::rules::calendar::BusinessCalendar;
use crate::types::{Classification, Deadline, Deadlines, Priority, Role};

/// Which row of the SLA table a deadline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowUsed {
    Priority(Priority),
    Complaint,
    Vip,
}

impl RowUsed {
    fn describe(self) -> String {
        match self {
            RowUsed::Priority(priority) => format!("the {priority} row"),
            RowUsed::Complaint => "the complaint and complex-case row".to_owned(),
            RowUsed::Vip => "the vip row".to_owned(),
        }
    }
}

/// One computed deadline with where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineDetail {
    pub which: Deadline,
    pub due: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    pub allowance: Allowance,
    pub row: RowUsed,
}

/// The SLA policy compiled from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    config: SlaConfig,
}

/// Moves a 24x7 deadline for a pause from `paused_from` to `paused_to`: the time that was
/// left at the start of the pause is counted again from its end, so the deadline moves by the
/// length of the pause. A pause that starts at or after the deadline changes nothing.
pub fn shift_for_pause(
    deadline: DateTime<Utc>,
    paused_from: DateTime<Utc>,
    paused_to: DateTime<Utc>,
) -> DateTime<Utc> {
    if paused_from >= deadline || paused_to <= paused_from {
        return deadline;
    }
    deadline
        .checked_add_signed(paused_to - paused_from)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `share` of `duration`, rounded to the millisecond.
fn scale(duration: TimeDelta, share: f64) -> TimeDelta {
    TimeDelta::milliseconds((duration.num_milliseconds() as f64 * share).round() as i64)
}

/// Adds a 24x7 duration, saturating at the end of time.
fn add_saturating(start: DateTime<Utc>, duration: TimeDelta) -> DateTime<Utc> {
    start
        .checked_add_signed(duration)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl SlaPolicy {
    /// Wraps a validated SLA configuration.
    pub fn new(config: &SlaConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    /// The configuration this policy was built from.
    pub fn config(&self) -> &SlaConfig {
        &self.config
    }

    /// The instant `allowance` after `start`, on the allowance's clock.
    pub fn due(
        &self,
        calendar: &BusinessCalendar,
        start: DateTime<Utc>,
        allowance: &Allowance,
    ) -> DateTime<Utc> {
        let amount = i64::from(allowance.amount);
        match (allowance.effective_clock(), allowance.unit) {
            (Clock::AroundTheClock, TimeUnit::Seconds) => {
                add_saturating(start, TimeDelta::seconds(amount))
            }
            (Clock::AroundTheClock, TimeUnit::Minutes) => {
                add_saturating(start, TimeDelta::minutes(amount))
            }
            (Clock::AroundTheClock, TimeUnit::Hours) => {
                add_saturating(start, TimeDelta::hours(amount))
            }
            (Clock::AroundTheClock, _) => add_saturating(start, TimeDelta::days(amount)),
            (Clock::Working, TimeUnit::Seconds) => {
                calendar.add_working_time(start, TimeDelta::seconds(amount))
            }
            (Clock::Working, TimeUnit::Minutes) => {
                calendar.add_working_time(start, TimeDelta::minutes(amount))
            }
            (Clock::Working, TimeUnit::Hours | TimeUnit::WorkingHours) => {
                calendar.add_working_time(start, TimeDelta::hours(amount))
            }
            (Clock::Working, TimeUnit::Days | TimeUnit::WorkingDays) => {
                calendar.add_working_days(start, allowance.amount)
            }
        }
    }

    /// The instant at which the warning share of the time from `start` to `due` has passed,
    /// counted on the same clock.
    pub fn warn_at(
        &self,
        calendar: &BusinessCalendar,
        start: DateTime<Utc>,
        due: DateTime<Utc>,
        clock: Clock,
    ) -> DateTime<Utc> {
        let share = self.config.warning_threshold;
        match clock {
            Clock::AroundTheClock => add_saturating(start, scale(due - start, share)),
            Clock::Working => {
                let allowed = calendar.working_time_between(start, due);
                calendar
                    .add_working_time(start, scale(allowed, share))
                    .min(due)
            }
        }
    }

    /// Whether the complaint and complex-case row applies to this classification.
    pub fn complaint_row_applies(&self, classification: &Classification) -> bool {
        classification.complex || self.config.complaint_kinds.contains(&classification.kind)
    }

    /// Both deadlines with the row each came from; `vip` when the ticket's customer is a VIP.
    pub fn details(
        &self,
        calendar: &BusinessCalendar,
        received_at: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
    ) -> [DeadlineDetail; 2] {
        let priority_row = self.config.row(classification.priority);
        let complaint = self.complaint_row_applies(classification);
        let extra_rows = [
            (complaint, &self.config.complaint, RowUsed::Complaint),
            (vip, &self.config.vip, RowUsed::Vip),
        ];
        let pick = |which: Deadline, choose: fn(&SlaRow) -> &Allowance| {
            let mut allowance = *choose(priority_row);
            let mut row = RowUsed::Priority(classification.priority);
            let mut due = self.due(calendar, received_at, &allowance);
            // Each further row that applies wins where it is strictly earlier.
            for (applies, extra, used) in extra_rows {
                if !applies {
                    continue;
                }
                let extra_allowance = *choose(extra);
                let extra_due = self.due(calendar, received_at, &extra_allowance);
                if extra_due < due {
                    allowance = extra_allowance;
                    row = used;
                    due = extra_due;
                }
            }
            let warn_at = self.warn_at(calendar, received_at, due, allowance.effective_clock());
            DeadlineDetail {
                which,
                due,
                warn_at,
                allowance,
                row,
            }
        };
        [
            pick(Deadline::Respond, |row| &row.respond),
            pick(Deadline::Resolve, |row| &row.resolve),
        ]
    }

    /// The deadlines for a ticket received at `received_at` (of a VIP customer when `vip`).
    pub fn deadlines(
        &self,
        calendar: &BusinessCalendar,
        received_at: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
        policy_version: &str,
    ) -> Deadlines {
        let [respond, resolve] = self.details(calendar, received_at, classification, vip);
        Deadlines {
            respond_by: respond.due,
            resolve_by: resolve.due,
            warn_respond_at: respond.warn_at,
            warn_resolve_at: resolve.warn_at,
            policy_version: policy_version.to_owned(),
            calendar_version: calendar.version().to_owned(),
        }
    }

    /// The clock a deadline of this classification runs on (to shift it for a pause).
    pub fn clock_for(
        &self,
        calendar: &BusinessCalendar,
        received_at: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
        which: Deadline,
    ) -> Clock {
        let [respond, resolve] = self.details(calendar, received_at, classification, vip);
        match which {
            Deadline::Respond => respond.allowance.effective_clock(),
            Deadline::Resolve => resolve.allowance.effective_clock(),
        }
    }

    /// When escalation `level` (1 = first) is reached for a deadline breached at `breached_at`,
    /// and whom it notifies; `None` past the last level.
    pub fn escalation(
        &self,
        calendar: &BusinessCalendar,
        breached_at: DateTime<Utc>,
        level: usize,
    ) -> Option<(Role, DateTime<Utc>)> {
        let configured = self.config.escalation.get(level.checked_sub(1)?)?;
        let at = if configured.after_breach.amount == 0 {
            breached_at
        } else {
            self.due(calendar, breached_at, &configured.after_breach)
        };
        Some((configured.notify, at))
    }

    /// Human-readable reasons for a ticket's deadlines, for `cloop tickets sla ID`.
    pub fn explain(
        &self,
        calendar: &BusinessCalendar,
        received_at: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
        policy_version: &str,
    ) -> Vec<String> {
        let local = |instant: DateTime<Utc>| {
            calendar
                .local_time(instant)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        };
        let mut lines = vec![
            format!(
                "received at {}; priority {}, kind {}{}",
                local(received_at),
                classification.priority,
                classification.kind,
                if classification.complex {
                    ", complex case"
                } else {
                    ""
                }
            ),
            match (self.complaint_row_applies(classification), vip) {
                (true, false) => "the complaint and complex-case row applies as well: each \
                                  deadline is the stricter of the two rows"
                    .to_owned(),
                (false, true) => "the customer is a VIP, the vip row applies as well: each \
                                  deadline is the stricter of the two rows"
                    .to_owned(),
                (true, true) => "the complaint and complex-case row applies as well, and the \
                                 customer is a VIP, so does the vip row: each deadline is the \
                                 strictest of the three rows"
                    .to_owned(),
                (false, false) => format!("only the {} row applies", classification.priority),
            },
        ];
        for detail in self.details(calendar, received_at, classification, vip) {
            let working = calendar.working_time_between(received_at, detail.due);
            lines.push(format!(
                "{} by {}: {} from {}; {} of working time counted",
                detail.which,
                local(detail.due),
                detail.allowance.describe(),
                detail.row.describe(),
                format_duration(working),
            ));
            lines.push(format!(
                "{} warning at {} ({}% of the allowed time)",
                detail.which,
                local(detail.warn_at),
                (self.config.warning_threshold * 100.0).round()
            ));
        }
        lines.push(format!(
            "waiting for the customer {} the clock",
            if self.config.allow_customer_pause {
                "pauses"
            } else {
                "does not pause"
            }
        ));
        lines.push(format!(
            "policy version {policy_version}, calendar version {}",
            calendar.version()
        ));
        lines
    }
}

/// Renders a duration as "3 h 20 min".
pub fn format_duration(duration: TimeDelta) -> String {
    let minutes = duration.num_minutes();
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{} s", duration.num_seconds()),
        (0, minutes) => format!("{minutes} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CalendarConfig;
    use crate::types::{ContentType, Kind, Scope};
    use chrono::TimeZone;

    #[test]
    fn an_allowance_in_seconds_counts_seconds_around_the_clock() {
        let calendar =
            BusinessCalendar::from_config(&CalendarConfig::default()).expect("default calendar");
        let mut config = SlaConfig::default();
        config.medium.respond = Allowance::new(4, TimeUnit::Seconds, Clock::AroundTheClock);
        config.medium.resolve = Allowance::new(30, TimeUnit::Seconds, Clock::AroundTheClock);
        config.warning_threshold = 0.5;
        let policy = SlaPolicy::new(&config);
        let received_at = Utc
            .with_ymd_and_hms(2026, 3, 14, 23, 0, 0)
            .single()
            .expect("valid instant");
        let classification = Classification {
            kind: Kind::Problem,
            content_type: ContentType::Product,
            priority: Priority::Medium,
            scope: Scope::Local,
            keywords: Vec::new(),
            confidence: 1.0,
            confident: true,
            complex: false,
            terms: Vec::new(),
        };
        let deadlines = policy.deadlines(&calendar, received_at, &classification, false, "v1");
        assert_eq!(deadlines.respond_by, received_at + TimeDelta::seconds(4));
        assert_eq!(
            deadlines.warn_respond_at,
            received_at + TimeDelta::seconds(2)
        );
        assert_eq!(deadlines.resolve_by, received_at + TimeDelta::seconds(30));
        assert_eq!(format_duration(TimeDelta::seconds(4)), "4 s");
        assert_eq!(
            Allowance::new(4, TimeUnit::Seconds, Clock::AroundTheClock).describe(),
            "4 seconds on the 24x7 clock"
        );
    }
}
