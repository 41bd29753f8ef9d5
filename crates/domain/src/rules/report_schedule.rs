//! When the scheduled reports are due: a month's report on the first working day of the month
//! after it, a quarter's on the first working day of the quarter after it, at the first
//! working minute of that day in the business calendar. Pure: "now" is an argument.
//!
//! A report stays due for the rest of that month, so a workflow that was stopped on the
//! first working day delivers when it runs again; a report is never due a month late (the
//! month before last is not looked at), so switching delivery on sends at most last month's
//! and last quarter's reports. Whoever acts on a due report records it once
//! (`report_scheduled` at the first version of the period's stream), which makes "due" safe to
//! ask again and again.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};

use super::BusinessCalendar;
use crate::config::ReportDeliveryConfig;

/// The period of a scheduled report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScheduledPeriod {
    /// A calendar month, `month` 1 to 12.
    Month { year: i32, month: u32 },
    /// A quarter, `quarter` 1 to 4 (Q1 is January to March).
    Quarter { year: i32, quarter: u32 },
}

impl ScheduledPeriod {
    /// `month` or `quarter`.
    pub fn kind(&self) -> &'static str {
        match self {
            ScheduledPeriod::Month { .. } => "month",
            ScheduledPeriod::Quarter { .. } => "quarter",
        }
    }
}

impl fmt::Display for ScheduledPeriod {
    /// `YYYY-MM` or `YYYY-Qn`, as `cloop report period --month|--quarter` takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduledPeriod::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            ScheduledPeriod::Quarter { year, quarter } => write!(f, "{year:04}-Q{quarter}"),
        }
    }
}

/// A report whose delivery is due, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueReport {
    pub period: ScheduledPeriod,
    pub due_at: DateTime<Utc>,
}

/// The first working day of `year`-`month` (local), `None` when the month has none (or the
/// month is not a valid one).
pub fn first_working_day(calendar: &BusinessCalendar, year: i32, month: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    first
        .iter_days()
        .take_while(|date| date.month() == month)
        .find(|date| calendar.is_working_day(*date))
}

/// The first working instant of `year`-`month`: the opening of its first working day.
pub fn first_working_instant(
    calendar: &BusinessCalendar,
    year: i32,
    month: u32,
) -> Option<DateTime<Utc>> {
    let day = first_working_day(calendar, year, month)?;
    let midnight = calendar
        .offset()
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()?
        .to_utc();
    Some(calendar.next_working_instant(midnight))
}

/// The month before `year`-`month`.
fn previous_month(year: i32, month: u32) -> (i32, u32) {
    if month <= 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    }
}

/// The reports of `delivery` due at `now`: last month's (when `monthly`) and, in the first
/// month of a quarter, last quarter's (when `quarterly`), once the month's first working
/// instant has come. Month before quarter.
pub fn due_reports(
    calendar: &BusinessCalendar,
    delivery: &ReportDeliveryConfig,
    now: DateTime<Utc>,
) -> Vec<DueReport> {
    let local = calendar.local_time(now);
    let (year, month) = (local.year(), local.month());
    let Some(due_at) = first_working_instant(calendar, year, month) else {
        return Vec::new();
    };
    if now < due_at {
        return Vec::new();
    }
    let mut due = Vec::new();
    let (last_year, last_month) = previous_month(year, month);
    if delivery.monthly {
        due.push(DueReport {
            period: ScheduledPeriod::Month {
                year: last_year,
                month: last_month,
            },
            due_at,
        });
    }
    if delivery.quarterly && month % 3 == 1 {
        due.push(DueReport {
            period: ScheduledPeriod::Quarter {
                year: last_year,
                quarter: last_month.div_ceil(3),
            },
            due_at,
        });
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CalendarConfig, DomainConfig, ReportAttach};
    use crate::rules::Rules;

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

    fn both() -> ReportDeliveryConfig {
        ReportDeliveryConfig {
            monthly: true,
            quarterly: true,
            recipients: vec!["qian.manager".into()],
            ..ReportDeliveryConfig::default()
        }
    }

    #[test]
    fn the_first_working_day_skips_holidays_and_weekends() {
        let calendar = calendar();
        // 1 to 3 January 2026 are New Year holidays, the 4th is a Sunday.
        assert_eq!(
            first_working_day(&calendar, 2026, 1),
            Some(date(2026, 1, 5))
        );
        // 1 March 2026 is a Sunday.
        assert_eq!(
            first_working_day(&calendar, 2026, 3),
            Some(date(2026, 3, 2))
        );
        // National Day: 1 to 7 October 2026.
        assert_eq!(
            first_working_day(&calendar, 2026, 10),
            Some(date(2026, 10, 8))
        );
        // 1 April 2026 is a plain Wednesday.
        assert_eq!(
            first_working_day(&calendar, 2026, 4),
            Some(date(2026, 4, 1))
        );
        // The first working minute is the opening of the day, 09:00 local.
        assert_eq!(
            first_working_instant(&calendar, 2026, 3),
            Some(local(2026, 3, 2, 9, 0))
        );
    }

    #[test]
    fn a_make_up_working_day_on_the_first_counts() {
        let config = CalendarConfig {
            // 1 November 2026 is a Sunday, made a working day.
            workdays: vec!["2026-11-01".into()],
            ..CalendarConfig::default()
        };
        let calendar = BusinessCalendar::from_config(&config).expect("calendar");
        assert_eq!(
            first_working_day(&calendar, 2026, 11),
            Some(date(2026, 11, 1))
        );
        let none = CalendarConfig {
            holidays: vec!["2026-11-01..2026-11-30".into()],
            workdays: Vec::new(),
            ..CalendarConfig::default()
        };
        let calendar = BusinessCalendar::from_config(&none).expect("calendar");
        assert_eq!(first_working_day(&calendar, 2026, 11), None);
        assert!(due_reports(&calendar, &both(), local(2026, 11, 20, 10, 0)).is_empty());
    }

    #[test]
    fn reports_are_due_from_the_first_working_minute_for_the_rest_of_the_month() {
        let calendar = calendar();
        let delivery = both();
        assert!(due_reports(&calendar, &delivery, local(2026, 4, 1, 8, 59)).is_empty());
        let due = due_reports(&calendar, &delivery, local(2026, 4, 1, 9, 0));
        assert_eq!(
            due,
            vec![
                DueReport {
                    period: ScheduledPeriod::Month {
                        year: 2026,
                        month: 3
                    },
                    due_at: local(2026, 4, 1, 9, 0),
                },
                DueReport {
                    period: ScheduledPeriod::Quarter {
                        year: 2026,
                        quarter: 1
                    },
                    due_at: local(2026, 4, 1, 9, 0),
                },
            ]
        );
        assert_eq!(
            due_reports(&calendar, &delivery, local(2026, 4, 30, 23, 0)),
            due,
            "still due later in the month"
        );
        // May is no quarter's first month; the month before May is April.
        let may = due_reports(&calendar, &delivery, local(2026, 5, 6, 9, 0));
        assert_eq!(
            may.iter()
                .map(|due| due.period.to_string())
                .collect::<Vec<_>>(),
            vec!["2026-04"]
        );
        // Labour Day holidays: 1 to 5 May, so nothing on the 5th.
        assert!(due_reports(&calendar, &delivery, local(2026, 5, 5, 12, 0)).is_empty());
    }

    #[test]
    fn january_delivers_december_and_the_fourth_quarter_after_new_year() {
        let calendar = calendar();
        assert!(due_reports(&calendar, &both(), local(2026, 1, 2, 10, 0)).is_empty());
        let due = due_reports(&calendar, &both(), local(2026, 1, 5, 9, 30));
        let names: Vec<String> = due.iter().map(|due| due.period.to_string()).collect();
        assert_eq!(names, vec!["2025-12", "2025-Q4"]);
        assert_eq!(due[1].period.kind(), "quarter");
        let monthly_only = ReportDeliveryConfig {
            quarterly: false,
            ..both()
        };
        assert_eq!(
            due_reports(&calendar, &monthly_only, local(2026, 1, 5, 9, 30)).len(),
            1
        );
        assert!(due_reports(
            &calendar,
            &ReportDeliveryConfig::default(),
            local(2026, 1, 5, 9, 30)
        )
        .is_empty());
    }

    #[test]
    fn the_section_is_checked_and_left_out_of_the_version_when_off() {
        let plain = DomainConfig::default();
        let text = "[report_delivery]\nmonthly = true\nrecipients = [\"qian.manager\"]\n";
        let on = DomainConfig::from_toml_str(text).expect("valid");
        assert!(on.report_delivery.monthly);
        assert_ne!(on.effective_version(), plain.effective_version());
        let off =
            DomainConfig::from_toml_str("[report_delivery]\nmonthly = false\n").expect("valid");
        assert_eq!(off.effective_version(), plain.effective_version());
        let refused = |text: &str| match Rules::from_toml_str(text) {
            Err(crate::DomainError::Config { key, .. }) => key,
            other => panic!("expected a configuration error, got {other:?}"),
        };
        assert_eq!(
            refused("[report_delivery]\nmonthly = true\n"),
            "report_delivery.recipients"
        );
        assert_eq!(
            refused("[report_delivery]\nattach = \"link\"\n"),
            "report_delivery.console_url"
        );
        assert_eq!(
            refused("[report_delivery]\nconsole_url = \"console.example.com\"\n"),
            "report_delivery.console_url"
        );
        let link = DomainConfig::from_toml_str(
            "[report_delivery]\nattach = \"link\"\nconsole_url = \"https://console.example.com\"\n",
        )
        .expect("valid");
        assert_eq!(link.report_delivery.attach, ReportAttach::Link);
    }
}
