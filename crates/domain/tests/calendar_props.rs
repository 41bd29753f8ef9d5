//! Property tests of the business calendar and the SLA deadlines built on it: deadlines in
//! working time stay inside working hours, working time round-trips, more time never gives an
//! earlier deadline, and the arithmetic stays fast over long spans.

use chrono::{DateTime, TimeDelta, Utc};
use domain::rules::calendar::BusinessCalendar;
use domain::rules::config::{CalendarConfig, DomainConfig};
use domain::rules::Rules;
use domain::types::{Classification, ContentType, Kind, Policy, Priority, Scope};
use proptest::prelude::*;

fn default_calendar() -> BusinessCalendar {
    BusinessCalendar::from_config(&CalendarConfig::default()).expect("default calendar")
}

/// A calendar without a lunch break, with a Friday-Saturday weekend and an odd offset, so the
/// properties are not tied to the defaults.
fn other_calendar() -> BusinessCalendar {
    BusinessCalendar::from_config(&CalendarConfig {
        utc_offset: "-03:30".into(),
        working_hours: vec!["07:30-16:00".into()],
        weekend: vec!["fri".into(), "sat".into()],
        ..CalendarConfig::default()
    })
    .expect("valid calendar")
}

/// Instants from late 2025 to early 2027, at second resolution, so the 2026 holidays matter.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (1_760_000_000i64..1_800_000_000i64)
        .prop_map(|seconds| DateTime::from_timestamp(seconds, 0).expect("in range"))
}

/// Working durations from one second to about 60 working days.
fn duration() -> impl Strategy<Value = TimeDelta> {
    (1i64..60 * 8 * 3600).prop_map(TimeDelta::seconds)
}

/// Whether `deadline` lies inside a working period or exactly at the close of one.
fn inside_working_hours(calendar: &BusinessCalendar, deadline: DateTime<Utc>) -> bool {
    calendar.is_working_instant(deadline)
        || calendar.is_working_instant(deadline - TimeDelta::nanoseconds(1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_working_time_deadline_never_falls_outside_working_hours(
        start in instant(),
        duration in duration(),
    ) {
        for calendar in [default_calendar(), other_calendar()] {
            let deadline = calendar.add_working_time(start, duration);
            prop_assert!(
                inside_working_hours(&calendar, deadline),
                "{} + {} = {} is outside working hours",
                start, duration, deadline
            );
            prop_assert!(deadline > start);
        }
    }

    #[test]
    fn working_time_between_undoes_add_working_time(start in instant(), duration in duration()) {
        for calendar in [default_calendar(), other_calendar()] {
            let deadline = calendar.add_working_time(start, duration);
            prop_assert_eq!(calendar.working_time_between(start, deadline), duration);
        }
    }

    #[test]
    fn more_working_time_never_gives_an_earlier_deadline(
        start in instant(),
        shorter in duration(),
        extra in 0i64..5 * 8 * 3600,
    ) {
        let calendar = default_calendar();
        let longer = shorter + TimeDelta::seconds(extra);
        prop_assert!(
            calendar.add_working_time(start, longer) >= calendar.add_working_time(start, shorter)
        );
    }

    #[test]
    fn a_later_start_never_gives_an_earlier_deadline(
        start in instant(),
        delay in 0i64..10 * 24 * 3600,
        duration in duration(),
    ) {
        let calendar = default_calendar();
        let later = start + TimeDelta::seconds(delay);
        prop_assert!(
            calendar.add_working_time(later, duration) >= calendar.add_working_time(start, duration)
        );
    }

    #[test]
    fn working_days_land_inside_working_hours_and_count_whole_days(
        start in instant(),
        days in 0u32..40,
    ) {
        let calendar = default_calendar();
        let deadline = calendar.add_working_days(start, days);
        prop_assert!(calendar.is_working_instant(deadline));
        prop_assert_eq!(
            calendar.working_time_between(start, deadline),
            calendar.working_day_length() * i32::try_from(days).expect("small")
        );
        prop_assert!(calendar.add_working_days(start, days + 1) > deadline);
    }

    #[test]
    fn working_time_between_is_additive(
        first in instant(),
        gap_one in 0i64..20 * 24 * 3600,
        gap_two in 0i64..20 * 24 * 3600,
    ) {
        let calendar = default_calendar();
        let second = first + TimeDelta::seconds(gap_one);
        let third = second + TimeDelta::seconds(gap_two);
        prop_assert_eq!(
            calendar.working_time_between(first, third),
            calendar.working_time_between(first, second)
                + calendar.working_time_between(second, third)
        );
    }

    #[test]
    fn sla_deadlines_are_ordered_and_warnings_come_first(
        received in instant(),
        priority in prop::sample::select(Priority::ALL.to_vec()),
        kind in prop::sample::select(Kind::ALL.to_vec()),
        complex in any::<bool>(),
    ) {
        let rules = Rules::defaults();
        let classification = Classification {
            kind,
            content_type: ContentType::Product,
            priority,
            scope: Scope::Local,
            keywords: Vec::new(),
            confidence: 1.0,
            confident: true,
            complex,
            terms: Vec::new(),
        };
        let deadlines = rules.deadlines(received, &classification);
        prop_assert!(received < deadlines.warn_respond_at);
        prop_assert!(deadlines.warn_respond_at < deadlines.respond_by);
        prop_assert!(received < deadlines.warn_resolve_at);
        prop_assert!(deadlines.warn_resolve_at < deadlines.resolve_by);
        prop_assert!(deadlines.respond_by <= deadlines.resolve_by);
    }
}

#[test]
fn long_spans_are_computed_without_walking_minutes() {
    // A year of working time and working days, many times over, well inside a test budget.
    let calendar = default_calendar();
    let start = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01");
    let begun = std::time::Instant::now();
    for offset in 0..1_000 {
        let from = start + TimeDelta::minutes(offset * 37);
        let deadline = calendar.add_working_time(from, TimeDelta::hours(2_000));
        assert_eq!(
            calendar.working_time_between(from, deadline),
            TimeDelta::hours(2_000)
        );
        calendar.add_working_days(from, 250);
    }
    let elapsed = begun.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "3,000 year-long computations took {elapsed:?}"
    );
}

#[test]
fn a_configuration_without_a_lunch_break_works_end_to_end() {
    let mut config = DomainConfig::default();
    config.calendar.working_hours = vec!["09:00-18:00".into()];
    let rules = Rules::new(config).expect("valid");
    assert_eq!(rules.calendar().working_day_length(), TimeDelta::hours(9));
}
