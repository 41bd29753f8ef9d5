//! The one conversion between `google.protobuf.Timestamp` and `chrono::DateTime<Utc>`.
//!
//! Every crate converts timestamps here, so a bad timestamp has one answer: [`instant`]
//! refuses it with a [`BadTimestamp`] saying why, and each caller maps that to its own error
//! naming the field ([`instant_from`] is the gRPC edges' one), or, where it only displays a
//! value, shows it as absent.

use chrono::{DateTime, Utc};
use domain::DomainError;
use prost_types::Timestamp;

/// Nanoseconds in a second: a timestamp's `nanos` lie in `0..NANOS_PER_SECOND`.
const NANOS_PER_SECOND: i32 = 1_000_000_000;

/// Why a protobuf timestamp is not an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadTimestamp {
    /// `nanos` is negative or a whole second or more.
    #[error("nanos {0} is outside 0..1000000000")]
    Nanos(i32),
    /// `seconds` lies outside the instants chrono represents.
    #[error("seconds {0} is outside the supported range of instants")]
    Seconds(i64),
}

/// A UTC instant as a protobuf timestamp, always a valid one: a leap second (which chrono
/// writes as nanos of 1e9 or more) becomes the last nanosecond of its second.
pub fn timestamp(instant: DateTime<Utc>) -> Timestamp {
    let nanos = i32::try_from(instant.timestamp_subsec_nanos()).unwrap_or(i32::MAX);
    Timestamp {
        seconds: instant.timestamp(),
        nanos: nanos.min(NANOS_PER_SECOND - 1),
    }
}

/// A protobuf timestamp as a UTC instant; a bad one ([`instant`]) is an invalid `field`, the
/// answer of every gRPC edge that reads a timestamp from a request.
pub fn instant_from(field: &str, timestamp: &Timestamp) -> Result<DateTime<Utc>, DomainError> {
    instant(timestamp)
        .map_err(|error| DomainError::invalid(field, format!("is not a valid timestamp: {error}")))
}

/// A protobuf timestamp as a UTC instant, or why it is not one.
pub fn instant(timestamp: &Timestamp) -> Result<DateTime<Utc>, BadTimestamp> {
    let nanos = u32::try_from(timestamp.nanos)
        .ok()
        .filter(|_| timestamp.nanos < NANOS_PER_SECOND)
        .ok_or(BadTimestamp::Nanos(timestamp.nanos))?;
    DateTime::<Utc>::from_timestamp(timestamp.seconds, nanos)
        .ok_or(BadTimestamp::Seconds(timestamp.seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip() {
        for (seconds, nanos) in [
            (0, 0),
            (1_700_000_000, 123_456_789),
            (-1, 999_999_999),
            (-62_135_596_800, 0),
            (253_402_300_799, 999_999_999),
        ] {
            let at = DateTime::<Utc>::from_timestamp(seconds, nanos).expect("valid instant");
            let wire = timestamp(at);
            assert_eq!(wire.seconds, seconds);
            assert_eq!(u32::try_from(wire.nanos).ok(), Some(nanos));
            assert_eq!(instant(&wire), Ok(at));
        }
    }

    #[test]
    fn a_leap_second_becomes_the_last_nanosecond_of_its_second() {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|day| day.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .expect("a leap second")
            .and_utc();
        let wire = timestamp(leap);
        assert_eq!(wire.nanos, 999_999_999);
        let back = instant(&wire).expect("valid");
        assert_eq!(back.timestamp(), leap.timestamp());
    }

    #[test]
    fn nanos_outside_a_second_are_refused() {
        for nanos in [-1, -5, i32::MIN, 1_000_000_000, 1_999_999_999, i32::MAX] {
            // 59 seconds past a minute is where chrono would read nanos >= 1e9 as a leap second.
            let bad = Timestamp { seconds: 59, nanos };
            assert_eq!(instant(&bad), Err(BadTimestamp::Nanos(nanos)));
        }
        let error = instant(&Timestamp {
            seconds: 0,
            nanos: -5,
        })
        .expect_err("negative nanos");
        assert_eq!(error.to_string(), "nanos -5 is outside 0..1000000000");
    }

    #[test]
    fn seconds_out_of_range_are_refused() {
        for seconds in [i64::MAX, i64::MIN, 1 << 50, -(1 << 50)] {
            let bad = Timestamp { seconds, nanos: 0 };
            assert_eq!(instant(&bad), Err(BadTimestamp::Seconds(seconds)));
        }
        assert!(instant(&Timestamp {
            seconds: i64::MAX,
            nanos: 0
        })
        .expect_err("out of range")
        .to_string()
        .contains(&i64::MAX.to_string()));
    }

    #[test]
    fn the_default_timestamp_is_the_epoch() {
        assert_eq!(
            instant(&Timestamp::default()),
            Ok(DateTime::<Utc>::UNIX_EPOCH)
        );
    }
}
