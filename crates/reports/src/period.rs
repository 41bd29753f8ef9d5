//! The period a report covers: a month (`2026-11`), a quarter (`2026-Q1`, its three months)
//! or any range of whole days (`2026-03-01` to `2026-03-15`, both included), with its bounds
//! as instants in the business calendar's UTC offset.

use crate::{ReportError, YearMonth};
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The longest range of days a report covers (a little more than a year).
pub const MAX_RANGE_DAYS: u64 = 400;

/// The period of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A calendar month.
    Month(YearMonth),
    /// A calendar quarter: `quarter` 1 to 4 of `year`.
    Quarter { year: i32, quarter: u32 },
    /// The days `from` to `to`, both included.
    Range { from: NaiveDate, to: NaiveDate },
}

impl Period {
    /// The period of a request: exactly one of `month` (`YYYY-MM`), `quarter` (`YYYY-Qn`) or
    /// `from` and `to` together (`YYYY-MM-DD`, both days included). Empty texts count as
    /// absent.
    pub fn from_parts(
        month: Option<&str>,
        quarter: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, ReportError> {
        match (given(month), given(quarter), given(from), given(to)) {
            (Some(month), None, None, None) => Ok(Period::Month(month.parse()?)),
            (None, Some(quarter), None, None) => Self::parse_quarter(quarter),
            (None, None, Some(from), Some(to)) => {
                Self::range(parse_day("from", from)?, parse_day("to", to)?)
            }
            (None, None, Some(_), None) => Err(invalid("to", "is required with from")),
            (None, None, None, Some(_)) => Err(invalid("from", "is required with to")),
            (None, None, None, None) => Err(invalid(
                "period",
                "is required: a month (YYYY-MM), a quarter (YYYY-Qn) or from and to (YYYY-MM-DD)",
            )),
            _ => Err(invalid(
                "period",
                "give only one of a month, a quarter, or from and to",
            )),
        }
    }

    /// A quarter written `YYYY-Qn`, n from 1 to 4.
    pub fn parse_quarter(text: &str) -> Result<Self, ReportError> {
        let reason = "must be YYYY-Qn with n from 1 to 4, e.g. 2026-Q1";
        let (year, quarter) = text
            .trim()
            .split_once("-Q")
            .or_else(|| text.trim().split_once("-q"))
            .ok_or_else(|| invalid("quarter", reason))?;
        let year: i32 = year.parse().map_err(|_| invalid("quarter", reason))?;
        let quarter: u32 = quarter.parse().map_err(|_| invalid("quarter", reason))?;
        if !(1..=4).contains(&quarter) || !(1970..=9999).contains(&year) {
            return Err(invalid("quarter", reason));
        }
        Ok(Period::Quarter { year, quarter })
    }

    /// The days `from` to `to`, both included, at most [`MAX_RANGE_DAYS`] of them.
    pub fn range(from: NaiveDate, to: NaiveDate) -> Result<Self, ReportError> {
        if to < from {
            return Err(invalid("to", "must not be before from"));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_RANGE_DAYS as i64 {
            return Err(invalid(
                "to",
                format!("a range covers at most {MAX_RANGE_DAYS} days, this one {days}"),
            ));
        }
        if from.year() < 1970 || to.year() > 9998 {
            return Err(invalid("from", "must be between 1970 and 9998"));
        }
        Ok(Period::Range { from, to })
    }

    /// The first day of the period.
    pub fn first_day(self) -> NaiveDate {
        match self {
            Period::Month(month) => month.first_day(),
            Period::Quarter { .. } => self.months()[0].first_day(),
            Period::Range { from, .. } => from,
        }
    }

    /// The day after the period's last day.
    pub fn end_day(self) -> NaiveDate {
        match self {
            Period::Month(month) => month.next().first_day(),
            Period::Quarter { .. } => self.months()[2].next().first_day(),
            Period::Range { to, .. } => to + Days::new(1),
        }
    }

    /// The first instant of the period: local midnight of its first day at `offset`.
    pub fn start(self, offset: FixedOffset) -> DateTime<Utc> {
        midnight(self.first_day(), offset)
    }

    /// The first instant after the period.
    pub fn end(self, offset: FixedOffset) -> DateTime<Utc> {
        midnight(self.end_day(), offset)
    }

    /// The months a quarter (three) or a month (one) is made of; none for a range.
    pub fn months(self) -> Vec<YearMonth> {
        match self {
            Period::Month(month) => vec![month],
            Period::Quarter { year, quarter } => (0..3)
                .filter_map(|index| YearMonth::new(year, (quarter - 1) * 3 + 1 + index).ok())
                .collect(),
            Period::Range { .. } => Vec::new(),
        }
    }

    /// The period before, to compare with: the month before a month, the quarter before a
    /// quarter, the same number of days before a range.
    pub fn previous(self) -> Self {
        match self {
            Period::Month(month) => Period::Month(month.previous()),
            Period::Quarter { year, quarter: 1 } => Period::Quarter {
                year: year - 1,
                quarter: 4,
            },
            Period::Quarter { year, quarter } => Period::Quarter {
                year,
                quarter: quarter - 1,
            },
            Period::Range { from, to } => {
                let days = Days::new((to - from).num_days().unsigned_abs() + 1);
                Period::Range {
                    from: from - days,
                    to: to - days,
                }
            }
        }
    }

    /// `month`, `quarter` or `range`.
    pub fn kind(self) -> &'static str {
        match self {
            Period::Month(_) => "month",
            Period::Quarter { .. } => "quarter",
            Period::Range { .. } => "range",
        }
    }
}

/// A text of a request, `None` when absent or blank.
fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

fn invalid(field: &str, reason: impl Into<String>) -> ReportError {
    ReportError::InvalidPeriod {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn parse_day(field: &str, text: &str) -> Result<NaiveDate, ReportError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            format!("{text:?} must be a day YYYY-MM-DD, e.g. 2026-03-01"),
        )
    })
}

fn midnight(day: NaiveDate, offset: FixedOffset) -> DateTime<Utc> {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    offset
        .from_local_datetime(&local)
        .single()
        .map(|local| local.with_timezone(&Utc))
        .expect("a fixed offset maps every local time to exactly one instant")
}

impl fmt::Display for Period {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(month) => write!(formatter, "{month}"),
            Period::Quarter { year, quarter } => write!(formatter, "{year:04}-Q{quarter}"),
            Period::Range { from, to } => write!(formatter, "{from}..{to}"),
        }
    }
}

impl FromStr for Period {
    type Err = ReportError;

    /// `YYYY-MM`, `YYYY-Qn` or `YYYY-MM-DD..YYYY-MM-DD` (as [`Period`] prints itself).
    fn from_str(text: &str) -> Result<Self, ReportError> {
        let text = text.trim();
        if let Some((from, to)) = text.split_once("..") {
            Period::from_parts(None, None, Some(from), Some(to))
        } else if text.contains(['Q', 'q']) {
            Period::parse_quarter(text)
        } else {
            Period::from_parts(Some(text), None, None, None)
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn china() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).expect("an offset")
    }

    #[test]
    fn quarters_have_three_months_and_local_bounds() {
        let quarter = Period::from_parts(None, Some("2026-Q1"), None, None).unwrap();
        assert_eq!(quarter.to_string(), "2026-Q1");
        let months: Vec<String> = quarter.months().iter().map(ToString::to_string).collect();
        assert_eq!(months, ["2026-01", "2026-02", "2026-03"]);
        assert_eq!(
            quarter.start(china()).to_rfc3339(),
            "2025-12-31T16:00:00+00:00"
        );
        assert_eq!(
            quarter.end(china()).to_rfc3339(),
            "2026-03-31T16:00:00+00:00"
        );
        assert_eq!(quarter.previous().to_string(), "2025-Q4");
        assert_eq!(
            "2026-Q4".parse::<Period>().unwrap().months()[2].to_string(),
            "2026-12"
        );
    }

    #[test]
    fn ranges_include_both_days() {
        let range = Period::from_parts(None, None, Some("2026-03-01"), Some("2026-03-10")).unwrap();
        assert_eq!(range.to_string(), "2026-03-01..2026-03-10");
        assert_eq!(
            range.start(china()).to_rfc3339(),
            "2026-02-28T16:00:00+00:00"
        );
        assert_eq!(range.end(china()).to_rfc3339(), "2026-03-10T16:00:00+00:00");
        assert_eq!(range.previous().to_string(), "2026-02-19..2026-02-28");
        assert_eq!(range.to_string().parse::<Period>().unwrap(), range);
        let one_day = Period::from_parts(None, None, Some("2026-03-01"), Some("2026-03-01"));
        assert!(one_day.is_ok());
    }

    #[test]
    fn bad_periods_name_the_field() {
        // month, quarter, from, to, and the field the refusal names.
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
        );
        let cases: [Case<'_>; 7] = [
            (None, None, None, None, "period"),
            (Some("2026-03"), Some("2026-Q1"), None, None, "period"),
            (None, Some("2026-Q5"), None, None, "quarter"),
            (None, Some("2026Q1"), None, None, "quarter"),
            (None, None, Some("2026-03-10"), Some("2026-03-01"), "to"),
            (None, None, Some("2026-03-01"), None, "to"),
            (None, None, Some("2026-3-1x"), Some("2026-03-01"), "from"),
        ];
        for (month, quarter, from, to, field) in cases {
            match Period::from_parts(month, quarter, from, to) {
                Err(ReportError::InvalidPeriod { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{month:?} {quarter:?} {from:?} {to:?}: {other:?}"),
            }
        }
        assert!(matches!(
            Period::from_parts(Some("2026-13"), None, None, None),
            Err(ReportError::InvalidMonth { .. })
        ));
        assert!(Period::from_parts(None, None, Some("2025-01-01"), Some("2026-12-31")).is_err());
    }
}
