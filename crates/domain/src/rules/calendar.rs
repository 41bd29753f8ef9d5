//! The business calendar: working hours, weekends, public holidays and make-up working days
//! at a fixed UTC offset, and deadline arithmetic in working time.
//!
//! Working periods are half-open on the clock (`[09:00, 12:00)`), so an instant at 12:00 is
//! not a working instant, but a deadline counted in working time may land exactly on the end
//! of a period ("by 18:00"). Every computation walks day by day and skips whole non-working
//! days; nothing loops over minutes.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday,
};

use crate::config::{short_hash, CalendarConfig};
use crate::error::DomainError;

/// The business calendar compiled from [`CalendarConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCalendar {
    offset: FixedOffset,
    /// Working periods of a working day as offsets from local midnight, sorted, disjoint.
    periods: Vec<(TimeDelta, TimeDelta)>,
    /// The working time of one full working day.
    working_day_length: TimeDelta,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekend: [bool; 7],
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
    version: String,
}

fn config_error(key: impl Into<String>, reason: impl Into<String>) -> DomainError {
    DomainError::Config {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Parses "+08:00", "-05:30", "+0800" or "Z" into a fixed offset.
pub fn parse_utc_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.chars().next()? {
        '+' => (1, &text[1..]),
        '-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if hours > 18 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Parses "HH:MM" (or "24:00") into an offset from midnight.
fn parse_clock_time(text: &str) -> Option<TimeDelta> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: i64 = hours.parse().ok()?;
    let minutes: i64 = minutes.parse().ok()?;
    if (hours == 24 && minutes == 0) || (hours < 24 && minutes < 60) {
        Some(TimeDelta::minutes(hours * 60 + minutes))
    } else {
        None
    }
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    let lowered = text.trim().to_ascii_lowercase();
    let short = lowered.get(..3)?;
    let weekday = match short {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    };
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    (lowered.len() == 3 || full.contains(&lowered.as_str())).then_some(weekday)
}

/// Parses "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD" (inclusive) into its dates.
fn parse_dates(key: &str, text: &str) -> Result<Vec<NaiveDate>, DomainError> {
    let parse_one = |part: &str| {
        NaiveDate::parse_from_str(part.trim(), "%Y-%m-%d").map_err(|_| {
            config_error(
                key,
                format!("{:?} is not a date (expected YYYY-MM-DD)", part.trim()),
            )
        })
    };
    let (first, last) = match text.split_once("..") {
        Some((first, last)) => (parse_one(first)?, parse_one(last)?),
        None => {
            let date = parse_one(text)?;
            (date, date)
        }
    };
    if last < first {
        return Err(config_error(
            key,
            format!("range {text:?} ends before it starts"),
        ));
    }
    if (last - first).num_days() > 366 {
        return Err(config_error(
            key,
            format!("range {text:?} is longer than a year"),
        ));
    }
    Ok(first.iter_days().take_while(|date| *date <= last).collect())
}

impl BusinessCalendar {
    /// Compiles and checks a calendar configuration; errors name the `calendar.*` key.
    pub fn from_config(config: &CalendarConfig) -> Result<Self, DomainError> {
        let offset = parse_utc_offset(&config.utc_offset).ok_or_else(|| {
            config_error(
                "calendar.utc_offset",
                format!(
                    "{:?} is not a UTC offset (expected e.g. +08:00)",
                    config.utc_offset
                ),
            )
        })?;
        if config.working_hours.is_empty() {
            return Err(config_error(
                "calendar.working_hours",
                "at least one working period is needed",
            ));
        }
        let mut periods = Vec::new();
        for (index, text) in config.working_hours.iter().enumerate() {
            let key = format!("calendar.working_hours[{index}]");
            let parsed = text
                .split_once('-')
                .and_then(|(start, end)| Some((parse_clock_time(start)?, parse_clock_time(end)?)));
            let Some((start, end)) = parsed else {
                return Err(config_error(
                    key,
                    format!("{text:?} is not a period (expected HH:MM-HH:MM)"),
                ));
            };
            if end <= start {
                return Err(config_error(
                    key,
                    format!("period {text:?} ends before it starts"),
                ));
            }
            if let Some(&(_, previous_end)) = periods.last() {
                if start < previous_end {
                    return Err(config_error(
                        key,
                        format!("period {text:?} overlaps or precedes the one before it"),
                    ));
                }
            }
            periods.push((start, end));
        }
        let working_day_length = periods
            .iter()
            .fold(TimeDelta::zero(), |sum, (start, end)| sum + (*end - *start));
        let mut weekend = [false; 7];
        for (index, text) in config.weekend.iter().enumerate() {
            let weekday = parse_weekday(text).ok_or_else(|| {
                config_error(
                    format!("calendar.weekend[{index}]"),
                    format!("{text:?} is not a day of the week (expected mon..sun)"),
                )
            })?;
            weekend[weekday.num_days_from_monday() as usize] = true;
        }
        if weekend.iter().all(|is_weekend| *is_weekend) {
            return Err(config_error(
                "calendar.weekend",
                "at least one day of the week must be a working day",
            ));
        }
        let mut holidays = BTreeSet::new();
        for (index, text) in config.holidays.iter().enumerate() {
            holidays.extend(parse_dates(&format!("calendar.holidays[{index}]"), text)?);
        }
        let mut workdays = BTreeSet::new();
        for (index, text) in config.workdays.iter().enumerate() {
            let key = format!("calendar.workdays[{index}]");
            for date in parse_dates(&key, text)? {
                if holidays.contains(&date) {
                    return Err(config_error(
                        key,
                        format!("{date} is also listed as a holiday"),
                    ));
                }
                workdays.insert(date);
            }
        }
        let version = match &config.version {
            Some(version) if !version.trim().is_empty() => version.trim().to_owned(),
            _ => format!(
                "calendar-{}",
                short_hash(&serde_json::to_string(config).unwrap_or_default())
            ),
        };
        Ok(Self {
            offset,
            periods,
            working_day_length,
            weekend,
            holidays,
            workdays,
            version,
        })
    }

    /// The calendar's version: the configured label or a short hash of its configuration.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The fixed offset of local business time.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// The working time of one full working day (8 hours by default).
    pub fn working_day_length(&self) -> TimeDelta {
        self.working_day_length
    }

    /// Whether `date` (local) is a working day: a make-up working day, or a weekday that is
    /// neither weekend nor holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.workdays.contains(&date) {
            return true;
        }
        !self.weekend[date.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains(&date)
    }

    /// The local date and the offset from local midnight of `instant`.
    fn local_parts(&self, instant: DateTime<Utc>) -> (NaiveDate, TimeDelta) {
        let local = instant.with_timezone(&self.offset).naive_local();
        (local.date(), local.time() - NaiveTime::MIN)
    }

    /// The instant at `since_midnight` after local midnight of `date`.
    fn instant_at(&self, date: NaiveDate, since_midnight: TimeDelta) -> DateTime<Utc> {
        let local: NaiveDateTime = date.and_time(NaiveTime::MIN) + since_midnight;
        let utc = local - TimeDelta::seconds(i64::from(self.offset.local_minus_utc()));
        DateTime::from_naive_utc_and_offset(utc, Utc)
    }

    /// Renders `instant` in the calendar's offset.
    pub fn local_time(&self, instant: DateTime<Utc>) -> DateTime<FixedOffset> {
        instant.with_timezone(&self.offset)
    }

    /// Whether `instant` lies inside a working period of a working day.
    pub fn is_working_instant(&self, instant: DateTime<Utc>) -> bool {
        let (date, time) = self.local_parts(instant);
        self.is_working_day(date)
            && self
                .periods
                .iter()
                .any(|(start, end)| *start <= time && time < *end)
    }

    /// The first working instant at or after `instant`.
    pub fn next_working_instant(&self, instant: DateTime<Utc>) -> DateTime<Utc> {
        let (mut date, mut time) = self.local_parts(instant);
        loop {
            if self.is_working_day(date) {
                for (start, end) in &self.periods {
                    if time < *end {
                        return if time >= *start {
                            instant
                        } else {
                            self.instant_at(date, *start)
                        };
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => return DateTime::<Utc>::MAX_UTC,
            }
            time = TimeDelta::zero();
        }
    }

    /// The instant at which `duration` of working time has passed since `start`. Starting
    /// outside working hours counts from the next opening; a positive duration may end
    /// exactly at the close of a period. A zero or negative duration gives the next working
    /// instant.
    pub fn add_working_time(&self, start: DateTime<Utc>, duration: TimeDelta) -> DateTime<Utc> {
        if duration <= TimeDelta::zero() {
            return self.next_working_instant(start);
        }
        let (mut date, mut time) = self.local_parts(start);
        let mut remaining = duration;
        loop {
            if self.is_working_day(date) {
                if time.is_zero() && remaining > self.working_day_length {
                    // A whole working day fits: take it in one step.
                    remaining -= self.working_day_length;
                } else {
                    for (period_start, period_end) in &self.periods {
                        if time >= *period_end {
                            continue;
                        }
                        let from = time.max(*period_start);
                        let available = *period_end - from;
                        if remaining <= available {
                            return self.instant_at(date, from + remaining);
                        }
                        remaining -= available;
                        time = *period_end;
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => return DateTime::<Utc>::MAX_UTC,
            }
            time = TimeDelta::zero();
        }
    }

    /// `days` working days after `start`: the same clock time on the `days`-th following
    /// working day, counted from the first working instant at or after `start` (so a ticket
    /// received at 20:00 on a Friday is due at 09:00 five working days after the Monday). The
    /// result is always inside working hours, because every working day has the same periods.
    pub fn add_working_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let opening = self.next_working_instant(start);
        if opening == DateTime::<Utc>::MAX_UTC {
            return opening;
        }
        let (mut date, time) = self.local_parts(opening);
        let mut counted = 0;
        while counted < days {
            match date.succ_opt() {
                Some(next) => date = next,
                None => return DateTime::<Utc>::MAX_UTC,
            }
            if self.is_working_day(date) {
                counted += 1;
            }
        }
        self.instant_at(date, time)
    }

    /// The working time between `from` and `to`; zero when `to` is not after `from`.
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        let (first_date, first_time) = self.local_parts(from);
        let (last_date, last_time) = self.local_parts(to);
        let mut total = TimeDelta::zero();
        let mut date = first_date;
        loop {
            if self.is_working_day(date) {
                let lower = if date == first_date {
                    first_time
                } else {
                    TimeDelta::zero()
                };
                let whole_day = date != first_date && date != last_date;
                if whole_day {
                    total += self.working_day_length;
                } else {
                    for (start, end) in &self.periods {
                        let begin = (*start).max(lower);
                        let finish = if date == last_date {
                            (*end).min(last_time)
                        } else {
                            *end
                        };
                        if finish > begin {
                            total += finish - begin;
                        }
                    }
                }
            }
            if date >= last_date {
                return total;
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => return total,
            }
        }
    }

    /// Moves a working-clock deadline for a pause from `paused_from` to `paused_to`: the
    /// working time that was left at the start of the pause is counted again from its end.
    /// A pause that starts at or after the deadline changes nothing.
    pub fn shift_for_pause(
        &self,
        deadline: DateTime<Utc>,
        paused_from: DateTime<Utc>,
        paused_to: DateTime<Utc>,
    ) -> DateTime<Utc> {
        if paused_from >= deadline || paused_to <= paused_from {
            return deadline;
        }
        let left = self.working_time_between(paused_from, deadline);
        self.add_working_time(paused_to, left).max(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar() -> BusinessCalendar {
        BusinessCalendar::from_config(&CalendarConfig::default()).expect("default calendar")
    }

    /// A local (+08:00) wall-clock instant.
    fn local(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        let text = format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:00+08:00");
        DateTime::parse_from_rfc3339(&text)
            .expect("valid local time")
            .to_utc()
    }

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
    }

    #[test]
    fn make_up_days_are_weekends_and_working_days() {
        let calendar = calendar();
        for (month, day) in [(2, 14), (2, 28), (4, 26), (5, 9), (9, 20), (10, 10)] {
            let make_up = date(2026, month, day);
            assert!(
                matches!(make_up.weekday(), Weekday::Sat | Weekday::Sun),
                "{make_up} should fall on a weekend"
            );
            assert!(
                calendar.is_working_day(make_up),
                "{make_up} is a make-up day"
            );
        }
    }

    #[test]
    fn holidays_weekends_and_weekdays() {
        let calendar = calendar();
        assert!(!calendar.is_working_day(date(2026, 1, 1)));
        assert!(!calendar.is_working_day(date(2026, 2, 18)));
        assert!(!calendar.is_working_day(date(2026, 10, 7)));
        assert!(!calendar.is_working_day(date(2026, 11, 21)), "a Saturday");
        assert!(calendar.is_working_day(date(2026, 11, 23)), "a Monday");
        assert!(
            calendar.is_working_day(date(2026, 10, 8)),
            "after National Day"
        );
    }

    #[test]
    fn working_instants_respect_lunch_and_closing() {
        let calendar = calendar();
        assert!(calendar.is_working_instant(local(2026, 11, 23, 9, 0)));
        assert!(calendar.is_working_instant(local(2026, 11, 23, 11, 59)));
        assert!(!calendar.is_working_instant(local(2026, 11, 23, 12, 0)));
        assert!(!calendar.is_working_instant(local(2026, 11, 23, 12, 30)));
        assert!(calendar.is_working_instant(local(2026, 11, 23, 13, 0)));
        assert!(!calendar.is_working_instant(local(2026, 11, 23, 18, 0)));
        assert!(!calendar.is_working_instant(local(2026, 11, 23, 8, 59)));
        assert!(
            !calendar.is_working_instant(local(2026, 11, 22, 10, 0)),
            "Sunday"
        );
    }

    #[test]
    fn adding_working_time_skips_lunch_nights_and_weekends() {
        let calendar = calendar();
        for (from, hours, expected) in [
            // Monday 11:00 + 2 h: one hour before lunch, one after.
            (local(2026, 11, 23, 11, 0), 2, local(2026, 11, 23, 14, 0)),
            // Friday 17:00 + 2 h: one hour on Friday, one on Monday.
            (local(2026, 11, 27, 17, 0), 2, local(2026, 11, 30, 10, 0)),
            // Saturday night counts from Monday's opening.
            (local(2026, 11, 28, 22, 0), 8, local(2026, 11, 30, 18, 0)),
            // Spring Festival: Friday Feb 13 17:00 + 2 h lands on the make-up Saturday Feb 14.
            (local(2026, 2, 13, 17, 0), 2, local(2026, 2, 14, 10, 0)),
            // Saturday Feb 14 18:00 + 1 h skips the whole holiday to Tuesday Feb 24.
            (local(2026, 2, 14, 18, 0), 1, local(2026, 2, 24, 10, 0)),
        ] {
            let reached = calendar.add_working_time(from, TimeDelta::hours(hours));
            assert_eq!(reached, expected, "{from} + {hours} h");
        }
    }

    #[test]
    fn adding_working_days_keeps_the_clock_time() {
        let calendar = calendar();
        // Monday 10:30 + 5 working days = next Monday 10:30.
        assert_eq!(
            calendar.add_working_days(local(2026, 11, 23, 10, 30), 5),
            local(2026, 11, 30, 10, 30)
        );
        // Friday 20:00: counting starts Monday 09:00.
        assert_eq!(
            calendar.add_working_days(local(2026, 11, 27, 20, 0), 5),
            local(2026, 12, 7, 9, 0)
        );
        // Across National Day: Sep 30 (Wed) 10:00 + 1 working day = Oct 8 (Thu) 10:00.
        assert_eq!(
            calendar.add_working_days(local(2026, 9, 30, 10, 0), 1),
            local(2026, 10, 8, 10, 0)
        );
    }

    #[test]
    fn working_time_between_counts_only_working_periods() {
        let calendar = calendar();
        assert_eq!(
            calendar.working_time_between(local(2026, 11, 23, 8, 0), local(2026, 11, 23, 20, 0)),
            TimeDelta::hours(8)
        );
        assert_eq!(
            calendar.working_time_between(local(2026, 11, 27, 17, 0), local(2026, 11, 30, 10, 0)),
            TimeDelta::hours(2)
        );
        assert_eq!(
            calendar.working_time_between(local(2026, 11, 30, 10, 0), local(2026, 11, 27, 17, 0)),
            TimeDelta::zero()
        );
        // A whole week: five working days.
        assert_eq!(
            calendar.working_time_between(local(2026, 11, 23, 0, 0), local(2026, 11, 30, 0, 0)),
            TimeDelta::hours(40)
        );
    }

    #[test]
    fn pauses_move_working_deadlines_by_the_working_time_left() {
        let calendar = calendar();
        let deadline = local(2026, 11, 24, 12, 0);
        // Paused Monday 17:00 (4 working hours left) to Tuesday 15:00.
        let shifted = calendar.shift_for_pause(
            deadline,
            local(2026, 11, 23, 17, 0),
            local(2026, 11, 24, 15, 0),
        );
        assert_eq!(shifted, local(2026, 11, 25, 10, 0));
        // A pause after the deadline changes nothing.
        assert_eq!(
            calendar.shift_for_pause(
                deadline,
                local(2026, 11, 25, 9, 0),
                local(2026, 11, 26, 9, 0)
            ),
            deadline
        );
    }

    #[test]
    fn bad_calendars_name_the_key() {
        let error_key = |config: CalendarConfig| match BusinessCalendar::from_config(&config) {
            Err(DomainError::Config { key, .. }) => key,
            other => panic!("expected a configuration error, got {other:?}"),
        };
        let defaults = CalendarConfig::default;
        for (config, key) in [
            (
                CalendarConfig {
                    holidays: vec!["2026-02-30".into()],
                    ..defaults()
                },
                "calendar.holidays[0]",
            ),
            (
                CalendarConfig {
                    working_hours: vec!["13:00-12:00".into()],
                    ..defaults()
                },
                "calendar.working_hours[0]",
            ),
            (
                CalendarConfig {
                    utc_offset: "Asia/Shanghai".into(),
                    ..defaults()
                },
                "calendar.utc_offset",
            ),
            (
                CalendarConfig {
                    weekend: words_all_week(),
                    ..defaults()
                },
                "calendar.weekend",
            ),
        ] {
            assert_eq!(error_key(config), key);
        }
    }

    fn words_all_week() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|day| (*day).to_owned())
            .collect()
    }

    #[test]
    fn offsets_parse_in_common_forms() {
        assert_eq!(parse_utc_offset("+08:00"), FixedOffset::east_opt(8 * 3600));
        assert_eq!(
            parse_utc_offset("-0530"),
            FixedOffset::east_opt(-(5 * 3600 + 1800))
        );
        assert_eq!(parse_utc_offset("Z"), FixedOffset::east_opt(0));
        assert_eq!(parse_utc_offset("+8"), None);
        assert_eq!(parse_utc_offset("+19:00"), None);
    }
}
