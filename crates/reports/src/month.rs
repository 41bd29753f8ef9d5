//! The calendar month a report covers, and its bounds as instants in the business calendar's
//! UTC offset.

use crate::ReportError;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    /// The month `month` (1 to 12) of `year` (1970 to 9999).
    pub fn new(year: i32, month: u32) -> Result<Self, ReportError> {
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(ReportError::InvalidMonth {
                text: format!("{year}-{month:02}"),
            });
        }
        Ok(Self { year, month })
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The month before this one.
    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub(crate) fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .expect("a validated year and month always have a first day")
    }

    /// The first instant of the month: local midnight of its first day at `offset`.
    pub fn start(self, offset: FixedOffset) -> DateTime<Utc> {
        let midnight = self.first_day().and_hms_opt(0, 0, 0).unwrap_or_default();
        offset
            .from_local_datetime(&midnight)
            .single()
            .map(|local| local.with_timezone(&Utc))
            .expect("a fixed offset maps every local time to exactly one instant")
    }

    /// The first instant after the month (the start of the next month).
    pub fn end(self, offset: FixedOffset) -> DateTime<Utc> {
        self.next().start(offset)
    }

    /// Whether `instant` falls in the month at `offset`.
    pub fn contains(self, offset: FixedOffset, instant: DateTime<Utc>) -> bool {
        self.start(offset) <= instant && instant < self.end(offset)
    }
}

impl FromStr for YearMonth {
    type Err = ReportError;

    fn from_str(text: &str) -> Result<Self, ReportError> {
        let invalid = || ReportError::InvalidMonth {
            text: text.to_owned(),
        };
        let trimmed = text.trim();
        let (year, month) = trimmed.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        Self::new(year, month).map_err(|_| invalid())
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_months() {
        let month: YearMonth = "2026-11".parse().unwrap();
        assert_eq!(month.to_string(), "2026-11");
        assert_eq!(month.previous().to_string(), "2026-10");
        assert_eq!(
            "2026-01"
                .parse::<YearMonth>()
                .unwrap()
                .previous()
                .to_string(),
            "2025-12"
        );
        assert_eq!(
            "2026-12".parse::<YearMonth>().unwrap().next().to_string(),
            "2027-01"
        );
        for bad in [
            "2026-13", "2026-00", "26-11", "2026/11", "", "2026-1", "abcd-ef",
        ] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn bounds_follow_the_offset() {
        let month: YearMonth = "2026-11".parse().unwrap();
        let china = FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(month.start(china).to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(month.end(china).to_rfc3339(), "2026-11-30T16:00:00+00:00");
        let late_october_utc = "2026-10-31T17:00:00Z".parse().unwrap();
        assert!(month.contains(china, late_october_utc));
        assert!(!month.contains(china, month.end(china)));
    }
}
